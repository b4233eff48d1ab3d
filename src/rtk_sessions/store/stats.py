"""Telemetry at rest: each ``peer.stats`` event a compact row of ``stats``, each peer's
numbers (events, latest sample, latest arrival) on its ``stats_peers`` row.

What a row's data holds is ``ingest/stats_codec.py``'s: this module stores and finds
rows. A row is keyed by ``h1``, a 64-bit hash of the event's id, unique in the app
(a re-delivery finds it); an event whose h1 is another event's, or that has keys the
schema does not declare, is kept in the log as received instead (``StatsRow.kept``),
and counts as one of the peer's events all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.prepared import Prepared, Snapshot, in_list, list_param
from rtk_sessions.store.rows import StatsRow
from rtk_sessions.store.stats_codec import decode_row_check
from rtk_sessions.store.tables import events, stats, stats_peers

#: (events, latest sample time, latest arrival): changes whenever a peer's stats do.
StatsVersion = tuple[int, int, int]
NO_STATS: StatsVersion = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class StoredStats:
    """A peer's stored stats: the compact rows (h1, data), in no particular order, and
    the events kept as received (JSON), with the version of all of them."""

    version: StatsVersion
    rows: list[tuple[int, bytes]]
    payloads: list[str]


# --------------------------------------------------------------------------
# appending
# --------------------------------------------------------------------------

_STORED = Prepared(
    select(stats.c.h1, stats.c.data).where(
        stats.c.app_pk == bindparam("app_pk"), in_list(stats.c.h1, "h1s")
    )
)
_PG_APPEND = """
INSERT INTO stats (app_pk, peer_key, h1, data)
SELECT %(app_pk)b, r.peer_key, r.h1, r.data
FROM unnest(%(peer_keys)b::integer[], %(h1s)b::bigint[], %(data)b::bytea[])
     AS r(peer_key, h1, data)
