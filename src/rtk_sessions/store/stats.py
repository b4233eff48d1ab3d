"""Telemetry at rest: each ``peer.stats`` event a row of ``stats_inbox`` as appended,
then (the folder's ``store.stats_compact``) a compact row of ``stats``; each peer's
numbers (events, latest sample, latest arrival) on its ``stats_peers`` row.

What a compact row's data holds is ``store/stats_codec``'s; an inbox row's is the
event's JSON, zlib-compressed. Either is keyed by ``h1``, a 64-bit hash of the event's
id, unique in the app, and the append looks in both tables, so a re-delivery is found
wherever the event is; an event whose h1 is another event's (told apart by a second
hash, ``h2``), or that has keys the schema does not declare, is kept in the log as
received instead, and counts as one of the peer's events all the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.prepared import Prepared, Snapshot, in_list
from rtk_sessions.store.rows import StatsRow
from rtk_sessions.store.stats_codec import decode_row_check
from rtk_sessions.store.tables import events, stats, stats_inbox, stats_peers

#: (events, latest sample time, latest arrival): changes whenever a peer's stats do.
StatsVersion = tuple[int, int, int]
NO_STATS: StatsVersion = (0, 0, 0)


@dataclass(frozen=True, slots=True)
class StoredStats:
    """A peer's stored stats: the compact rows (h1, data), in no particular order, and
    the events not compacted (JSON: appended and not yet compacted, or kept in the log
    as received), with the version of all of them."""

    version: StatsVersion
    rows: list[tuple[int, bytes]]
    payloads: list[str | bytes]


# --------------------------------------------------------------------------
# appending
# --------------------------------------------------------------------------

_PG_APPEND = """
INSERT INTO stats_inbox (app_pk, peer_key, h1, h2, data)
SELECT %(app_pk)b, r.peer_key, r.h1, r.h2, r.data
FROM unnest(%(peer_keys)b::integer[], %(h1s)b::bigint[], %(h2s)b::bigint[],
            %(data)b::bytea[]) AS r(peer_key, h1, h2, data)
ORDER BY r.h1
ON CONFLICT DO NOTHING
RETURNING h1
"""
_SQLITE_APPEND = "INSERT INTO stats_inbox (app_pk, peer_key, h1, h2, data) VALUES (?, ?, ?, ?, ?)"


_TS = attrgetter("ts")


def last_sample_ms(samples: Iterable[Any]) -> int:
    """The time of the latest of an event's samples, in ms. The latest is found among
    the datetimes in C (a stats event holds dozens); should a naive one be among them
    (taken as UTC, as ``datetime_to_ms`` does), each is converted first."""
    try:
        return datetime_to_ms(max(map(_TS, samples)))
    except TypeError:  # naive and aware datetimes do not compare
        return max(map(datetime_to_ms, map(_TS, samples)))


def pending_data(payload: str) -> bytes:
    """An inbox row's data: the event's JSON as received. Not compressed here, where it
    would cost the append a fifth of its time: PostgreSQL compresses the column (lz4,
    in its own process), SQLite keeps it for the little while until it is compacted."""
    return payload.encode("utf-8")


def pending_json(data: bytes) -> bytes:
    """The JSON of an inbox row's event."""
    return bytes(data)


@dataclass(frozen=True, slots=True)
class StatsAppended:
    event_ids: frozenset[str]  # of the rows put in the inbox now
    collided: list[StatsRow]  # not stored: another event's key; to be kept in the log


def append_stats(
    conn: Connection, app_pk: int, rows: list[StatsRow], kept_new: set[str]
) -> StatsAppended:
    """Put the rows not ``kept`` in the inbox, but those whose keys are stored already:
    by the same event (a re-delivery, left out) or by another (``collided``, as is the
    second of a batch's events that share a key); count the rows stored now and the kept
    events the log took (``kept_new``: their ids) on their peers."""
    pending = [row for row in rows if not row.kept]
    counted = [row for row in rows if row.kept and _event_id(row) in kept_new]
    if not pending and not counted:
        return StatsAppended(frozenset(), [])
    keys = peer_keys(conn, app_pk, sorted({row.peer_id for row in rows}))
    stored = stored_checks(conn, app_pk, [row.h1 for row in pending])
    new: dict[int, StatsRow] = {}
    collided: list[StatsRow] = []
    for row in pending:
        if row.h1 in new:
            collided.append(row)
        elif row.h1 not in stored:
            new[row.h1] = row
    stored_now = _insert(conn, app_pk, keys, list(new.values()))
    if len(stored_now) < len(new):  # a concurrent append stored some of them meanwhile
        stored |= stored_checks(conn, app_pk, [h1 for h1 in new if h1 not in stored_now])
    collided += [
        row
        for row in pending
        if row.h1 in stored and row.h1 not in stored_now and stored[row.h1] != row.check
    ]
    appended = [new[h1] for h1 in stored_now]
    count_rows(conn, keys, appended + counted)
    return StatsAppended(frozenset(map(_event_id, appended)), collided)


def _event_id(row: StatsRow) -> str | None:
    return None if row.logged is None else row.logged.event_id


