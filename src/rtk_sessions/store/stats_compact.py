"""Compacting telemetry: the inbox's ``peer.stats`` events encoded into rows of ``stats``.

An ingest appends each ``peer.stats`` event as received (``stats_inbox``): encoding it
costs several times what storing it does (~20 us a sample), so the background folder
(``jobs.folder``) does it, an app's oldest inbox rows a batch at a time. Each event is
encoded against its peer's previous compact row (its *base*) when this process
remembers that row (it compacted it, and the peer's rows were not rewritten since),
else on its own (larger); a peer's events of a batch in the order of their samples.

The compact rows are inserted and the inbox rows deleted in one transaction, which
first makes sure that nothing the rows were worked out from changed: every inbox row
is still there (erasure, retention or another folder may have taken it), every base
still stored, no peer's rows rewritten; else it is worked out again. One compaction of
an app at a time: on PostgreSQL a try-lock of its own per app, apart from the fold's
(a read catching its fold up never waits for a compaction; erasure takes both); on
SQLite the write lock, the rows worked out before it is taken, as a fold's are.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import Connection, delete, select, text

from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.ingest.events import DeclaredPeerStats
from rtk_sessions.metrics import COMPACTED_STATS
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.log import insert_new_events
from rtk_sessions.store.rows import EventRow
from rtk_sessions.store.stats import insert_compact, last_sample_ms, pending_json
from rtk_sessions.store.stats_codec import PeerTail, encode_event
from rtk_sessions.store.tables import stats, stats_inbox, stats_peers

#: Events one compaction takes at most (~20 samples each, ~20 us a sample to encode):
#: a bounded transaction, and the folder soon back to folding.
COMPACT_BATCH_EVENTS = 100
TAIL_PEERS = 50_000  # peers whose last compact row a process remembers

_DECLARED = msgspec.json.Decoder(DeclaredPeerStats)


@dataclass(frozen=True, slots=True)
class _Remembered:
    tail: PeerTail
    rewrites: int  # of the peer's rows then: once rewritten (erasure), the row is no base


class Tails:
    """The last compact row this process stored for each recently active peer, by
    (app, peer key), the least recently used forgotten first."""

    def __init__(self, peers: int = TAIL_PEERS) -> None:
        self._peers = peers
        self._tails: OrderedDict[tuple[int, int], _Remembered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, app_pk: int, peer_key: int) -> _Remembered | None:
        with self._lock:
            return self._tails.get((app_pk, peer_key))

    def put(self, app_pk: int, tails: dict[int, PeerTail], rewrites: dict[int, int]) -> None:
        with self._lock:
            for peer_key, tail in tails.items():
                self._tails[(app_pk, peer_key)] = _Remembered(tail, rewrites[peer_key])
                self._tails.move_to_end((app_pk, peer_key))
            while len(self._tails) > self._peers:
                self._tails.popitem(last=False)


_TAILS: WeakKeyDictionary[Database, Tails] = WeakKeyDictionary()
_LOCKS: WeakKeyDictionary[Database, dict[int, threading.Lock]] = WeakKeyDictionary()
_GUARD = threading.Lock()


def tails_of(db: Database) -> Tails:
    with _GUARD:
        return _TAILS.setdefault(db, Tails())


def _local_lock(db: Database, app_pk: int) -> threading.Lock:
    with _GUARD:
        return _LOCKS.setdefault(db, {}).setdefault(app_pk, threading.Lock())


class _Changed(Exception):
    """What a compaction was worked out from changed before it could commit."""


@dataclass(slots=True)
class _Compaction:
    seqs: list[int] = field(default_factory=list)  # the inbox rows it takes
    rows: list[tuple[int, int, bytes]] = field(default_factory=list)  # peer key, h1, data
    bases: set[int] = field(default_factory=set)  # h1 of the stored rows encoded against
    rewrites: dict[int, int] = field(default_factory=dict)  # of each peer, as found
    tails: dict[int, PeerTail] = field(default_factory=dict)  # of each peer's last row
    kept: list[EventRow] = field(default_factory=list)  # to the log as received instead


# The apps with inbox rows, found by skipping from one app to the next on the
# (app_pk, seq) index: a plain DISTINCT reads every row of the inbox, which the folder
# would do at every round while a backlog waits.
_PENDING_APPS = text(
    """
    WITH RECURSIVE pending(app_pk) AS (
        SELECT min(app_pk) FROM stats_inbox
        UNION ALL
        SELECT (SELECT min(app_pk) FROM stats_inbox WHERE app_pk > pending.app_pk)
        FROM pending WHERE pending.app_pk IS NOT NULL
    )
    SELECT app_pk FROM pending WHERE app_pk IS NOT NULL
    """
)


def apps_with_pending_stats(db: Database) -> list[int]:
    with db.read() as conn:
        return list(conn.execute(_PENDING_APPS).scalars())


def compact_pending(db: Database, app_pk: int, max_events: int = COMPACT_BATCH_EVENTS) -> int:
    """Compact the app's oldest inbox rows, ``max_events`` at most; the events
    compacted (0: none, or another compaction of the app is running)."""
    local = _local_lock(db, app_pk)
    if not local.acquire(blocking=False):
        return 0
    try:
        if db.is_sqlite:
            return _compact_outside_the_write_lock(db, app_pk, max_events)
        try:
            with db.write() as conn:
                if not db.try_serialize_app_compaction(conn, app_pk):
                    return 0
                plan = _plan(db, conn, app_pk, max_events=max_events)
                if plan is None:
                    return 0
                _commit(db, conn, app_pk, plan)
        except _Changed:  # retention took rows meanwhile: the next round goes again
            return 0
        _vacuums(db).compacted(db, len(plan.seqs), drained=len(plan.seqs) < max_events)
        return _committed(db, app_pk, plan)
    finally:
        local.release()


#: Inbox rows compacted between two vacuums of the inbox (PostgreSQL).
VACUUM_EVERY_EVENTS = 2_000


class _InboxVacuum:
    """PostgreSQL keeps a deleted row's space until a vacuum: the inbox, whose rows
    only come and go (each a whole event's JSON), is vacuumed by the folder that
    compacted them, every ``VACUUM_EVERY_EVENTS`` and whenever it drained an app, so
    that the next appends reuse that space rather than growing the table until
    autovacuum's next visit. One process at a time (a try-lock); a plain VACUUM, which
    appends and reads go on beside."""

    def __init__(self) -> None:
        self._since = 0
        self._lock = threading.Lock()

    def compacted(self, db: Database, events: int, *, drained: bool) -> None:
        with self._lock:
            self._since += events
            due = self._since >= VACUUM_EVERY_EVENTS or (drained and self._since > 0)
            if due:
                self._since = 0
        if due:
            vacuum_inbox(db)


def vacuum_inbox(db: Database) -> bool:
    """VACUUM the inbox (PostgreSQL) unless another process is at it; whether it ran."""
    return db.maintain(_VACUUM_LOCK, "VACUUM stats_inbox")


_VACUUM_LOCK = {"space": 0x72746B04, "key": 0}
_VACUUMS: WeakKeyDictionary[Database, _InboxVacuum] = WeakKeyDictionary()


def _vacuums(db: Database) -> _InboxVacuum:
    with _GUARD:
        return _VACUUMS.setdefault(db, _InboxVacuum())


def _compact_outside_the_write_lock(db: Database, app_pk: int, max_events: int) -> int:
    while True:
        with db.read() as conn:
            plan = _plan(db, conn, app_pk, max_events=max_events)
        if plan is None:
            return 0
        try:
            with db.write() as conn:
                _commit(db, conn, app_pk, plan)
        except _Changed:
            continue
        return _committed(db, app_pk, plan)


def compact_peers(db: Database, conn: Connection, app_pk: int, peer_ids: list[str]) -> int:
    """Compact every inbox row of these peers in the transaction of ``conn``, which
    holds the app's compaction lock (erasure, before it rewrites the peers' rows)."""
    keys = [
        key
        for chunk in chunks(peer_ids)
        for key in conn.execute(
            select(stats_peers.c.peer_key).where(
                stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
            )
        ).scalars()
    ]
    plan = _plan(db, conn, app_pk, peer_keys=keys) if keys else None
    if plan is None:
        return 0
    _commit(db, conn, app_pk, plan)
    return _committed(db, app_pk, plan)


def _plan(
    db: Database,
    conn: Connection,
    app_pk: int,
    *,
    max_events: int | None = None,
    peer_keys: list[int] | None = None,
) -> _Compaction | None:
    """The compact rows of the app's oldest inbox rows (or of every one of the peers)."""
    query = select(
        stats_inbox.c.seq,
        stats_inbox.c.peer_key,
        stats_inbox.c.h1,
        stats_inbox.c.h2,
        stats_inbox.c.data,
    ).where(stats_inbox.c.app_pk == app_pk)
    if peer_keys is not None:
        found = [
            row
            for chunk in chunks(peer_keys)
            for row in conn.execute(query.where(stats_inbox.c.peer_key.in_(chunk))).all()
        ]
    else:
        found = conn.execute(query.order_by(stats_inbox.c.seq).limit(max_events)).all()
    if not found:
        return None
    plan = _Compaction()
    by_peer: dict[int, list[tuple[int, int, int, DeclaredPeerStats]]] = {}
    for seq, peer_key, h1, h2, data in found:
        plan.seqs.append(seq)
        payload = pending_json(data)
        try:
            event = _DECLARED.decode(payload)
        except msgspec.ValidationError:
            # appended under a looser schema than today's: kept in the log as received,
            # as such an event would be now, rather than left at the head of the queue
            plan.kept.append(_as_received(payload))
            continue
        by_peer.setdefault(peer_key, []).append((last_sample_ms(event.samples), h1, h2, event))
    plan.rewrites = _rewrites(conn, sorted(by_peer))
    bases = _bases(db, conn, app_pk, plan.rewrites)
    for peer_key, peer_events in by_peer.items():
        base = bases.get(peer_key)
        if base is not None:
            plan.bases.add(base.h1)
        for _, h1, h2, event in sorted(peer_events, key=lambda e: (e[0], e[1])):
            data, base = encode_event(
                event.samples, session_id=event.session_id, h2=h2, base=base, h1=h1
            )
            plan.rows.append((peer_key, h1, data))
        plan.tails[peer_key] = base  # type: ignore[assignment]
    return plan


