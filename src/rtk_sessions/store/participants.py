"""Reading participants (peers) of a session, and the events stored about a peer.

The API reads through :func:`participants_page` and :func:`load_participant`:
each opens one read snapshot and answers with typed rows, or raises
:class:`~rtk_sessions.store.apps.Missing`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
)

from rtk_sessions.analytics.participants import ParticipantView, consolidate, participant_view
from rtk_sessions.store.apps import Missing
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.prepared import Prepared, Snapshot
from rtk_sessions.store.rows import PeerRow, SessionRow, row_of, select_rows
from rtk_sessions.store.sessions import Page, app_session, read_session
from rtk_sessions.store.stats import StatsVersion, stats_versions
from rtk_sessions.store.tables import events, peers, sessions

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


@dataclass(frozen=True, slots=True)
class ParticipantQuery:
    """What a participants list asks for. ``consolidated``: one row per user over the
    session and its breakout rooms, else one row per peer of the session."""

    consolidated: bool = False
    search: str | None = None
    sort_by: ParticipantSort = "joinedAt"
    descending: bool = False
    page: Page = Page(0, 25)


@dataclass(frozen=True, slots=True)
class ParticipantsPage:
    participants: list[ParticipantView]
    total: int  # rows matching the search, on every page


def participants_page(
    db: Database,
    account_id: str,
    app_id: str,
    session_id: str,
    query: ParticipantQuery,
    now_ms: int,
) -> ParticipantsPage:
    """One page of the session's participants as of ``now_ms`` (raises :class:`Missing`)."""
    app_pk = readable_app(db, account_id, app_id)
    if query.consolidated:
        return _consolidated_page(db, app_pk, session_id, query, now_ms)
    with db.read() as conn:
        app_pk, session = app_session(conn, app_pk, session_id)
        return _peers_page(conn, app_pk, session, query, now_ms)


def _peers_page(
    conn: Connection, app_pk: int, session: SessionRow, query: ParticipantQuery, now_ms: int
) -> ParticipantsPage:
    """Searched, sorted and paged in SQL."""
    conditions = [peers.c.app_pk == app_pk, peers.c.session_id == session.session_id, _joined]
    if query.search:
        conditions.append(peers.c.search_text.contains(query.search.casefold(), autoescape=True))
    key = (
        peers.c.joined_ms
        if query.sort_by == "joinedAt"
        else duration_ms_expression(session.closed_ms, now_ms)
    )
    direction = (lambda c: c.desc()) if query.descending else (lambda c: c.asc())
    rows = conn.execute(
        select_rows(PeerRow, peers)
        .where(*conditions)
        .order_by(direction(key), direction(peers.c.peer_id))
        .offset(query.page.offset)
        .limit(query.page.limit)
    )
    views = [participant_view(row_of(PeerRow, r), session.closed_ms, now_ms) for r in rows]
    total = conn.execute(select(func.count()).select_from(peers).where(*conditions)).scalar_one()
    return ParticipantsPage(views, total)


def _consolidated_page(
    db: Database,
    app_pk: int | None,
    session_id: str,
    query: ParticipantQuery,
    now_ms: int,
) -> ParticipantsPage:
    """Folded per user in Python (a user's rows span the session and its rooms, each
    closed at its own time), then searched, sorted and paged here. The session, its
    rooms and all their peers come in two prepared reads of one snapshot (a 1,000-peer
    webinar has over a thousand rows)."""
    if app_pk is None:
        raise Missing(f"session {session_id} not found")
    with db.snapshot() as snapshot:
        session, rooms = read_session(snapshot, app_pk, session_id, with_rooms=True)
        params = {"app_pk": app_pk, "session_id": session_id}
        rows = snapshot.fetch(_PEERS_WITH_ROOMS, params)
    closed = {s.session_id: s.closed_ms for s in [session, *rooms]}
    views = [
        participant_view(peer, closed[peer.session_id], now_ms)
        for peer in (row_of(PeerRow, r) for r in rows)
    ]
    found = consolidate(views, session.session_id)
    if query.search:
        needle = query.search.casefold()
        found = [v for v in found if needle in v.search_text]
    if query.sort_by == "joinedAt":
        found.sort(key=lambda v: (v.joined_ms, v.peer.peer_id), reverse=query.descending)
    else:
        found.sort(key=lambda v: (v.duration_ms, v.peer.peer_id), reverse=query.descending)
    page = query.page
    return ParticipantsPage(found[page.offset : page.offset + page.limit], len(found))