ORDER BY r.h1
ON CONFLICT DO NOTHING
RETURNING h1
"""
_SQLITE_APPEND = "INSERT OR IGNORE INTO stats (app_pk, peer_key, h1, data) VALUES (?, ?, ?, ?)"


def stored_rows(db: Database, app_pk: int, h1s: list[int]) -> dict[int, bytes]:
    """The data of the rows already stored under these keys (a re-delivery's, or another
    event's that shares the key)."""
    if not h1s:
        return {}
    params = {"app_pk": app_pk, "h1s": list_param(h1s, sqlite=db.is_sqlite)}
    return dict(db.fetch(_STORED, params))


@dataclass(frozen=True, slots=True)
class StatsAppended:
    keys: frozenset[int]  # of the compact rows stored now
    rewrites: dict[str, int]  # of each peer of the batch: what its new rows are based on


class StatsAppendRaced(Exception):
    """What the rows of a batch were encoded against changed since they were prepared:
    another writer stored another event under one of their keys, or the rows of ``peers`` were rewritten (erasure). The append is rolled back, to be
    prepared again (without a remembered base for ``peers``)."""

    def __init__(self, message: str, peers: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.peers = peers


def append_stats(
    conn: Connection, app_pk: int, rows: list[StatsRow], kept_new: set[str]
) -> StatsAppended:
    """Store the compact rows (their keys must be new: else ``StatsAppendRaced``), and
    count them and the kept events the log took (``kept_new``: their ids) on their
    peers."""
    compact = [row for row in rows if row.kept is None]
    counted = [row for row in rows if row.kept is not None and row.kept.event_id in kept_new]
    if not compact and not counted:
        return StatsAppended(frozenset(), {})
    peers = _peers(conn, app_pk, sorted({row.peer_id for row in rows}))
    rewritten = frozenset(
        row.peer_id
        for row in compact
        if row.base_rewrites is not None and row.base_rewrites != peers[row.peer_id][1]
    )
    if rewritten:
        raise StatsAppendRaced(f"{len(rewritten)} peers' rows were rewritten", rewritten)
    keys = {peer_id: key for peer_id, (key, _) in peers.items()}
    stored_now = _insert(conn, app_pk, keys, compact)
    _count(conn, keys, [row for row in compact if row.h1 in stored_now] + counted)
    rewrites = {peer_id: count for peer_id, (_, count) in peers.items()}
    return StatsAppended(stored_now, rewrites)


def _insert(
    conn: Connection, app_pk: int, keys: dict[str, int], rows: list[StatsRow]
) -> frozenset[int]:
    """Store the rows; the keys stored now. A key another writer stored since the batch
    was prepared is the same event delivered twice at once, left out (that writer counted
    it), unless a row stored now is encoded against it (the stored copy may be encoded
    otherwise) or its check differs (another event): then the batch is to be prepared
    again (``StatsAppendRaced``)."""
    if not rows:
        return frozenset()
    if conn.dialect.name != "sqlite":  # one statement, binary arrays, in key order (no deadlock)
        found = conn.exec_driver_sql(
            _PG_APPEND,
            {
                "app_pk": app_pk,
                "peer_keys": [keys[r.peer_id] for r in rows],
                "h1s": [r.h1 for r in rows],
                "data": [r.data for r in rows],
            },
        )
        stored_now = frozenset(h1 for (h1,) in found.fetchall())
        _refuse_races(conn, app_pk, rows, stored_now)
        return stored_now
    # SQLite: the write lock is held, so the keys stored before are exactly those the
    # INSERT OR IGNORE leaves; when any is, the rows go in again without them
    driver = conn.connection.driver_connection
    values = [(app_pk, keys[r.peer_id], r.h1, r.data) for r in rows]
    driver.execute("SAVEPOINT stats_rows")  # type: ignore[union-attr]
    if driver.executemany(_SQLITE_APPEND, values).rowcount != len(rows):  # type: ignore[union-attr]
        driver.execute("ROLLBACK TO stats_rows")  # type: ignore[union-attr]
        before = _stored_before(conn, app_pk, rows)
        rows = [r for r in rows if r.h1 not in before]
        _refuse_races(conn, app_pk, rows + list(before.values()), frozenset(r.h1 for r in rows))
        driver.executemany(  # type: ignore[union-attr]
            _SQLITE_APPEND, [(app_pk, keys[r.peer_id], r.h1, r.data) for r in rows]
        )
    driver.execute("RELEASE stats_rows")  # type: ignore[union-attr]
    return frozenset(r.h1 for r in rows)


def _stored_before(conn: Connection, app_pk: int, rows: list[StatsRow]) -> dict[int, StatsRow]:
    """Those of ``rows`` whose keys are stored, by key (SQLite, under the write lock)."""
    found = _stored_in(conn, app_pk, [r.h1 for r in rows])
    return {r.h1: r for r in rows if r.h1 in found}


def _stored_in(conn: Connection, app_pk: int, h1s: list[int]) -> dict[int, bytes]:
    """The data stored under these keys, in the transaction of ``conn``."""
    stored: dict[int, bytes] = {}
    for chunk in chunks(h1s):
        found = conn.execute(
            select(stats.c.h1, stats.c.data).where(stats.c.app_pk == app_pk, stats.c.h1.in_(chunk))
        )
        stored.update((h1, data) for h1, data in found)
    return stored


def _refuse_races(
    conn: Connection, app_pk: int, rows: list[StatsRow], stored_now: frozenset[int]
) -> None:
    """``StatsAppendRaced`` unless every row of the batch not stored now is stored by
    the same event and none stored now is encoded against one of them."""
    others = [r for r in rows if r.h1 not in stored_now]
    if not others:
        return
    left_out = {r.h1 for r in others}
    if any(r.base in left_out for r in rows if r.h1 in stored_now):
        raise StatsAppendRaced("an event a row is encoded against was stored meanwhile")
    stored = _stored_in(conn, app_pk, sorted(left_out))
    if any(
        r.h1 not in stored or decode_row_check(bytes(stored[r.h1]))[0] != r.check for r in others
    ):
        raise StatsAppendRaced("another event with the same key was stored meanwhile")


def _peers(conn: Connection, app_pk: int, peer_ids: list[str]) -> dict[str, tuple[int, int]]:
    """The peers' (key, rewrites), made for those that have none yet."""
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    conn.execute(
        insert(stats_peers).on_conflict_do_nothing(),
        [{"app_pk": app_pk, "peer_id": peer_id} for peer_id in peer_ids],
    )
    found: dict[str, tuple[int, int]] = {}
    for chunk in chunks(peer_ids):
        for peer_id, key, rewrites in conn.execute(
            select(stats_peers.c.peer_id, stats_peers.c.peer_key, stats_peers.c.rewrites).where(
                stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
            )
        ):
            found[peer_id] = (key, rewrites)
    return found


def _count(conn: Connection, keys: dict[str, int], rows: list[StatsRow]) -> None:
    """Add the rows to their peers' numbers."""
    per_peer: dict[str, list[StatsRow]] = {}
    for row in rows:
        per_peer.setdefault(row.peer_id, []).append(row)
    if not per_peer:
        return
    conn.execute(
        update(stats_peers)
        .where(stats_peers.c.peer_key == bindparam("b_peer_key"))
        .values(
            rows=stats_peers.c.rows + bindparam("b_rows"),
            last_ms=greater_of(stats_peers.c.last_ms, bindparam("b_last_ms")),
            last_received_ms=greater_of(
                stats_peers.c.last_received_ms, bindparam("b_last_received_ms")
            ),
            session_id=_coalesce(bindparam("b_session_id"), stats_peers.c.session_id),
        ),
        [
            {
                "b_peer_key": keys[peer_id],
                "b_rows": len(peer_rows),
                "b_last_ms": max(r.last_ms for r in peer_rows),
                "b_last_received_ms": max(r.received_ms for r in peer_rows),
                "b_session_id": next(
                    (r.session_id for r in reversed(peer_rows) if r.session_id), None
                ),
            }
            for peer_id, peer_rows in sorted(per_peer.items())
        ],
    )


def greater_of(column: Any, value: Any) -> Any:
    return case((column > value, column), else_=value)


def _coalesce(value: Any, column: Any) -> Any:
    return func.coalesce(value, column)


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------

_VERSIONS = Prepared(
    select(
        stats_peers.c.peer_id,
        stats_peers.c.rows,
        stats_peers.c.last_ms,
        stats_peers.c.last_received_ms,
    ).where(stats_peers.c.app_pk == bindparam("app_pk"), in_list(stats_peers.c.peer_id, "ids"))
)
_ROWS = Prepared(
    select(stats_peers.c.peer_id, stats.c.h1, stats.c.data)
    .join(stats, stats.c.peer_key == stats_peers.c.peer_key)
    .where(stats_peers.c.app_pk == bindparam("app_pk"), in_list(stats_peers.c.peer_id, "ids"))
)
_KEPT = Prepared(
    select(events.c.peer_id, events.c.payload).where(
        events.c.app_pk == bindparam("app_pk"),
        in_list(events.c.peer_id, "ids"),
        events.c.type == "peer.stats",
    )
)


def stats_versions(reads: Snapshot, app_pk: int, peer_ids: list[str]) -> dict[str, StatsVersion]:
    """The version of each peer's stored stats; none: (0, 0, 0)."""
    found = {
        peer_id: (count, last_ms, last_received)
        for peer_id, count, last_ms, last_received in reads.fetch(
            _VERSIONS, {"app_pk": app_pk, "ids": reads.listed(peer_ids)}
        )
        if count
    }
    return {peer_id: found.get(peer_id, NO_STATS) for peer_id in peer_ids}


def load_stats(db: Database, app_pk: int, peer_ids: list[str]) -> dict[str, StoredStats]:
    """The peers' stored stats, in one snapshot."""
    rows: dict[str, list[tuple[int, bytes]]] = {peer_id: [] for peer_id in peer_ids}
    kept: dict[str, list[str]] = {peer_id: [] for peer_id in peer_ids}
    with db.snapshot() as reads:
        params = {"app_pk": app_pk, "ids": reads.listed(peer_ids)}
        versions = stats_versions(reads, app_pk, peer_ids)
        for peer_id, h1, data in reads.fetch(_ROWS, params):
            rows[peer_id].append((h1, bytes(data)))
        for peer_id, payload in reads.fetch(_KEPT, params):
            kept[peer_id].append(payload)
    return {
        peer_id: StoredStats(versions[peer_id], rows[peer_id], kept[peer_id])
        for peer_id in peer_ids
    }


def recent_stats_peers(reads: Snapshot, app_pk: int, since_ms: int) -> list[str]:
    """Peers whose stats arrived at or after ``since_ms``."""
    return [
        peer_id for (peer_id,) in reads.fetch(_RECENT, {"app_pk": app_pk, "since_ms": since_ms})
    ]


_RECENT = Prepared(
    select(stats_peers.c.peer_id).where(
        stats_peers.c.app_pk == bindparam("app_pk"),
        stats_peers.c.last_received_ms >= bindparam("since_ms"),
    )
)


# --------------------------------------------------------------------------
# removing (retention, erasure)
# --------------------------------------------------------------------------


def delete_peers_stats(conn: Connection, app_pk: int, peer_ids: list[str]) -> int:
    """Remove the peers' compact stats, rows and numbers (what the log kept as received
    goes with the log's events); the compact rows removed."""
    removed = 0
    for chunk in chunks(peer_ids):
        keyed = select(stats_peers.c.peer_key).where(
            stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
        )
        removed += conn.execute(delete(stats).where(stats.c.peer_key.in_(keyed))).rowcount
        conn.execute(
            delete(stats_peers).where(
                stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
            )
        )
    return removed
