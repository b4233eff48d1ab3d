"""Keeping an app's meetings, sessions and peers folded up to its event log.

An append (``store.log``) queues the ids of its new lifecycle and meeting events in
``fold_queue``. A fold takes an app's queue rows in order, a batch at a time, folds
those events into rows (the fold :func:`register_fold` was given: ``ingest.fold``,
which reads the events' schema) and deletes the queue rows, all in one transaction
that holds the app's fold lock (``Database.serialize_app_writes``):

- a fold killed halfway leaves the state as before it (nothing committed);
- two folds of one app never run at once (the lock; SQLite's single writer);
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
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import Connection, bindparam, delete, func, select

from rtk_sessions.metrics import FOLD_LAG, FOLDED_EVENTS
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database, Prepared, chunks
from rtk_sessions.store.log import FOLDED_TYPES
from rtk_sessions.store.rows import EventRow, row_of, select_rows
from rtk_sessions.store.tables import events, fold_queue
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
    ``max_events`` events at most, in one transaction; the events folded. 0 when there
    was nothing to fold, or (``wait=False``) another transaction is folding the app."""
    with db.write() as conn:
        if wait:
            db.serialize_app_writes(conn, app_pk)
        elif not db.try_serialize_app_writes(conn, app_pk):
            return 0
        folded = fold_queued(db, conn, app_pk, upto=upto, max_events=max_events)
    if folded:
        db.note_written(folded)  # sessions and peers grew: the planner's statistics may be stale
    return folded


def fold_queued(
    db: Database,
    conn: Connection,
    app_pk: int,
    *,
    upto: int | None = None,
    max_events: int | None = FOLD_BATCH_EVENTS,
) -> int:
    """:func:`fold_pending` inside a transaction that holds the app's fold lock (erasure
    and retention fold first, then change rows); ``max_events=None``: all of it."""
    query = select(
        fold_queue.c.seq, fold_queue.c.event_ids, fold_queue.c.events, fold_queue.c.appended_ms
    ).where(fold_queue.c.app_pk == app_pk)
    if upto is not None:
        query = query.where(fold_queue.c.seq <= upto)
    taken: list[int] = []
    event_ids: list[str] = []
    appended: list[tuple[int, int]] = []  # (ms, events) of each queue row taken
    for seq, ids, count, appended_ms in conn.execute(
        query.order_by(fold_queue.c.seq).limit(_QUEUE_ROWS_AT_ONCE)
    ):
        if taken and max_events is not None and len(event_ids) + count > max_events:
            break
        taken.append(seq)
        event_ids += _IDS.decode(ids)
        appended.append((appended_ms, count))
    if not taken:
        return 0
    _fold()(AppWriter(db, conn, app_pk), _logged(conn, app_pk, event_ids))
    for chunk in chunks(taken):
        conn.execute(delete(fold_queue).where(fold_queue.c.seq.in_(chunk)))
    _measure(appended)
    return len(event_ids)


def _logged(conn: Connection, app_pk: int, event_ids: list[str]) -> list[EventRow]:
    """The events as the log holds them now (an erased one is no longer folded)."""
    found = []
    for chunk in chunks(event_ids):
        for row in conn.execute(
            select_rows(EventRow, events).where(
                events.c.app_pk == app_pk, events.c.event_id.in_(chunk)
            )
        ):
            logged = row_of(EventRow, row)
            if logged.type in FOLDED_TYPES:
                found.append(logged)
    return found


def _measure(appended: list[tuple[int, int]]) -> None:
    """The fold's lag, from each append's commit to now (the fold's commit follows)."""
    now_ms = time.time() * 1000
    for appended_ms, count in appended:
        FOLD_LAG.observe(max(0.0, now_ms - appended_ms) / 1000)
        FOLDED_EVENTS.inc(count)
