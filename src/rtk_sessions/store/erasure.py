"""Erasing a user (a data subject's request): everything that names or describes them
goes, the numbers stay.

In one write transaction of the app, for every peer whose user id is the user's:

- the peer row's user id becomes a random pseudonym (the same for all their peers, so
  rejoins still consolidate and minutes, concurrency and durations are unchanged);
  display name and custom participant id are cleared;
- the stored events are rewritten in place: ``peer.joined`` keeps its times with the
  pseudonym and without name or custom id; ``peer.metadata`` loses the IP and user
  agent; ``peer.stats`` samples lose candidate addresses and URLs (IPs), in the log
  and in the compact rows (``store.stats``, which the peers' stats version notes); the user's
  chat messages, transcript segments and raw webhook deliveries become ``erased``
  tombstones (id, type and time only). Rows are kept, not deleted, so a late
  redelivery of the same event id is still a duplicate and cannot bring the data back;
  their ``received_ms`` moves to the erasure time (at least 1 ms later than it was),
  which changes every cache key derived from them (call quality, downloads);
- summaries of the sessions they spoke in are deleted (they quote the transcript).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import delete, select, update

from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.folding import catch_up, derived_rows_changed, fold_queued
from rtk_sessions.store.rows import search_text
from rtk_sessions.store.stats_compact import compact_peers
from rtk_sessions.store.stats_rewrite import CANDIDATE_ADDRESSES, scrub_peers_stats
from rtk_sessions.store.tables import events, peers, summaries

ERASED = "erased"  # the type of a tombstone
_REMOVED_FROM_JOIN = ("display_name", "custom_participant_id")
_REMOVED_FROM_METADATA = ("ip", "user_agent")
_TOMBSTONED = ("chat.message", "transcript.segment", "rtk.webhook")
_JSON = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class ErasureReport:
    pseudonym: str | None  # None: no peer of that user was found
    peers: int
    sessions: int
    events_rewritten: int
    events_tombstoned: int
    summaries_deleted: int


def erase_user(db: Database, app_pk: int, user_id: str, now_ms: int) -> ErasureReport:
    catch_up(db, app_pk)  # most of the queue, outside the erasure's transaction
    with db.write() as conn:
        db.serialize_app_writes(conn, app_pk)
        db.serialize_app_compaction(conn, app_pk)
        fold_queued(db, conn, app_pk, max_events=None)  # what came since: all of it is erased
        derived_rows_changed(conn, app_pk)
        found = conn.execute(
            select(peers.c.session_id, peers.c.peer_id).where(
                peers.c.app_pk == app_pk, peers.c.user_id == user_id
            )
        ).all()
        if not found:
            return ErasureReport(None, 0, 0, 0, 0, 0)
        pseudonym = "erased-" + secrets.token_hex(8)
        peer_ids = sorted({peer_id for _, peer_id in found})
        session_ids = sorted({session_id for session_id, _ in found})
        for session_id, peer_id in found:
            conn.execute(
                update(peers)
                .where(
                    peers.c.app_pk == app_pk,
                    peers.c.session_id == session_id,
                    peers.c.peer_id == peer_id,
                )
                .values(
                    user_id=pseudonym,
                    display_name=None,
                    custom_participant_id=None,
                    search_text=search_text(None, pseudonym, None, peer_id),
                )
            )
        rewritten = tombstoned = 0
        for chunk in chunks(peer_ids):
            rows = conn.execute(
                select(
                    events.c.event_id, events.c.type, events.c.payload, events.c.received_ms
                ).where(events.c.app_pk == app_pk, events.c.peer_id.in_(chunk))
            ).all()
            for event_id, kind, payload, received_ms in rows:
                changed = _scrubbed(kind, payload, pseudonym)
                if changed is None:
                    continue
                new_kind, new_payload = changed
                tombstoned += new_kind == ERASED
                rewritten += new_kind != ERASED
                conn.execute(
                    update(events)
                    .where(events.c.app_pk == app_pk, events.c.event_id == event_id)
                    # later than before even within the same ms: every version changes
                    .values(
                        type=new_kind,
                        payload=new_payload,
                        received_ms=max(now_ms, received_ms + 1),
                    )
                )
        compact_peers(db, conn, app_pk, peer_ids)  # so that one rewrite scrubs every row
        rewritten += scrub_peers_stats(conn, app_pk, peer_ids, now_ms)
        removed = 0
        for chunk in chunks(session_ids):
            removed += conn.execute(
                delete(summaries).where(
                    summaries.c.app_pk == app_pk, summaries.c.session_id.in_(chunk)
                )
            ).rowcount
    return ErasureReport(pseudonym, len(found), len(session_ids), rewritten, tombstoned, removed)


def _scrubbed(kind: str, payload: str, pseudonym: str) -> tuple[str, str] | None:
    """The event's new (type, payload), or None when it holds nothing of the user."""
    body: dict[str, Any] = _JSON.decode(payload)
    if kind in _TOMBSTONED:
        return ERASED, _encode({k: body[k] for k in ("id", "type", "ts") if k in body})
    if kind == "peer.joined":
        body["user_id"] = pseudonym
        for key in _REMOVED_FROM_JOIN:
            body.pop(key, None)
        return kind, _encode(body)
    if kind == "peer.metadata":
        if not any(key in body for key in _REMOVED_FROM_METADATA):
            return None
        for key in _REMOVED_FROM_METADATA:
            body.pop(key, None)
        return kind, _encode(body)
    if kind == "peer.stats":
        touched = False
        for sample in body.get("samples") or []:
            pair = sample.get("candidate_pair") if isinstance(sample, dict) else None
            if isinstance(pair, dict):
                for key in CANDIDATE_ADDRESSES:
                    touched |= pair.pop(key, None) is not None
        return (kind, _encode(body)) if touched else None
    return None


def _encode(body: dict[str, Any]) -> str:
    return msgspec.json.encode(body).decode()
