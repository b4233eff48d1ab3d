"""Retention: data older than its setting is purged in small transactions.

Each kind has its own age limit (days; 0 keeps it for ever): raw telemetry
(``peer.stats``), chat, transcripts (with the summaries made from them), peer
metadata (``peer.metadata``: IPs, user agents, devices) and whole sessions. A purge
deletes at most ``batch`` rows (or sessions) per transaction and starts a new one
after, so ingest, which needs the app's write lock, waits at most one short batch.

Whole sessions go with everything that hangs off them (breakout rooms, peers, every
event, summaries, jobs), and the app's kept list total is lowered in the same
transaction, so list totals stay exact. Only sessions nobody is still in are purged.
An age is measured from the event's own time (``ts``), a session's from its start.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, func, select, true, update

from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.folding import (
    catch_up,
    derived_rows_changed,
    fold_queued,
    pending_apps,
)
from rtk_sessions.store.stats import delete_peers_stats
from rtk_sessions.store.tables import apps, events, jobs, peers, sessions, stats_peers, summaries

DAY_MS = 86_400_000
KINDS = ("telemetry", "chat", "transcripts", "peer_metadata", "sessions")
_EVENT_TYPES = {
    "telemetry": ("peer.stats",),
    "chat": ("chat.message",),
    "transcripts": ("transcript.segment",),
    "peer_metadata": ("peer.metadata",),
}


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Days to keep each kind of data; 0 keeps it for ever."""

    telemetry: int = 0
    chat: int = 0
    transcripts: int = 0
    peer_metadata: int = 0
    sessions: int = 0

    @property
    def active(self) -> bool:
        return any(getattr(self, kind) for kind in KINDS)


@dataclass(slots=True)
class PurgeReport:
    purged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    summaries: int = 0


