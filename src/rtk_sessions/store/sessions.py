"""Reading sessions: the list (filters, sorts, paging) and one session, with their rooms.

Status and the minutes of a live session depend on the clock, so they are
SQL expressions over the stored aggregates and "now" (the same rules as
``analytics.lifecycle.status`` / ``minutes_consumed_ms``; a test holds the
two together). The unfiltered total comes from ``apps.listed_sessions``;
only a filtered list is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    true,
    union_all,
)

from rtk_sessions.store.apps import Missing, find_app
from rtk_sessions.store.database import Database
from rtk_sessions.store.rows import SessionRow, row_of, select_rows
from rtk_sessions.store.tables import apps, sessions

SortBy = Literal["createdAt", "minutesConsumed"]
Status = Literal["LIVE", "ENDED"]


@dataclass(frozen=True, slots=True)
class SessionFilter:
    associated_id: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    status: Status | None = None
    min_peers: int | None = None
    max_peers: int | None = None
    search: str | None = None

    @property
    def narrows(self) -> bool:
        return any(
            v is not None
            for v in (
                self.associated_id,
                self.start_ms,
                self.end_ms,
                self.status,
                self.min_peers,
                self.max_peers,
                self.search,
            )
        )


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int


def ended_condition(now_ms: int, grace_ms: int) -> ColumnElement[bool]:
    """True for ENDED sessions (see analytics.lifecycle.status)."""
    return or_(
        sessions.c.closed_ms.is_not(None),
        and_(
            sessions.c.tree_open_peers == 0,
            sessions.c.tree_quiet_since_ms < now_ms - grace_ms,
        ),
    )


def live_condition(now_ms: int, grace_ms: int) -> ColumnElement[bool]:
    """True for LIVE sessions: the negation of :func:`ended_condition`, written so that
    an index on ``closed_ms`` finds them (only sessions nothing has closed can be live:
    at most one per meeting)."""
    return and_(
        sessions.c.closed_ms.is_(None),
        or_(
            sessions.c.tree_open_peers > 0,
            sessions.c.tree_quiet_since_ms >= now_ms - grace_ms,
        ),
    )


def minutes_ms_expression(now_ms: int) -> ColumnElement[int]:
    """Participant-milliseconds so far (see analytics.lifecycle.minutes_consumed_ms)."""
    return (
        sessions.c.closed_peer_ms
        + sessions.c.open_peers * literal(now_ms, BigInteger)
        - sessions.c.open_join_sum_ms
    )


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """What a sessions list asks for: the filter, the order, the page."""

    where: SessionFilter
    sort_by: SortBy = "createdAt"
    descending: bool = True
    page: Page = Page(0, 20)


@dataclass(frozen=True, slots=True)
class SessionsPage:
    """Sessions, the breakout rooms of each (started ones, by parent id, in start order)
    and how many sessions match in all."""

    sessions: list[SessionRow]
    rooms: dict[str, list[SessionRow]]
    total: int


def sessions_page(
    db: Database, account_id: str, app_id: str, query: SessionQuery, now_ms: int, grace_ms: int
) -> SessionsPage:
    """One page of the app's top-level sessions with their rooms (an unknown app has none)."""
    with db.read() as conn:
        app_pk = find_app(conn, account_id, app_id)
        if app_pk is None:
            return SessionsPage([], {}, 0)
        found, total = _list_sessions(conn, app_pk, query, now_ms, grace_ms)
        rooms = rooms_by_parent(conn, app_pk, [s.session_id for s in found])
    return SessionsPage(found, rooms, total)


def session_with_rooms(
    db: Database, account_id: str, app_id: str, session_id: str, *, with_rooms: bool
) -> SessionsPage:
    """The one session (raises :class:`Missing`), with its rooms if asked for."""
    with db.read() as conn:
        app_pk, session = app_session(conn, account_id, app_id, session_id)
        rooms = rooms_by_parent(conn, app_pk, [session_id]) if with_rooms else {}
    return SessionsPage([session], rooms, 1)


def app_session(
    conn: Connection, account_id: str, app_id: str, session_id: str
) -> tuple[int, SessionRow]:
    """The app's key and its started session ``session_id``; else :class:`Missing`.

    A session known only from stray events (nothing says when it started) is not one yet.
    """
    app_pk = find_app(conn, account_id, app_id)
    found = session_row(conn, app_pk, session_id) if app_pk is not None else None
    if app_pk is None or found is None or found.started_ms is None:
        raise Missing(f"session {session_id} not found")
    return app_pk, found


def session_row(conn: Connection, app_pk: int, session_id: str) -> SessionRow | None:
    """The stored session, started or not (None when there is no such row)."""
    found = conn.execute(
        select_rows(SessionRow, sessions).where(
            sessions.c.app_pk == app_pk, sessions.c.session_id == session_id
        )
    ).first()
    return row_of(SessionRow, found) if found else None


