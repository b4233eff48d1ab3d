"""Quality alerts: a periodic scan raises them, a job per alert delivers it.

The scan (every ``RTK_ALERTS_SCAN_SECONDS`` while any app has an alert webhook) looks
at what changed in the last day, from the webhook's creation on: sessions that ended
(``session.ended``: the session's numbers and its worst peers by MOS) and peers whose
stats arrived (``peer.low_quality``: ``mos_quality`` below the app's threshold for its
number of intervals in a row). Each alert has a fixed id, kept in the outbox, so it is
raised once however often the scan runs. Its delivery is a job: a POST of the JSON
with ``rtk-alert-id`` (the idempotency id) and ``rtk-alert-signature``
(``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the webhook's secret>``),
retried with back-off on anything but a 2xx, up to ``RTK_JOB_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

import httpx
import msgspec

from rtk_sessions.analytics.alerts import average_mos, low_quality_run
from rtk_sessions.analytics.lifecycle import minutes_consumed_ms
from rtk_sessions.analytics.quality import Measured, intervals_of
from rtk_sessions.clock import iso_ms
from rtk_sessions.config import Settings
from rtk_sessions.ingest.stored import stats_samples
from rtk_sessions.store import alerts as store
from rtk_sessions.store.database import Database
from rtk_sessions.store.jobs import JobRow, complete, enqueue, enqueue_periodic
from rtk_sessions.store.stats import load_stats

SCAN = "alerts_scan"
DELIVERY = "alert_delivery"
LOOKBACK_MS = 86_400_000
DELIVERY_TIMEOUT_S = 10.0
WORST_PEERS = 3
log = logging.getLogger("rtk_sessions.alerts")


def queue_scan(db: Database, settings: Settings, now_ms: int) -> None:
    enqueue_periodic(db, SCAN, settings.job_max_attempts, now_ms)


def run_scan(db: Database, settings: Settings, job: JobRow, now_ms: int) -> None:
    for target in store.targets(db):
        app_pk = store.app_of(db, target)
        if app_pk is not None:
            since = max(target.created_ms, now_ms - LOOKBACK_MS)
            raised = _ended_sessions(db, settings, app_pk, target, since, now_ms)
            raised += _low_quality_peers(db, settings, app_pk, target, since, now_ms)
            for raised_id in raised:
                enqueue(
                    db,
                    kind=DELIVERY,
                    app_pk=app_pk,
                    session_id=raised_id,
                    params=msgspec.json.encode(
                        {"account_id": target.account_id, "app_id": target.app_id}
                    ).decode(),
                    max_attempts=settings.job_max_attempts,
                    now_ms=now_ms,
                )
    complete(db, job, now_ms)


def _ended_sessions(db, settings, app_pk, target, since, now_ms) -> list[str]:
    grace_ms = int(settings.session_grace_seconds * 1000)
    ended = store.ended_since(db, app_pk, since, now_ms, grace_ms)
    fresh = {alert_id("session.ended", s.session_id): s for s in ended}
    fresh = {k: s for k, s in fresh.items() if k not in store.raised(db, app_pk, list(fresh))}
    if not fresh:
        return []
    session_peers = store.peers_of(db, app_pk, [s.session_id for s in fresh.values()])
    measured = _measured(db, settings, app_pk, [p.peer_id for p in session_peers])
    quality = {peer_id: average_mos(m) for peer_id, m in measured.items()}
    raised = []
    for key, session in fresh.items():
        mine = [p for p in session_peers if p.session_id == session.session_id]
        scored = sorted(
            (quality[p.peer_id], p.peer_id, p) for p in mine if quality.get(p.peer_id) is not None
        )
        payload = {
            "id": key,
            "type": "session.ended",
            "account_id": target.account_id,
            "app_id": target.app_id,
            "session": {
                "id": session.session_id,
                "meeting_id": session.meeting_id,
                "title": session.meeting_title,
                "started_at": iso_ms(session.started_ms),
                "ended_at": iso_ms(session.closed_ms or session.tree_quiet_since_ms),
                "minutes_consumed": round(
                    minutes_consumed_ms(
                        session.closed_peer_ms, session.open_peers, session.open_join_sum_ms, now_ms
                    )
                    / 60_000,
                    4,
                ),
                "max_concurrent_participants": session.max_concurrent,
                "participants": len(mine),
            },
            "worst_peers": [
                {
                    "peer_id": p.peer_id,
                    "user_id": p.user_id,
                    "display_name": p.display_name,
                    "average_mos_quality": mos,
                }
                for mos, _, p in scored[:WORST_PEERS]
            ],
        }
        if store.record_alert(db, app_pk, key, "session.ended", _json(payload), now_ms):
            raised.append(key)
    return raised


def _low_quality_peers(db, settings, app_pk, target, since, now_ms) -> list[str]:
    candidates = store.peers_with_stats_since(db, app_pk, since)
    ids = {alert_id("peer.low_quality", p.session_id, p.peer_id): p for p in candidates}
    ids = {k: p for k, p in ids.items() if k not in store.raised(db, app_pk, list(ids))}
    if not ids:
        return []
    measured = _measured(db, settings, app_pk, [p.peer_id for p in ids.values()])
    raised = []
    for key, peer in ids.items():
        if peer.peer_id not in measured:
            continue
        run = low_quality_run(measured[peer.peer_id], target.mos_below, target.low_intervals)
        if run is None:
            continue
        payload = {
            "id": key,
            "type": "peer.low_quality",
            "account_id": target.account_id,
            "app_id": target.app_id,
            "session_id": peer.session_id,
            "peer_id": peer.peer_id,
            "user_id": peer.user_id,
            "display_name": peer.display_name,
            "mos_below": target.mos_below,
            "intervals": target.low_intervals,
            "track": {"kind": run.kind, "direction": run.direction},
            "from": iso_ms(run.start_ms),
            "to": iso_ms(run.end_ms),
            "mos_quality": list(run.scores),
        }
        if store.record_alert(db, app_pk, key, "peer.low_quality", _json(payload), now_ms):
            raised.append(key)
    return raised


def _measured(db, settings, app_pk, peer_ids) -> dict[str, Measured]:
    """Every interval of each peer's stored stats, for the peers that sent any."""
    stored = load_stats(db, app_pk, sorted(set(peer_ids)))
    period_s = settings.stats_period_seconds
    return {
        peer_id: intervals_of(stats_samples(stats), period_s) for peer_id, stats in stored.items()
    }