def purge(db: Database, policy: RetentionPolicy, now_ms: int, batch: int = 2_000) -> PurgeReport:
    """Purge everything older than the policy allows; returns how much went, by kind
    (events for the event kinds, top-level sessions for ``sessions``)."""
    report = PurgeReport()
    for kind, types in _EVENT_TYPES.items():
        days = getattr(policy, kind)
        if days:
            cutoff = now_ms - days * DAY_MS
            purge = _purge_telemetry if kind == "telemetry" else _purge_events
            report.purged[kind] = purge(db, types, cutoff, batch)
    if policy.transcripts:
        report.summaries = _purge_summaries(db, now_ms - policy.transcripts * DAY_MS)
    if policy.sessions:
        report.purged["sessions"] = _purge_sessions(
            db, now_ms - policy.sessions * DAY_MS, max(1, batch // 20)
        )
    return report


def _purge_events(db: Database, types: tuple[str, ...], cutoff_ms: int, batch: int) -> int:
    total = 0
    while True:
        with db.write() as conn:
            doomed = conn.execute(
                select(events.c.app_pk, events.c.event_id)
                .where(events.c.type.in_(types), events.c.ts_ms < cutoff_ms)
                .limit(batch)
            ).all()
            for app_pk in {app for app, _ in doomed}:
                ids = [event_id for app, event_id in doomed if app == app_pk]
                for chunk in chunks(ids):
                    conn.execute(
                        delete(events).where(
                            events.c.app_pk == app_pk, events.c.event_id.in_(chunk)
                        )
                    )
        total += len(doomed)
        if len(doomed) < batch:
            return total


def _purge_telemetry(db: Database, types: tuple[str, ...], cutoff_ms: int, batch: int) -> int:
    """Telemetry goes a peer at a time: a peer's compact rows are encoded against each
    other, so all of them (and what the log kept as received) go once its latest sample
    is older than the cutoff; the events purged."""
    total = 0
    while True:
        with db.write() as conn:
            doomed = conn.execute(
                select(stats_peers.c.app_pk, stats_peers.c.peer_id, stats_peers.c.rows)
                .where(stats_peers.c.last_ms < cutoff_ms)
                .limit(batch)
            ).all()
            for app_pk in sorted({app for app, _, _ in doomed}):
                peer_ids = [peer for app, peer, _ in doomed if app == app_pk]
                for chunk in chunks(peer_ids):
                    conn.execute(
                        delete(events).where(
                            events.c.app_pk == app_pk,
                            events.c.peer_id.in_(chunk),
                            events.c.type.in_(types),
                        )
                    )
                delete_peers_stats(conn, app_pk, peer_ids)
            total += sum(count for _, _, count in doomed)
        if len(doomed) < batch:
            return total


def _purge_summaries(db: Database, cutoff_ms: int) -> int:
    with db.write() as conn:
        return conn.execute(delete(summaries).where(summaries.c.created_ms < cutoff_ms)).rowcount


def _purge_sessions(db: Database, cutoff_ms: int, batch: int) -> int:
    """Delete old top-level sessions (with their rooms, peers and events), app by app,
    each batch folded first (under the app's fold lock, so that no fold runs beside it):
    a session is judged on every event acknowledged before."""
    total = 0
    for app_pk in _apps_with_old_sessions(db, cutoff_ms):
        catch_up(db, app_pk)  # most of the queue, outside the deleting transactions
        while True:
            with db.write() as conn:
                db.serialize_app_writes(conn, app_pk)
                fold_queued(db, conn, app_pk, max_events=None)
                doomed = list(
                    conn.execute(
                        select(sessions.c.session_id)
                        .where(
                            sessions.c.app_pk == app_pk,
                            sessions.c.parent_session_id.is_(None),
                            sessions.c.started_ms < cutoff_ms,
                            sessions.c.tree_open_peers == 0,
                        )
                        .limit(batch)
                    ).scalars()
                )
                if doomed:
                    _delete_sessions(conn, app_pk, doomed)
                    derived_rows_changed(conn, app_pk)
            total += len(doomed)
            if len(doomed) < batch:
                break
    return total


def _apps_with_old_sessions(db: Database, cutoff_ms: int) -> list[int]:
    """Apps with old sessions folded, or with a queue that may hold some."""
    with db.read() as conn:
        folded = conn.execute(
            select(sessions.c.app_pk)
            .where(sessions.c.parent_session_id.is_(None), sessions.c.started_ms < cutoff_ms)
            .distinct()
        ).scalars()
        return sorted(set(folded) | set(pending_apps(db)))


def _delete_sessions(conn, app_pk: int, top_level: list[str]) -> None:
    rooms = (
        conn.execute(
            select(sessions.c.session_id).where(
                sessions.c.app_pk == app_pk, sessions.c.parent_session_id.in_(top_level)
            )
        )
        .scalars()
        .all()
    )
    doomed = [*top_level, *rooms]
    listed = conn.execute(
        select(func.count()).where(
            sessions.c.app_pk == app_pk,
            sessions.c.session_id.in_(doomed),
            sessions.c.listed == true(),
        )
    ).scalar_one()
    peer_ids = (
        conn.execute(
            select(peers.c.peer_id).where(peers.c.app_pk == app_pk, peers.c.session_id.in_(doomed))
        )
        .scalars()
        .all()
    )
    for chunk in chunks(peer_ids):  # a peer's metadata and stats may name no session
        conn.execute(delete(events).where(events.c.app_pk == app_pk, events.c.peer_id.in_(chunk)))
    delete_peers_stats(conn, app_pk, list(peer_ids))
    for chunk in chunks(doomed):
        for table in (events, peers, summaries, jobs, sessions):  # sessions last
            conn.execute(
                delete(table).where(table.c.app_pk == app_pk, table.c.session_id.in_(chunk))
            )
    if listed:
        conn.execute(
            update(apps)
            .where(apps.c.app_pk == app_pk)
            .values(listed_sessions=apps.c.listed_sessions - listed)
        )
