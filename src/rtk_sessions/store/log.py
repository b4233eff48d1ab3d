"""Appending to the event log: the one write an ingest makes before it answers.

An append inserts the batch's events into ``events`` (the log's key drops those
stored before) and its ``peer.stats`` events into ``stats_inbox`` (``store.stats``; the
folder compacts them later),
queues the new lifecycle and meeting events for folding (``fold_queue``) and commits. It takes no lock of the app: appends of one app
from many processes proceed in parallel (on SQLite, one short write transaction
each). Folding them into meetings, sessions and peers is ``store.folding``'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import msgspec
from sqlalchemy import Connection, select

from rtk_sessions.store.apps import ensure_app
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.rows import EventRow, StatsRow
from rtk_sessions.store.stats import append_stats, count_kept
from rtk_sessions.store.tables import events, fold_queue

#: Events the fold reads: they change meetings, sessions or peers (``ingest.fold``).
FOLDED_TYPES = frozenset(
    {"meeting.upserted", "session.started", "session.ended", "peer.joined", "peer.left"}
)

_IDS = msgspec.msgpack.Encoder()

# One statement appends a batch on PostgreSQL: the rows travel as arrays, the log's key
# drops what is stored already (also against a concurrent append of the same id, which
# waits for the other to commit), and RETURNING names what was new. Rows go in in id
# order, so two appends that share ids wait for each other in one order: never a deadlock.
_PG_APPEND = """
INSERT INTO events (app_pk, event_id, type, ts_ms, session_id, peer_id, payload, received_ms)
SELECT %(app_pk)b, e.event_id, e.type, e.ts_ms, e.session_id, e.peer_id, e.payload,
       e.received_ms
FROM unnest(%(event_ids)b::text[], %(types)b::text[], %(ts_ms)b::bigint[],
            %(session_ids)b::text[], %(peer_ids)b::text[], %(payloads)b::text[],
            %(received_ms)b::bigint[])
     AS e(event_id, type, ts_ms, session_id, peer_id, payload, received_ms)
ORDER BY e.event_id
ON CONFLICT DO NOTHING
RETURNING event_id
"""
_SQLITE_APPEND = (
    "INSERT OR IGNORE INTO events (app_pk, event_id, type, ts_ms, session_id, peer_id, "
    "payload, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True, slots=True)
class Appended:
    app_pk: int
    new_ids: frozenset[str]  # the events stored now (the others were stored before)
    queued: int  # of the new events, those queued for folding
    stats_pending: int  # of the new events, peer.stats put in the inbox for compacting


def append(
    db: Database,
    account_id: str,
    app_id: str,
    rows: list[EventRow],
    stats_rows: list[StatsRow],
    now_ms: int,
) -> Appended:
    """Append ``rows`` and ``stats_rows`` (distinct ids) to the app, created on its first
    event."""
    with db.write() as conn:
        app_pk = ensure_app(db, conn, account_id, app_id, now_ms)
        kept = [s.logged for s in stats_rows if s.kept and s.logged is not None]
        new_ids = insert_new_events(db, conn, app_pk, rows + kept)
        kept_new = {k.event_id for k in kept if k.event_id in new_ids}
        appended = append_stats(conn, app_pk, stats_rows, kept_new)
        if appended.collided:  # another event's key: kept in the log as received
            logged = [r.logged for r in appended.collided if r.logged is not None]
            took = insert_new_events(db, conn, app_pk, logged)
            count_kept(conn, app_pk, [r for r in appended.collided if _logged_in(r, took)])
            new_ids |= took
        new_ids |= appended.event_ids
        to_fold = [r.event_id for r in rows if r.type in FOLDED_TYPES and r.event_id in new_ids]
        queue_for_fold(db, conn, app_pk, to_fold)
    return Appended(app_pk, frozenset(new_ids), len(to_fold), len(appended.event_ids))


def _logged_in(row: StatsRow, ids: set[str]) -> bool:
    return row.logged is not None and row.logged.event_id in ids


def insert_new_events(
    db: Database, conn: Connection, app_pk: int, rows: list[EventRow]
) -> set[str]:
    """Insert the rows whose ids the log does not hold; the ids inserted."""
    if not rows:
        return set()
    if not db.is_sqlite:
        found = conn.exec_driver_sql(
            _PG_APPEND,
            {
                "app_pk": app_pk,
                "received_ms": [r.received_ms for r in rows],
                "event_ids": [r.event_id for r in rows],
                "types": [r.type for r in rows],
                "ts_ms": [r.ts_ms for r in rows],
                "session_ids": [r.session_id for r in rows],
                "peer_ids": [r.peer_id for r in rows],
                "payloads": [r.payload for r in rows],
            },
        )
        return set(found.scalars())
    # SQLite: the write transaction (BEGIN IMMEDIATE) is the only writer. Usually every id
    # is new: one INSERT OR IGNORE of the batch, the rows bound by the driver. When some
    # were not (fewer rows inserted), that is undone and the stored ids are looked up.
    driver = conn.connection.driver_connection
    values = [
        (app_pk, r.event_id, r.type, r.ts_ms, r.session_id, r.peer_id, r.payload, r.received_ms)
        for r in rows
    ]
    driver.execute("SAVEPOINT append")  # type: ignore[union-attr]
    if driver.executemany(_SQLITE_APPEND, values).rowcount == len(values):  # type: ignore[union-attr]
        driver.execute("RELEASE append")  # type: ignore[union-attr]
        return {r.event_id for r in rows}
    driver.execute("ROLLBACK TO append")  # type: ignore[union-attr]
    driver.execute("RELEASE append")  # type: ignore[union-attr]
    stored: set[str] = set()
    for chunk in chunks([r.event_id for r in rows]):
        stored.update(
            conn.execute(
                select(events.c.event_id).where(
                    events.c.app_pk == app_pk, events.c.event_id.in_(chunk)
                )
            ).scalars()
        )
    new = [v for v in values if v[1] not in stored]
    driver.executemany(_SQLITE_APPEND, new)  # type: ignore[union-attr]
    return {v[1] for v in new}


def queue_for_fold(db: Database, conn: Connection, app_pk: int, event_ids: list[str]) -> None:
    """Queue the ids for the app's fold (nothing when there are none)."""
    if event_ids:
        conn.execute(
            fold_queue.insert().values(
                app_pk=app_pk,
                event_ids=_IDS.encode(event_ids),
                events=len(event_ids),
                appended_ms=int(time.time() * 1000),  # real time: the fold's lag is measured
            )
        )
