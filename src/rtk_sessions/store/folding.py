"""Keeping an app's meetings, sessions and peers folded up to its event log.

An append (``store.log``) queues the ids of its new lifecycle and meeting events in
``fold_queue``. A fold takes an app's queue rows in order, a batch at a time, folds
those events into rows (the fold :func:`register_fold` was given: ``ingest.fold``,
which reads the events' schema), and commits those rows with the deletion of the
queue rows it took, in one transaction:

- a fold killed halfway leaves the state as before it (nothing committed);
- two folds of one app never commit over each other: on PostgreSQL one holds the
  app's advisory lock (``Database.serialize_app_writes``) from its first read to
  its commit; on SQLite, where the write lock is the whole database's and appends
  need it, a fold works its rows out before taking it, and commits only if the
  app's ``fold_version`` has not moved since it read (else it works them out
  again); within a process, one fold of an app runs at a time;
- folding an event twice changes nothing (the merges are idempotent and
  order-free), so any split of the queue into batches gives the same rows.

Who folds: the background folder of every ``serve`` process and of
``rtk-sessions worker`` (``jobs.folder``), and any read whose app has queue rows
when it begins (:func:`catch_up`): every read answers as if each event
acknowledged before it had been folded in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import Connection, bindparam, delete, func, select, update

from rtk_sessions.metrics import FOLD_LAG, FOLDED_EVENTS
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.derive import PendingWrites
from rtk_sessions.store.log import FOLDED_TYPES
from rtk_sessions.store.prepared import Prepared
from rtk_sessions.store.rows import EventRow
from rtk_sessions.store.tables import apps, fold_queue
from rtk_sessions.store.writer import AppWriter

#: What a fold does with the events: fold them into the writer's rows (any order).
Fold = Callable[[AppWriter, list[EventRow]], None]
_FOLDS: list[Fold] = []


def register_fold(fold: Fold) -> None:
    """The fold (``ingest.fold`` registers it when imported, as every program that
    ingests or serves does)."""
    _FOLDS[:] = [fold]


def _fold() -> Fold:
    if not _FOLDS:
        raise RuntimeError("no fold registered: import rtk_sessions.ingest.fold")
    return _FOLDS[0]


#: Events one fold transaction takes at most: a bounded transaction (memory, the time
#: SQLite's write lock is held against appends) that still folds in bulk.
FOLD_BATCH_EVENTS = 5_000
_QUEUE_ROWS_AT_ONCE = 1_000

_IDS = msgspec.msgpack.Decoder(list[str])
_NEWEST = Prepared(
    select(func.max(fold_queue.c.seq)).where(fold_queue.c.app_pk == bindparam("app_pk"))
)

# Set by appends of this process so that its folder starts at once (other processes'
# appends are found by the folder's poll).
_APPENDED: WeakKeyDictionary[Database, threading.Event] = WeakKeyDictionary()
# One fold of an app at a time in a process (the folder thread and reads catching up).
_LOCKS: WeakKeyDictionary[Database, dict[int, threading.Lock]] = WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def appended_signal(db: Database) -> threading.Event:
    """Set when this process appended events of ``db`` to fold; the folder waits on it."""
    return _APPENDED.setdefault(db, threading.Event())


def pending_apps(db: Database) -> list[int]:
    """The apps with queue rows now."""
    with db.read() as conn:
        return list(conn.execute(select(fold_queue.c.app_pk).distinct()).scalars())


def newest_pending(db: Database, app_pk: int) -> int | None:
    """The app's newest queue row (its seq), or None when everything is folded."""
    return db.fetch(_NEWEST, {"app_pk": app_pk})[0][0]


def readable_app(db: Database, account_id: str, app_id: str) -> int | None:
    """The app's key (None: nothing was ever ingested for it), its queue folded: what
    every read path asks for before it reads."""
    app_pk = app_key(db, account_id, app_id)
    if app_pk is not None:
        catch_up(db, app_pk)
    return app_pk


def catch_up(db: Database, app_pk: int) -> None:
    """Fold what was queued for the app when this was called (a cheap check when nothing
    is): wait for a fold of the app already running, then fold what is left of it."""
    upto = newest_pending(db, app_pk)
    if upto is None:
        return
    while fold_pending(db, app_pk, wait=True, upto=upto):
        pass


def fold_pending(
    db: Database,
    app_pk: int,
    *,
    wait: bool,
    upto: int | None = None,
    max_events: int = FOLD_BATCH_EVENTS,
) -> int:
    """Fold the app's oldest queue rows (those up to seq ``upto`` if given), about
    ``max_events`` events at most; the events folded. 0 when there was nothing to fold,
    or (``wait=False``) another fold of the app is running."""
    local = _local_lock(db, app_pk)  # one fold of an app at a time in this process
    if not local.acquire(blocking=wait):
        return 0
    try:
        if db.is_sqlite:
            folded = _fold_outside_the_write_lock(db, app_pk, upto, max_events)
        else:
            folded = _fold_in_one_transaction(db, app_pk, wait, upto, max_events)
    finally:
        local.release()
    if folded:
        db.note_written(folded)  # sessions and peers grew: the planner's statistics may be stale
    return folded


