"""Reading participants (peers) of a session, and the events stored about a peer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from sqlalchemy import BigInteger, ColumnElement, Connection, case, func, literal, select

from rtk_sessions.store.sessions import Page
from rtk_sessions.store.tables import events, peers

ParticipantSort = Literal["joinedAt", "duration"]

_joined = peers.c.joined_ms.is_not(None)


def duration_ms_expression(closed_ms: int | None, now_ms: int) -> ColumnElement[int]:
    """A peer's milliseconds in a session closed at ``closed_ms`` (None: not closed).

    SQL twin of ``analytics.lifecycle.peer_duration_ms``; a test holds them together.
    """
    left: ColumnElement[Any] = peers.c.left_ms
    if closed_ms is not None:
        closed = literal(closed_ms, BigInteger)
        left = case(
            (peers.c.left_ms.is_(None) | (peers.c.left_ms > closed), closed), else_=peers.c.left_ms
        )
    until = func.coalesce(left, literal(now_ms, BigInteger))
    return case((until < peers.c.joined_ms, 0), else_=until - peers.c.joined_ms)


def list_peers(
    conn: Connection,
    app_pk: int,
    session_id: str,
    *,
    closed_ms: int | None,
    search: str | None,
    sort_by: ParticipantSort,
    descending: bool,
    page: Page,
    now_ms: int,
) -> tuple[list[dict], int]:
    """One page of the session's peers (who have joined) and how many match."""
    conditions = [peers.c.app_pk == app_pk, peers.c.session_id == session_id, _joined]
    if search:
        conditions.append(peers.c.search_text.contains(search.casefold(), autoescape=True))
    key = peers.c.joined_ms if sort_by == "joinedAt" else duration_ms_expression(closed_ms, now_ms)
    order = (
        [key.desc(), peers.c.peer_id.desc()] if descending else [key.asc(), peers.c.peer_id.asc()]
    )
    rows = conn.execute(
        select(peers).where(*conditions).order_by(*order).offset(page.offset).limit(page.limit)
    )
    total = conn.execute(select(func.count()).select_from(peers).where(*conditions)).scalar_one()
    return [dict(row._mapping) for row in rows], total


def peers_of_sessions(conn: Connection, app_pk: int, session_ids: Iterable[str]) -> list[dict]:
    """Every joined peer of the given sessions (for the consolidated view)."""
    rows = conn.execute(
        select(peers).where(
            peers.c.app_pk == app_pk, peers.c.session_id.in_(list(session_ids)), _joined
        )
    )
    return [dict(row._mapping) for row in rows]


def get_peer(conn: Connection, app_pk: int, session_id: str, peer_id: str) -> dict | None:
    row = conn.execute(
        select(peers).where(
            peers.c.app_pk == app_pk,
            peers.c.session_id == session_id,
            peers.c.peer_id == peer_id,
            _joined,
        )
    ).first()
    return dict(row._mapping) if row else None


def peer_event_payloads(
    conn: Connection, app_pk: int, peer_id: str, types: Iterable[str]
) -> dict[str, list[dict]]:
    """Stored events about a peer, by type, each as received (JSON decoded), in time order."""
    wanted = list(types)
    found: dict[str, list[dict]] = {t: [] for t in wanted}
    rows = conn.execute(
        select(events.c.type, events.c.payload)
        .where(events.c.app_pk == app_pk, events.c.peer_id == peer_id, events.c.type.in_(wanted))
        .order_by(events.c.ts_ms, events.c.event_id)
    )
    for event_type, payload in rows:
        found[event_type].append(msgspec.json.decode(payload))
    return found


def find_peer(conn: Connection, app_pk: int, peer_id: str) -> dict | None:
    """The joined peer with this id, in whichever session it is (peer ids are unique per
    app; if a client reused one, its earliest join)."""
    row = conn.execute(
        select(peers)
        .where(peers.c.app_pk == app_pk, peers.c.peer_id == peer_id, _joined)
        .order_by(peers.c.joined_ms, peers.c.session_id)
        .limit(1)
    ).first()
    return dict(row._mapping) if row else None


def peers_of_user(conn: Connection, app_pk: int, session_id: str, peer: dict) -> list[str]:
    """Ids of the peers of ``peer``'s user in the session, in join order (just ``peer``'s
    own id when it has no user id)."""
    if peer["user_id"] is None:
        return [peer["peer_id"]]
    rows = conn.execute(
        select(peers.c.peer_id)
        .where(
            peers.c.app_pk == app_pk,
            peers.c.session_id == session_id,
            peers.c.user_id == peer["user_id"],
            _joined,
        )
        .order_by(peers.c.joined_ms, peers.c.peer_id)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class StoredStats:
    """A peer's stored ``peer.stats`` events: their JSON text, and a version that changes
    whenever the set of events does (how many, the latest sample time, the latest arrival)."""

    version: tuple[int, int, int]
    payloads: list[str]


def stats_versions(
    conn: Connection, app_pk: int, peer_ids: list[str]
) -> dict[str, tuple[int, int, int]]:
    """The version of each peer's stored stats (see :class:`StoredStats`); no events: (0, 0, 0)."""
    rows = conn.execute(
        select(
            events.c.peer_id, func.count(), func.max(events.c.ts_ms), func.max(events.c.received_ms)
        )
        .where(
            events.c.app_pk == app_pk, events.c.peer_id.in_(peer_ids), events.c.type == "peer.stats"
        )
        .group_by(events.c.peer_id)
    )
    found = {
        peer_id: (count, last_ts, last_received) for peer_id, count, last_ts, last_received in rows
    }
    return {peer_id: found.get(peer_id, (0, 0, 0)) for peer_id in peer_ids}


def stats_payloads(conn: Connection, app_pk: int, peer_ids: list[str]) -> dict[str, StoredStats]:
    """The stored ``peer.stats`` events of each peer, as received (JSON text), with their version."""
    found: dict[str, list[tuple[str, int, int]]] = {peer_id: [] for peer_id in peer_ids}
    rows = conn.execute(
        select(events.c.peer_id, events.c.payload, events.c.ts_ms, events.c.received_ms).where(
            events.c.app_pk == app_pk,
            events.c.peer_id.in_(peer_ids),
            events.c.type == "peer.stats",
        )
    )
    for peer_id, payload, ts_ms, received_ms in rows:
        found[peer_id].append((payload, ts_ms, received_ms))
    return {peer_id: _stored_stats(stored) for peer_id, stored in found.items()}


def _stored_stats(stored: list[tuple[str, int, int]]) -> StoredStats:
    """(payload, ts_ms, received_ms) rows as StoredStats; the version as stats_versions
    computes it in SQL: (count, latest ts, latest arrival), (0, 0, 0) for none."""
    if not stored:
        return StoredStats(version=(0, 0, 0), payloads=[])
    payloads, sample_times, arrivals = zip(*stored, strict=True)
    return StoredStats(
        version=(len(stored), max(sample_times), max(arrivals)), payloads=list(payloads)
    )