def alert_id(kind: str, *parts: str) -> str:
    """A fixed id per alert (the receiver's idempotency key); hashed when the ids it is
    made of would not fit in 256 characters."""
    plain = ":".join((kind, *parts))
    if len(plain) <= 256:
        return plain
    return f"{kind}:{hashlib.sha256(plain.encode()).hexdigest()}"


def signature(secret: str, body: bytes, unix_s: int) -> str:
    """``t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``: the receiver checks
    it and refuses an old ``t`` (a replayed delivery)."""
    mac = hmac.new(secret.encode(), f"{unix_s}.".encode() + body, hashlib.sha256)
    return f"t={unix_s},v1={mac.hexdigest()}"


def run_delivery(db: Database, settings: Settings, job: JobRow, now_ms: int) -> None:
    where = msgspec.json.decode(job.params)
    target = store.target_of(db, where["account_id"], where["app_id"])
    payload = store.alert_payload(db, job.app_pk, job.session_id)
    if target is None or payload is None:
        complete(db, job, now_ms)  # the webhook was removed: nothing to deliver to
        return
    body = payload.encode()
    headers = {
        "content-type": "application/json",
        "rtk-alert-id": job.session_id,
        "rtk-alert-signature": signature(target.secret, body, now_ms // 1000),
        "user-agent": "rtk-sessions-alerts",
    }
    try:
        answer = httpx.post(target.url, content=body, headers=headers, timeout=DELIVERY_TIMEOUT_S)
    except httpx.HTTPError as exc:
        raise ConnectionError(f"alert {job.session_id}: {type(exc).__name__}") from None
    if not answer.is_success:
        raise ConnectionError(f"alert {job.session_id}: the receiver answered {answer.status_code}")
    log.info("alert %s delivered (attempt %s)", job.session_id, job.attempts)
    complete(db, job, now_ms)


def _json(payload: dict) -> str:
    return msgspec.json.encode(payload).decode()
