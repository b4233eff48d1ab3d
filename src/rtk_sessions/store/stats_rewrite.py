"""Rewriting stored telemetry: a peer's compact rows in the order they decode, the same
rows without candidate addresses (erasure), and the log's ``peer.stats`` events moved
into compact rows (migration 0012)."""

from __future__ import annotations

import logging

import msgspec
from msgspec.structs import replace
from sqlalchemy import Connection, delete, select, update

from rtk_sessions.ingest.events import DeclaredPeerStats, PeerStats, StatsSample
from rtk_sessions.store.database import chunks
from rtk_sessions.store.rows import StatsRow
from rtk_sessions.store.stats import (
    count_rows,
    greater_of,
    insert_compact,
    last_sample_ms,
    peer_keys,
)
from rtk_sessions.store.stats_codec import (
    PeerTail,
    decode_each_row,
    decode_row_check,
    encode_event,
    event_id_hashes,
    row_base,
)
from rtk_sessions.store.tables import events, stats, stats_peers

log = logging.getLogger(__name__)

CANDIDATE_ADDRESSES = (  # what a candidate pair loses: IPs and what holds them
    "local_candidate_address",
    "local_candidate_related_address",
    "local_candidate_url",
    "remote_candidate_address",
    "remote_candidate_url",
)


def in_base_order(rows: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """The rows, each after its base. A row whose base is gone (it cannot be decoded)
    is left out, with the rows encoded against it, and logged."""
    by_base: dict[int | None, list[tuple[int, bytes]]] = {}
    for row in rows:
        by_base.setdefault(row_base(row[1]), []).append(row)
    ordered = by_base.pop(None, [])
    for row in ordered:  # grows as it goes: breadth first from the rows without a base
        ordered += by_base.pop(row[0], ())
    if by_base:
        orphans = sum(len(rows) for rows in by_base.values())
        log.warning("%d stored stats rows are left out: the rows they refer to are gone", orphans)
    return ordered


def without_addresses(rows: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """A peer's rows (h1, data) with no candidate address in their samples: each row
    encoded again against its base (as rewritten), keeping its key, check hash and
    session. A row whose base is gone (it cannot be read) is not among them."""
    ordered = in_base_order(rows)
    tails: dict[int, PeerTail] = {}
    rewritten = []
    for (h1, data), samples in zip(ordered, decode_each_row(ordered), strict=True):
        h2, session_id = decode_row_check(data)
        base_h1 = row_base(data)
        clean = [_scrubbed(sample) for sample in samples]
        new_data, tails[h1] = encode_event(
            clean,
            session_id=session_id,
            h2=h2,
            base=tails[base_h1] if base_h1 is not None else None,
            h1=h1,
        )
        rewritten.append((h1, new_data))
    return rewritten


def _scrubbed(sample: StatsSample) -> StatsSample:
    pair = sample.candidate_pair
    if pair is None:
        return sample
    return replace(sample, candidate_pair=replace(pair, **dict.fromkeys(CANDIDATE_ADDRESSES)))


def scrub_peers_stats(conn: Connection, app_pk: int, peer_ids: list[str], now_ms: int) -> int:
    """Rewrite the peers' compact rows without candidate addresses (a row that cannot be
    read goes); the rows changed. The peers' latest arrival moves to ``now_ms`` (at least
    1 ms later), so that every call quality derived from the rows before is derived
    again."""
    scrub = without_addresses
    changed = 0
    for peer_id in peer_ids:
        key = conn.execute(
            select(stats_peers.c.peer_key).where(
                stats_peers.c.app_pk == app_pk, stats_peers.c.peer_id == peer_id
            )
        ).scalar()
        if key is None:
            continue
        before = {
            h1: bytes(data)
            for h1, data in conn.execute(
                select(stats.c.h1, stats.c.data).where(stats.c.peer_key == key)
            )
        }
        after = dict(scrub(list(before.items())))
        for h1, data in before.items():
            if h1 not in after:
                conn.execute(delete(stats).where(stats.c.app_pk == app_pk, stats.c.h1 == h1))
            elif after[h1] != data:
                conn.execute(
                    update(stats)
                    .where(stats.c.app_pk == app_pk, stats.c.h1 == h1)
                    .values(data=after[h1])
                )
            else:
                continue
            changed += 1
        conn.execute(
            update(stats_peers)
            .where(stats_peers.c.peer_key == key)
            .values(
                last_received_ms=greater_of(stats_peers.c.last_received_ms + 1, now_ms),
                rewrites=stats_peers.c.rewrites + 1,
            )
        )
    return changed


_DECLARED = msgspec.json.Decoder(DeclaredPeerStats)
_LOGGED = msgspec.json.Decoder(PeerStats)


def _as_logged(payload: str, decoder: msgspec.json.Decoder) -> PeerStats | None:
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError:
        return None


def move_logged_stats(conn: Connection) -> int:
    """Store the log's ``peer.stats`` events compactly, a peer at a time, in the
    transaction of ``conn`` (migration 0012); the events moved. An event the schema does
    not fully declare (keys of its own, or a shape refused since it was stored) stays in
    the log as received, counted on its peer."""
    moved = 0
    peers = conn.execute(
        select(events.c.app_pk, events.c.peer_id)
        .where(events.c.type == "peer.stats")
        .distinct()
        .order_by(events.c.app_pk, events.c.peer_id)
    ).all()
    for app_pk, peer_id in peers:
        logged = conn.execute(
            select(events.c.event_id, events.c.payload, events.c.received_ms)
            .where(
                events.c.app_pk == app_pk,
                events.c.peer_id == peer_id,
                events.c.type == "peer.stats",
            )
            .order_by(events.c.ts_ms, events.c.event_id)
        ).all()
        rows, base = [], None
        for event_id, payload, received_ms in logged:
            row, base = _moved_row(event_id, payload, peer_id, received_ms, base)
            rows.append(row)
        keys = peer_keys(conn, app_pk, [peer_id])
        insert_compact(conn, app_pk, [(keys[peer_id], r.h1, r.data) for r in rows if not r.kept])
        count_rows(conn, keys, rows)
        compact = [
            event_id for (event_id, _, _), row in zip(logged, rows, strict=True) if not row.kept
        ]
        for chunk in chunks(compact):
            conn.execute(
                delete(events).where(events.c.app_pk == app_pk, events.c.event_id.in_(chunk))
            )
        moved += len(compact)
    return moved


def _moved_row(
    event_id: str, payload: str, peer_id: str, received_ms: int, base: PeerTail | None
) -> tuple[StatsRow, PeerTail | None]:
    h1, h2 = event_id_hashes(event_id)
    event = _as_logged(payload, _DECLARED)
    if event is None:  # keys of its own: kept as received
        loose = _as_logged(payload, _LOGGED)
        last_ms = received_ms if loose is None else _last_ms(loose)
        return StatsRow(peer_id, None, h1, h2, last_ms, received_ms, b"", kept=True), base
    data, tail = encode_event(event.samples, session_id=event.session_id, h2=h2, base=base, h1=h1)
    row = StatsRow(peer_id, event.session_id, h1, h2, _last_ms(event), received_ms, data)
    return row, tail


def _last_ms(event: PeerStats) -> int:
    return last_sample_ms(event.samples)