def _insert(conn: Connection, app_pk: int, keys: dict[str, int], rows: list[StatsRow]) -> set[int]:
    """Insert the rows into the inbox; the keys inserted (on PostgreSQL, one another
    append inserted meanwhile is left out)."""
    if not rows:
        return set()
    if conn.dialect.name != "sqlite":  # one statement, binary arrays, in key order (no deadlock)
        found = conn.exec_driver_sql(
            _PG_APPEND,
            {
                "app_pk": app_pk,
                "peer_keys": [keys[r.peer_id] for r in rows],
                "h1s": [r.h1 for r in rows],
                "h2s": [r.check for r in rows],
                "data": [r.data for r in rows],
            },
        )
        return {h1 for (h1,) in found.fetchall()}
    # SQLite: the write lock is held since the keys were looked up: all are new
    driver = conn.connection.driver_connection
    driver.executemany(  # type: ignore[union-attr]
        _SQLITE_APPEND, [(app_pk, keys[r.peer_id], r.h1, r.check, r.data) for r in rows]
    )
    return {r.h1 for r in rows}


_INBOX_CHECKS = Prepared(
    select(stats_inbox.c.h1, stats_inbox.c.h2).where(
        stats_inbox.c.app_pk == bindparam("app_pk"), in_list(stats_inbox.c.h1, "h1s")
    )
)
_COMPACT_CHECKS = Prepared(
    select(stats.c.h1, stats.c.data).where(
        stats.c.app_pk == bindparam("app_pk"), in_list(stats.c.h1, "h1s")
    )
)


def stored_checks(conn: Connection, app_pk: int, h1s: list[int]) -> dict[int, int]:
    """The check hash (h2) stored under each of these keys that is, in the inbox or
    compact, in the transaction of ``conn``. The inbox is looked at first: an event the
    folder compacts meanwhile is then found in ``stats`` by the second statement."""
    if not h1s:
        return {}
    reads = Snapshot.of(conn)
    found: dict[int, int] = dict(
        reads.fetch(_INBOX_CHECKS, {"app_pk": app_pk, "h1s": reads.listed(h1s)})
    )
    rest = [h1 for h1 in h1s if h1 not in found]
    if rest:
        for h1, data in reads.fetch(_COMPACT_CHECKS, {"app_pk": app_pk, "h1s": reads.listed(rest)}):
            found[h1] = decode_row_check(bytes(data))[0]
    return found


def peer_keys(conn: Connection, app_pk: int, peer_ids: list[str]) -> dict[str, int]:
    """The peers' keys, made for those that have none yet."""
    insert = sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert
    conn.execute(
        insert(stats_peers).on_conflict_do_nothing(),
        [{"app_pk": app_pk, "peer_id": peer_id} for peer_id in peer_ids],
    )
    found: dict[str, int] = {}
    for chunk in chunks(peer_ids):
        found.update(
            conn.execute(
                select(stats_peers.c.peer_id, stats_peers.c.peer_key).where(
                    stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
                )
            ).all()
        )
    return found


def insert_compact(conn: Connection, app_pk: int, rows: list[tuple[int, int, bytes]]) -> None:
    """Store compact rows (peer key, h1, data) whose keys are new."""
    if rows:
        conn.execute(
            stats.insert(),
            [{"app_pk": app_pk, "peer_key": k, "h1": h1, "data": data} for k, h1, data in rows],
        )


def count_kept(conn: Connection, app_pk: int, rows: list[StatsRow]) -> None:
    """Count on their peers events the log took as received."""
    if rows:
        count_rows(conn, peer_keys(conn, app_pk, sorted({r.peer_id for r in rows})), rows)


def count_rows(conn: Connection, keys: dict[str, int], rows: list[StatsRow]) -> None:
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
_PENDING = Prepared(
    select(stats_peers.c.peer_id, stats_inbox.c.data)
    .join(stats_inbox, stats_inbox.c.peer_key == stats_peers.c.peer_key)
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
    kept: dict[str, list[str | bytes]] = {peer_id: [] for peer_id in peer_ids}
    with db.snapshot() as reads:
        params = {"app_pk": app_pk, "ids": reads.listed(peer_ids)}
        versions = stats_versions(reads, app_pk, peer_ids)
        for peer_id, h1, data in reads.fetch(_ROWS, params):
            rows[peer_id].append((h1, bytes(data)))
        for peer_id, data in reads.fetch(_PENDING, params):
            kept[peer_id].append(pending_json(data))
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
    """Remove the peers' stats, rows and numbers (what the log kept as received goes
    with the log's events); the rows removed. The inbox's first: a compaction that
    committed meanwhile has its rows in ``stats`` by the time the second statement
    looks (one that has not yet finds its inbox rows gone and rolls back)."""
    removed = 0
    for chunk in chunks(peer_ids):
        keyed = select(stats_peers.c.peer_key).where(
            stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
        )
        removed += conn.execute(
            delete(stats_inbox).where(stats_inbox.c.peer_key.in_(keyed))
        ).rowcount
        removed += conn.execute(delete(stats).where(stats.c.peer_key.in_(keyed))).rowcount
        conn.execute(
            delete(stats_peers).where(
                stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id.in_(chunk)
            )
        )
    return removed
