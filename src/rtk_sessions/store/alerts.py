"""Quality alerts: where each app's go, what was raised (once each), and the reads
the scan needs (sessions that ended lately, peers whose stats arrived lately)."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
from sqlalchemy import func, select

from rtk_sessions.store.app_settings import PerAppRows
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.prepared import Snapshot
from rtk_sessions.store.rows import SessionRow, row_of, select_rows
from rtk_sessions.store.sessions import ended_condition
from rtk_sessions.store.stats import recent_stats_peers
from rtk_sessions.store.tables import alert_outbox, alert_webhooks, peers, sessions


class AlertTarget(msgspec.Struct, frozen=True):
    account_id: str
    app_id: str
    url: str
    secret: str  # signs the deliveries; never logged
    mos_below: float
    low_intervals: int
    created_ms: int


@dataclass(frozen=True, slots=True)
class PeerOfSession:
    session_id: str
    peer_id: str
    user_id: str | None
    display_name: str | None


_TARGETS = PerAppRows(alert_webhooks, AlertTarget)


def set_target(db: Database, target: AlertTarget) -> None:
    _TARGETS.put(db, target)


def targets(db: Database, account_id: str | None = None) -> list[AlertTarget]:
    return _TARGETS.all(db, account_id)


def target_of(db: Database, account_id: str, app_id: str) -> AlertTarget | None:
    return _TARGETS.get(db, account_id, app_id)


def remove_target(db: Database, account_id: str, app_id: str) -> bool:
    return _TARGETS.remove(db, account_id, app_id)


def app_of(db: Database, target: AlertTarget) -> int | None:
    """The target's app, its queue folded (the scan reads sessions and peers)."""
    return readable_app(db, target.account_id, target.app_id)


def record_alert(
    db: Database, app_pk: int, alert_id: str, kind: str, payload: str, now_ms: int
) -> bool:
    """Keep an alert; False if one with this id was raised before (nothing changes)."""
    with db.write() as conn:
        # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING
        kept = conn.execute(
            db.insert(alert_outbox)
            .values(app_pk=app_pk, alert_id=alert_id, kind=kind, payload=payload, created_ms=now_ms)
            .on_conflict_do_nothing()
            .returning(alert_outbox.c.alert_id)
        ).first()
    return kept is not None


def raised(db: Database, app_pk: int, alert_ids: list[str]) -> set[str]:
    found: set[str] = set()
    with db.read() as conn:
        for chunk in chunks(alert_ids):
            found.update(
                conn.execute(
                    select(alert_outbox.c.alert_id).where(
                        alert_outbox.c.app_pk == app_pk, alert_outbox.c.alert_id.in_(chunk)
                    )
                ).scalars()
            )
    return found


def alert_payload(db: Database, app_pk: int, alert_id: str) -> str | None:
    with db.read() as conn:
        return conn.execute(
            select(alert_outbox.c.payload).where(
                alert_outbox.c.app_pk == app_pk, alert_outbox.c.alert_id == alert_id
            )
        ).scalar()


def ended_since(
    db: Database, app_pk: int, since_ms: int, now_ms: int, grace_ms: int
) -> list[SessionRow]:
    """Top-level sessions that ended (explicitly, or everyone left a grace ago) at or
    after ``since_ms``."""
    ended_at = func.coalesce(sessions.c.closed_ms, sessions.c.tree_quiet_since_ms)
    query = select_rows(SessionRow, sessions).where(
        sessions.c.app_pk == app_pk,
        sessions.c.parent_session_id.is_(None),
        sessions.c.started_ms.is_not(None),
        ended_condition(now_ms - grace_ms),
        ended_at >= since_ms,
    )
    with db.read() as conn:
        return [row_of(SessionRow, row) for row in conn.execute(query)]


def peers_of(db: Database, app_pk: int, session_ids: list[str]) -> list[PeerOfSession]:
    query = select(peers.c.session_id, peers.c.peer_id, peers.c.user_id, peers.c.display_name)
    found: list[PeerOfSession] = []
    with db.read() as conn:
        for chunk in chunks(session_ids):
            rows = conn.execute(
                query.where(peers.c.app_pk == app_pk, peers.c.session_id.in_(chunk))
            )
            found += [PeerOfSession(*row) for row in rows]
    return found


def peers_with_stats_since(db: Database, app_pk: int, since_ms: int) -> list[PeerOfSession]:
    """Peers (with their session) whose ``peer.stats`` arrived at or after ``since_ms``."""
    with db.read() as conn:
        peer_ids = recent_stats_peers(Snapshot.of(conn), app_pk, since_ms)
        rows = []
        for chunk in chunks(peer_ids):
            rows += conn.execute(
                select(
                    peers.c.session_id, peers.c.peer_id, peers.c.user_id, peers.c.display_name
                ).where(peers.c.app_pk == app_pk, peers.c.peer_id.in_(chunk))
            ).all()
    return [PeerOfSession(*row) for row in rows]