def _fold_in_one_transaction(
    db: Database, app_pk: int, wait: bool, upto: int | None, max_events: int
) -> int:
    """PostgreSQL: read, work out and write in one transaction under the app's advisory
    lock; appends and other apps' folds go on beside it (row-level locking)."""
    with db.write() as conn:
        if wait:
            db.serialize_app_writes(conn, app_pk)
        elif not db.try_serialize_app_writes(conn, app_pk):
            return 0
        plan = _plan(db, conn, app_pk, upto, max_events)
        if plan is not None:
            _commit(conn, plan)
    return _committed(plan)


def _fold_outside_the_write_lock(
    db: Database, app_pk: int, upto: int | None, max_events: int
) -> int:
    """SQLite: one write lock for the whole database, which appends need too. Read and
    work out the rows in a read transaction, then take the write lock only to write
    them; if another process folded the app in between (its fold version moved), work
    them out again from what that fold left."""
    while True:
        with db.read() as conn:
            version = _fold_version(conn, app_pk)
            plan = _plan(db, conn, app_pk, upto, max_events)
        if plan is None:
            return 0
        with db.write() as conn:
            if _fold_version(conn, app_pk) != version:
                continue
            _commit(conn, plan)
        return _committed(plan)


def fold_queued(
    db: Database,
    conn: Connection,
    app_pk: int,
    *,
    upto: int | None = None,
    max_events: int | None = FOLD_BATCH_EVENTS,
) -> int:
    """A fold inside a write transaction that holds the app's fold lock (erasure and
    retention fold first, then change rows; they move the fold version themselves, see
    :func:`derived_rows_changed`); ``max_events=None``: all of the queue."""
    plan = _plan(db, conn, app_pk, upto, max_events)
    if plan is None:
        return 0
    _commit(conn, plan)
    return _committed(plan)


def derived_rows_changed(conn: Connection, app_pk: int) -> None:
    """Say, in the transaction that changes them, that the app's meetings, sessions or
    peers changed: a fold worked out before this commit must work them out again."""
    conn.execute(
        update(apps).where(apps.c.app_pk == app_pk).values(fold_version=apps.c.fold_version + 1)
    )


@dataclass(slots=True)
class _Plan:
    """A fold worked out: what it writes, and the queue rows it takes in."""

    app_pk: int
    taken: list[int]  # queue rows (seq)
    events: int
    appended: list[tuple[int, int]]  # (ms, events) of each queue row: the fold's lag
    writes: PendingWrites


def _plan(
    db: Database, conn: Connection, app_pk: int, upto: int | None, max_events: int | None
) -> _Plan | None:
    query = select(
        fold_queue.c.seq, fold_queue.c.event_ids, fold_queue.c.events, fold_queue.c.appended_ms
    ).where(fold_queue.c.app_pk == app_pk)
    if upto is not None:
        query = query.where(fold_queue.c.seq <= upto)
    taken: list[int] = []
    event_ids: list[str] = []
    appended: list[tuple[int, int]] = []
    for seq, ids, count, appended_ms in conn.execute(
        query.order_by(fold_queue.c.seq).limit(_QUEUE_ROWS_AT_ONCE)
    ):
        if taken and max_events is not None and len(event_ids) + count > max_events:
            break
        taken.append(seq)
        event_ids += _IDS.decode(ids)
        appended.append((appended_ms, count))
    if not taken:
        return None
    writer = AppWriter(db, conn, app_pk)
    _fold()(writer, _logged(db, conn, app_pk, event_ids))
    return _Plan(app_pk, taken, len(event_ids), appended, writer.writes)


def _commit(conn: Connection, plan: _Plan) -> None:
    plan.writes.apply(conn)
    for chunk in chunks(plan.taken):
        conn.execute(delete(fold_queue).where(fold_queue.c.seq.in_(chunk)))
    derived_rows_changed(conn, plan.app_pk)


def _committed(plan: _Plan | None) -> int:
    """The events of a committed fold (0 for none), its lag measured."""
    if plan is None:
        return 0
    now_ms = time.time() * 1000
    for appended_ms, count in plan.appended:
        FOLD_LAG.observe(max(0.0, now_ms - appended_ms) / 1000)
        FOLDED_EVENTS.inc(count)
    return plan.events


def _fold_version(conn: Connection, app_pk: int) -> int:
    return conn.execute(select(apps.c.fold_version).where(apps.c.app_pk == app_pk)).scalar_one()


def _local_lock(db: Database, app_pk: int) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(db, {}).setdefault(app_pk, threading.Lock())


def _logged(db: Database, conn: Connection, app_pk: int, event_ids: list[str]) -> list[EventRow]:
    """The events as the log holds them now (an erased one is no longer folded), read
    on the driver's cursor: thousands of rows a fold, plain values only."""
    driver = conn.connection.driver_connection
    columns = ", ".join(EventRow.__struct_fields__)
    found: list[EventRow] = []
    if db.is_sqlite:
        for chunk in chunks(event_ids):
            marks = ", ".join("?" * len(chunk))
            rows = driver.execute(  # type: ignore[union-attr]
                f"SELECT {columns} FROM events WHERE app_pk = ? AND event_id IN ({marks})",
                [app_pk, *chunk],
            ).fetchall()
            found += [EventRow(*row) for row in rows if row[1] in FOLDED_TYPES]
        return found
    rows = driver.execute(  # type: ignore[union-attr]
        f"SELECT {columns} FROM events WHERE app_pk = %s AND event_id = ANY(%s)",
        [app_pk, event_ids],
    ).fetchall()
    return [EventRow(*row) for row in rows if row[1] in FOLDED_TYPES]