def _list_sessions(
    conn: Connection, app_pk: int, query: SessionQuery, now_ms: int, grace_ms: int
) -> tuple[list[SessionRow], int]:
    conditions = [sessions.c.app_pk == app_pk, sessions.c.listed == true()]
    conditions += _filter_conditions(
        query.where, now_ms, grace_ms, sqlite=conn.dialect.name == "sqlite"
    )
    key = sessions.c.started_ms if query.sort_by == "createdAt" else minutes_ms_expression(now_ms)
    order = (
        [key.desc(), sessions.c.session_id.desc()]
        if query.descending
        else [key.asc(), sessions.c.session_id.asc()]
    )
    # The page's ids first: for the default order they come from the index alone, so
    # skipping 50,000 rows walks index entries, not 50,000 table rows (SQLite reads a
    # skipped row whole when the query needs its columns).
    if query.sort_by == "minutesConsumed":
        page_ids = _by_minutes(conditions, query, now_ms)
    else:
        page_ids = (
            select(sessions.c.session_id)
            .where(*conditions)
            .order_by(*order)
            .offset(query.page.offset)
            .limit(query.page.limit)
        )
    # one round trip: the rows of the page's ids, in the page's order
    rows = conn.execute(
        select_rows(SessionRow, sessions)
        .where(sessions.c.app_pk == app_pk, sessions.c.session_id.in_(page_ids.scalar_subquery()))
        .order_by(*order)
    )
    found = [row_of(SessionRow, row) for row in rows]
    return found, _total(conn, app_pk, query.where, conditions, now_ms, grace_ms)


def _by_minutes(conditions: list, query: SessionQuery, now_ms: int):
    """The page's ids by participant-minutes without computing them for every session.

    A session with nobody in it has a fixed total (``closed_peer_ms``), read in order
    from an index; only sessions with peers still in (a few) have minutes that grow
    with the clock. The page is the best ``offset + limit`` of the first kind, merged
    with all of the second, ordered by (minutes, session id) as the plain query would.
    """
    wanted = query.page.offset + query.page.limit
    minutes = sessions.c.closed_peer_ms.label("minutes")
    settled = (
        select(sessions.c.session_id, minutes)
        .where(*conditions, sessions.c.open_peers == 0)
        .order_by(*_directed(query.descending, sessions.c.closed_peer_ms, sessions.c.session_id))
        .limit(wanted)
        .subquery()
    )
    growing = select(sessions.c.session_id, minutes_ms_expression(now_ms).label("minutes")).where(
        *conditions, sessions.c.open_peers > 0
    )
    both = union_all(select(settled.c.session_id, settled.c.minutes), growing).subquery()
    return (
        select(both.c.session_id)
        .order_by(*_directed(query.descending, both.c.minutes, both.c.session_id))
        .offset(query.page.offset)
        .limit(query.page.limit)
    )


def _directed(descending: bool, *columns):
    return [c.desc() if descending else c.asc() for c in columns]


def _filter_conditions(
    where: SessionFilter, now_ms: int, grace_ms: int, *, sqlite: bool = False
) -> list:
    conditions: list = []
    if where.associated_id is not None:
        conditions.append(sessions.c.meeting_id == where.associated_id)
    if where.start_ms is not None:
        conditions.append(sessions.c.started_ms >= where.start_ms)
    if where.end_ms is not None:
        conditions.append(sessions.c.started_ms <= where.end_ms)
    if where.status == "ENDED":
        conditions.append(ended_condition(now_ms, grace_ms))
    elif where.status == "LIVE":
        conditions.append(live_condition(now_ms, grace_ms))
    if where.min_peers is not None:
        conditions.append(sessions.c.peer_count >= where.min_peers)
    if where.max_peers is not None:
        conditions.append(sessions.c.peer_count <= where.max_peers)
    if where.search:
        needle = where.search.casefold()
        conditions.append(sessions.c.search_text.contains(needle, autoescape=True))
        if sqlite and len(needle) >= 3 and not set(needle) & set("%_"):
            # narrowed by the trigram index first (migration 0005); the LIKE above keeps
            # the answer exact. PostgreSQL's planner uses its pg_trgm index by itself.
            conditions.append(literal_column("sessions.rowid").in_(_trigram_matches(needle)))
    return conditions


def _trigram_matches(needle: str):
    search_index = table("sessions_search", column("rowid"), column("search_text"))
    return select(search_index.c.rowid).where(search_index.c.search_text.like(f"%{needle}%"))


def _total(
    conn: Connection,
    app_pk: int,
    where: SessionFilter,
    conditions: list,
    now_ms: int,
    grace_ms: int,
) -> int:
    """How many sessions match: the kept total, or a count of the few live sessions (ENDED
    is the rest), or, for other filters, a count."""
    if where.narrows and replace(where, status=None).narrows:
        return conn.execute(
            select(func.count()).select_from(sessions).where(*conditions)
        ).scalar_one()
    total = conn.execute(select(apps.c.listed_sessions).where(apps.c.app_pk == app_pk)).scalar()
    if where.status is None:
        return total or 0
    live = conn.execute(
        select(func.count())
        .select_from(sessions)
        .where(
            sessions.c.app_pk == app_pk,
            sessions.c.listed == true(),
            live_condition(now_ms, grace_ms),
        )
    ).scalar_one()
    return live if where.status == "LIVE" else (total or 0) - live


def rooms_by_parent(
    conn: Connection, app_pk: int, parent_session_ids: list[str]
) -> dict[str, list[SessionRow]]:
    """Started child sessions of the given parents, by parent, in start order."""
    rooms: dict[str, list[SessionRow]] = {}
    if not parent_session_ids:
        return rooms
    rows = conn.execute(
        select_rows(SessionRow, sessions)
        .where(
            sessions.c.app_pk == app_pk,
            sessions.c.parent_session_id.in_(parent_session_ids),
            sessions.c.started_ms.is_not(None),
        )
        .order_by(sessions.c.started_ms, sessions.c.session_id)
    )
    for row in rows:
        room = row_of(SessionRow, row)
        rooms.setdefault(room.parent_session_id, []).append(room)  # type: ignore[arg-type]
    return rooms