# The joined peers of session ``session_id`` and of its started rooms.
_PEERS_WITH_ROOMS = Prepared(
    select_rows(PeerRow, peers).where(
        peers.c.app_pk == bindparam("app_pk"),
        _joined,
        peers.c.session_id.in_(
            select(sessions.c.session_id).where(
                sessions.c.app_pk == bindparam("app_pk"),
                or_(
                    sessions.c.session_id == bindparam("session_id"),
                    and_(
                        sessions.c.parent_session_id == bindparam("session_id"),
                        sessions.c.started_ms.is_not(None),
                    ),
                ),
            )
        ),
    )
)


@dataclass(frozen=True, slots=True)
class StoredParticipant:
    """A participant as stored, for its details: the app key, its session, the peer, the
    decoded ``peer.metadata`` and ``peer.event`` payloads about it in time order, and (when
    asked for) the stats version of each peer of its user in the session, in join order."""

    app_pk: int
    session: SessionRow
    peer: PeerRow
    metadata: list[dict]
    events: list[dict]
    user_stats_versions: dict[str, StatsVersion]


def load_participant(
    db: Database,
    account_id: str,
    app_id: str,
    session_id: str,
    peer_id: str,
    *,
    with_stats_versions: bool,
) -> StoredParticipant:
    """One participant of a session, in one snapshot (raises :class:`Missing`)."""
    app_pk = readable_app(db, account_id, app_id)
    with db.read() as conn:
        app_pk, session = app_session(conn, app_pk, session_id)
        found = conn.execute(
            select_rows(PeerRow, peers).where(
                peers.c.app_pk == app_pk,
                peers.c.session_id == session_id,
                peers.c.peer_id == peer_id,
                _joined,
            )
        ).first()
        if found is None:
            raise Missing(f"participant {peer_id} not found in session {session_id}")
        peer = row_of(PeerRow, found)
        stored = peer_event_payloads(conn, app_pk, peer_id, ["peer.metadata", "peer.event"])
        versions = {}
        if with_stats_versions:
            versions = stats_versions(Snapshot.of(conn), app_pk, _peers_of_user(conn, app_pk, peer))
    return StoredParticipant(
        app_pk, session, peer, stored["peer.metadata"], stored["peer.event"], versions
    )


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


def find_peer(conn: Connection, app_pk: int, peer_id: str) -> PeerRow | None:
    """The joined peer with this id, in whichever session it is (peer ids are unique per
    app; if a client reused one, its earliest join)."""
    row = conn.execute(
        select_rows(PeerRow, peers)
        .where(peers.c.app_pk == app_pk, peers.c.peer_id == peer_id, _joined)
        .order_by(peers.c.joined_ms, peers.c.session_id)
        .limit(1)
    ).first()
    return row_of(PeerRow, row) if row else None


def _peers_of_user(conn: Connection, app_pk: int, peer: PeerRow) -> list[str]:
    """Ids of the peers of ``peer``'s user in its session, in join order (just ``peer``'s
    own id when it has no user id)."""
    if peer.user_id is None:
        return [peer.peer_id]
    rows = conn.execute(
        select(peers.c.peer_id)
        .where(
            peers.c.app_pk == app_pk,
            peers.c.session_id == peer.session_id,
            peers.c.user_id == peer.user_id,
            _joined,
        )
        .order_by(peers.c.joined_ms, peers.c.peer_id)
    )
    return list(rows.scalars())


@dataclass(frozen=True, slots=True)
class SessionTimeline:
    """A session, its started rooms and every joined peer of both, from one snapshot."""

    app_pk: int
    session: SessionRow
    rooms: list[SessionRow]
    peers: list[PeerRow]


def session_timeline(
    db: Database, account_id: str, app_id: str, session_id: str
) -> SessionTimeline:
    """The session (raises :class:`Missing`) with its rooms and all their peers."""
    app_pk = readable_app(db, account_id, app_id)
    if app_pk is None:
        raise Missing(f"session {session_id} not found")
    with db.snapshot() as snapshot:
        session, rooms = read_session(snapshot, app_pk, session_id, with_rooms=True)
        rows = snapshot.fetch(_PEERS_WITH_ROOMS, {"app_pk": app_pk, "session_id": session_id})
    return SessionTimeline(app_pk, session, rooms, [row_of(PeerRow, r) for r in rows])