class _Envelope(msgspec.Struct, forbid_unknown_fields=False):
    id: str
    ts: datetime
    peer_id: str
    session_id: str | None = None


_ENVELOPE = msgspec.json.Decoder(_Envelope)


def _as_received(payload: bytes) -> EventRow:
    """An inbox row's event as the log keeps one it stores as received."""
    event = _ENVELOPE.decode(payload)
    return EventRow(
        event.id,
        "peer.stats",
        datetime_to_ms(event.ts),
        event.session_id,
        event.peer_id,
        payload.decode("utf-8"),
        int(time.time() * 1000),
    )


def _rewrites(conn: Connection, peer_keys: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in chunks(peer_keys):
        found.update(
            conn.execute(
                select(stats_peers.c.peer_key, stats_peers.c.rewrites).where(
                    stats_peers.c.peer_key.in_(chunk)
                )
            ).all()
        )
    return found


def _bases(
    db: Database, conn: Connection, app_pk: int, rewrites: dict[int, int]
) -> dict[int, PeerTail]:
    """The rows this process remembers as the peers' last, still stored, the peers'
    rows not rewritten since."""
    tails = tails_of(db)
    remembered = {key: tails.get(app_pk, key) for key in rewrites}
    usable = {
        key: r.tail
        for key, r in remembered.items()
        if r is not None and r.rewrites == rewrites[key]
    }
    stored = _stored(conn, app_pk, [tail.h1 for tail in usable.values()])
    return {key: tail for key, tail in usable.items() if tail.h1 in stored}


def _stored(conn: Connection, app_pk: int, h1s: list[int]) -> set[int]:
    return {
        h1
        for chunk in chunks(h1s)
        for h1 in conn.execute(
            select(stats.c.h1).where(stats.c.app_pk == app_pk, stats.c.h1.in_(chunk))
        ).scalars()
    }


def _committed(db: Database, app_pk: int, plan: _Compaction) -> int:
    """Once a compaction is in (or, erasure's, in its transaction): its last rows are the
    peers' next bases, and it is counted; the events it took."""
    tails_of(db).put(app_pk, plan.tails, plan.rewrites)
    COMPACTED_STATS.inc(len(plan.seqs))
    return len(plan.seqs)


def _commit(db: Database, conn: Connection, app_pk: int, plan: _Compaction) -> None:
    """Insert the rows and delete the inbox rows they came from, if all is as planned
    (else ``_Changed``, the transaction to be rolled back)."""
    if _rewrites(conn, sorted(plan.rewrites)) != plan.rewrites:
        raise _Changed("a peer's rows were rewritten")
    if len(_stored(conn, app_pk, sorted(plan.bases))) != len(plan.bases):
        raise _Changed("a base row is gone")
    taken = sum(
        conn.execute(delete(stats_inbox).where(stats_inbox.c.seq.in_(chunk))).rowcount
        for chunk in chunks(plan.seqs)
    )
    if taken != len(plan.seqs):
        raise _Changed("inbox rows were taken meanwhile")
    insert_compact(conn, app_pk, plan.rows)
    if plan.kept:
        insert_new_events(db, conn, app_pk, plan.kept)
