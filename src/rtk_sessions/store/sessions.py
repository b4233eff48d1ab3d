"""Reading sessions: the list (filters, sorts, paging) and one session, with their rooms.

Status and the minutes of a live session depend on the clock, so they are
SQL expressions over the stored aggregates and "now" (the same rules as
``analytics.lifecycle.status`` / ``minutes_consumed_ms``; a test holds the
two together). The unfiltered total comes from ``apps.listed_sessions``;
only a filtered list is counted.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    bindparam,
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

from rtk_sessions.store.apps import Missing
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.prepared import Prepared, Snapshot, paging
from rtk_sessions.store.rows import SessionRow, fields_of, first_row, row_of, select_rows
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


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int


def ended_condition(quiet_before: ColumnElement[int]) -> ColumnElement[bool]:
    """True for ENDED sessions (see analytics.lifecycle.status); ``quiet_before`` is
    now minus the grace period."""
    return or_(
        sessions.c.closed_ms.is_not(None),
        and_(sessions.c.tree_open_peers == 0, sessions.c.tree_quiet_since_ms < quiet_before),
    )


def live_condition(quiet_before: ColumnElement[int]) -> ColumnElement[bool]:
    """True for LIVE sessions: the negation of :func:`ended_condition`, written so that
    an index on ``closed_ms`` finds them (only sessions nothing has closed can be live:
    at most one per meeting)."""
    return and_(
        sessions.c.closed_ms.is_(None),
        or_(sessions.c.tree_open_peers > 0, sessions.c.tree_quiet_since_ms >= quiet_before),
    )


def minutes_ms_expression(now_ms: ColumnElement[int]) -> ColumnElement[int]:
    """Participant-milliseconds so far (see analytics.lifecycle.minutes_consumed_ms)."""
    return sessions.c.closed_peer_ms + sessions.c.open_peers * now_ms - sessions.c.open_join_sum_ms


@dataclass(frozen=True, slots=True)
class SessionQuery:
    """What a sessions list asks for: the filter, the order, the page."""

    where: SessionFilter
    sort_by: SortBy = "createdAt"
    descending: bool = True
    page: Page = Page(0, 20)


RoomsByParent = dict[str, list[SessionRow]]


@dataclass(frozen=True, slots=True)
class SessionsPage:
    """Sessions, the breakout rooms of each (started ones, by parent id, in start order)
    and how many sessions match in all."""

    sessions: list[SessionRow]
    rooms: RoomsByParent
    total: int


def sessions_page(
    db: Database, account_id: str, app_id: str, query: SessionQuery, now_ms: int, grace_ms: int
) -> SessionsPage:
    """One page of the app's top-level sessions with their rooms (an unknown app has none).

    One statement gives the page, its rooms and the total (a single statement is its
    own consistent snapshot, so no transaction is opened); it is :class:`Prepared` per
    shape of query (filters present, status, sort), every value bound, so a request
    builds no SQL. Only a page past the end reads the total on its own.
    """
    app_pk = readable_app(db, account_id, app_id)
    if app_pk is None:
        return SessionsPage([], {}, 0)
    shape = _shape_of(query, sqlite=db.is_sqlite)
    params = _params_of(query, app_pk, now_ms, grace_ms)
    rows = db.fetch(_page_statement(shape), params)
    total = rows[0][_TOTAL_COLUMN] if rows else db.fetch(_total_statement(shape), params)[0][0]
    found, rooms = _split_page(rows, descending=query.descending)
    return SessionsPage(found, rooms, total)


def session_with_rooms(
    db: Database, account_id: str, app_id: str, session_id: str, *, with_rooms: bool
) -> SessionsPage:
    """The one session (raises :class:`Missing`), with its rooms if asked for: one read."""
    app_pk = readable_app(db, account_id, app_id)
    if app_pk is None:
        raise Missing(f"session {session_id} not found")
    session, rooms = read_session(db, app_pk, session_id, with_rooms=with_rooms)
    return SessionsPage([session], {session_id: rooms} if rooms else {}, 1)


def read_session(
    reader: Database | Snapshot, app_pk: int, session_id: str, *, with_rooms: bool
) -> tuple[SessionRow, list[SessionRow]]:
    """The started session and (if asked for) its started rooms in start order, in one
    statement (on its own, or in a snapshot); else :class:`Missing`."""
    rows = reader.fetch(_one_session(with_rooms), {"app_pk": app_pk, "session_id": session_id})
    found, rooms = _split_page(rows, descending=False)
    if not found or found[0].started_ms is None:
        raise Missing(f"session {session_id} not found")
    return found[0], rooms.get(session_id, [])


def app_session(conn: Connection, app_pk: int | None, session_id: str) -> tuple[int, SessionRow]:
    """The app's key and its started session ``session_id``; else :class:`Missing`
    (``app_pk`` from :func:`~rtk_sessions.store.folding.readable_app`, None for an app
    never seen). A session known only from stray events (nothing says when it started)
    is not one yet.
    """
    found = session_row(conn, app_pk, session_id) if app_pk is not None else None
    if app_pk is None or found is None or found.started_ms is None:
        raise Missing(f"session {session_id} not found")
    return app_pk, found


def session_row(conn: Connection, app_pk: int, session_id: str) -> SessionRow | None:
    """The stored session, started or not (None when there is no such row)."""
    return first_row(
        conn,
        SessionRow,
        select_rows(SessionRow, sessions).where(
            sessions.c.app_pk == app_pk, sessions.c.session_id == session_id
        ),
    )


@dataclass(frozen=True, slots=True)
class _Shape:
    """What decides the SQL text of a list query; the values themselves are bound."""

    sort_by: SortBy
    descending: bool
    filters: frozenset[str]  # the SessionFilter fields given, besides status and search
    status: Status | None
    search: bool
    trigram: bool  # SQLite: narrow the search by the trigram index first


_BOUND_FILTERS = ("associated_id", "start_ms", "end_ms", "min_peers", "max_peers")
_LIKE_ESCAPE = "/"  # as in SQLAlchemy's autoescape


def _shape_of(query: SessionQuery, *, sqlite: bool) -> _Shape:
    where = query.where
    needle = (where.search or "").casefold()
    return _Shape(
        sort_by=query.sort_by,
        descending=query.descending,
        filters=frozenset(f for f in _BOUND_FILTERS if getattr(where, f) is not None),
        status=where.status,
        search=bool(needle),
        # the trigram index holds 3-character pieces; a LIKE wildcard in the needle
        # would make its LIKE mean something else than the exact one
        trigram=sqlite and len(needle) >= 3 and not set(needle) & set("%_"),
    )


def _params_of(query: SessionQuery, app_pk: int, now_ms: int, grace_ms: int) -> dict[str, Any]:
    where = query.where
    needle = (where.search or "").casefold()
    escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
    params: dict[str, Any] = {f: getattr(where, f) for f in _BOUND_FILTERS}
    params |= {
        "app_pk": app_pk,
        "now_ms": now_ms,
        "quiet_before": now_ms - grace_ms,
        "pattern": f"%{escaped}%",
        "trigram": f"%{needle}%",
        "offset": query.page.offset,
        "limit": query.page.limit,
        "wanted": query.page.offset + query.page.limit,
    }
    return params


def _conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    conditions = [sessions.c.app_pk == bindparam("app_pk"), sessions.c.listed == true()]
    bound = {f: bindparam(f) for f in shape.filters}
    if "associated_id" in bound:
        conditions.append(sessions.c.meeting_id == bound["associated_id"])
    if "start_ms" in bound:
        conditions.append(sessions.c.started_ms >= bound["start_ms"])
    if "end_ms" in bound:
        conditions.append(sessions.c.started_ms <= bound["end_ms"])
    if "min_peers" in bound:
        conditions.append(sessions.c.peer_count >= bound["min_peers"])
    if "max_peers" in bound:
        conditions.append(sessions.c.peer_count <= bound["max_peers"])
    if shape.status == "ENDED":
        conditions.append(ended_condition(bindparam("quiet_before")))
    elif shape.status == "LIVE":
        conditions.append(live_condition(bindparam("quiet_before")))
    if shape.search:
        conditions.append(sessions.c.search_text.like(bindparam("pattern"), escape=_LIKE_ESCAPE))
    if shape.trigram:
        # narrowed by the trigram index first (migration 0005); the LIKE above keeps the
        # answer exact. PostgreSQL's planner uses its pg_trgm index by itself.
        search_index = table("sessions_search", column("rowid"), column("search_text"))
        matches = select(search_index.c.rowid).where(
            search_index.c.search_text.like(bindparam("trigram"))
        )
        conditions.append(literal_column("sessions.rowid").in_(matches))
    return conditions


_ROW_COLUMNS = len(fields_of(SessionRow))


@functools.cache
def _page_statement(shape: _Shape) -> Prepared:
    """The page's sessions, then the started rooms of each, in one statement.

    The page's ids come first: for the default order from the index alone, so
    skipping 50,000 rows walks index entries, not 50,000 table rows (SQLite reads a
    skipped row whole when the query needs its columns). Rows carry ``room`` (0/1)
    and ``sort_key``; the statement orders by (room, sort_key, session_id) in the
    list's direction, so the page is in order and the rooms are in start order, or
    its reverse (see :func:`_split_page`).
    """
    conditions = _conditions(shape)
    now = bindparam("now_ms", type_=BigInteger)
    key = sessions.c.started_ms if shape.sort_by == "createdAt" else minutes_ms_expression(now)
    if shape.search:
        return _searched_page(shape, conditions, key)
    if shape.sort_by == "minutesConsumed":
        page_ids = _by_minutes(conditions, shape.descending, now)
    else:
        page_ids = (
            select(sessions.c.session_id)
            .where(*conditions)
            .order_by(*_directed(shape.descending, key, sessions.c.session_id))
            .offset(paging("offset"))
            .limit(paging("limit"))
        )
    page = select(page_ids.cte("page").c.session_id)
    return _with_rooms(page, key, descending=shape.descending, total=_total_expression(shape))


def _searched_page(shape: _Shape, conditions: list, key: ColumnElement[Any]) -> Prepared:
    """A searched page: the matches are found once (a CTE used twice is materialized by
    SQLite and PostgreSQL), then counted for the total and sorted for the page. Counting
    and paging separately would look up every match twice: a common word matches tens
    of thousands of a large app's sessions."""
    matches = select(sessions.c.session_id, key.label("key")).where(*conditions).cte("matches")
    page_ids = (
        select(matches.c.session_id)
        .order_by(*_directed(shape.descending, matches.c.key, matches.c.session_id))
        .offset(paging("offset"))
        .limit(paging("limit"))
    )
    total = select(func.count()).select_from(matches).scalar_subquery()
    page = select(page_ids.cte("page").c.session_id)
    return _with_rooms(page, key, descending=shape.descending, total=total)


def _with_rooms(
    ids: Any, key: ColumnElement[Any], *, descending: bool, total: Any = None
) -> Prepared:
    """The sessions of ``ids`` (a subquery or a list of ids), then their started rooms:
    rows with ``room`` 0/1, ``sort_key`` (``key``, a room's start) and ``total`` (the
    given expression, on the sessions' rows), ordered by room, sort key and id in the
    given direction (see :func:`_split_page`)."""
    columns = select_rows(SessionRow, sessions).selected_columns
    chosen = select(
        *columns,
        literal(0).label("room"),
        key.label("sort_key"),
        literal_column("NULL") if total is None else total.label("total"),
    ).where(sessions.c.app_pk == bindparam("app_pk"), sessions.c.session_id.in_(ids))
    rooms = select(
        *columns, literal(1).label("room"), sessions.c.started_ms, literal_column("NULL")
    ).where(*_started_rooms(bindparam("app_pk"), ids))
    return Prepared(
        union_all(chosen, rooms).order_by(
            literal_column("room"),
            *_directed(descending, literal_column("sort_key"), literal_column("session_id")),
        )
    )


@functools.cache
def _one_session(with_rooms: bool) -> Prepared:
    """Session ``session_id`` (and its started rooms), in :func:`_split_page`'s shape."""
    if with_rooms:
        return _with_rooms([bindparam("session_id")], sessions.c.started_ms, descending=False)
    columns = select_rows(SessionRow, sessions).selected_columns
    return Prepared(
        select(*columns, literal(0).label("room")).where(
            sessions.c.app_pk == bindparam("app_pk"),
            sessions.c.session_id == bindparam("session_id"),
        )
    )


def _split_page(rows: list[Any], *, descending: bool) -> tuple[list[SessionRow], RoomsByParent]:
    found: list[SessionRow] = []
    room_rows: list[SessionRow] = []
    for row in rows:
        session = row_of(SessionRow, row[:_ROW_COLUMNS])
        (room_rows if row[_ROW_COLUMNS] else found).append(session)
    if descending:
        room_rows.reverse()
    rooms: RoomsByParent = {}
    for room in room_rows:
        rooms.setdefault(room.parent_session_id, []).append(room)  # type: ignore[arg-type]
    return found, rooms


def _by_minutes(conditions: list, descending: bool, now: Any):
    """The page's ids by participant-minutes without computing them for every session.

    A session with nobody in it has a fixed total (``closed_peer_ms``), read in order
    from an index; only sessions with peers still in (a few) have minutes that grow
    with the clock. The page is the best ``offset + limit`` of the first kind, merged
    with all of the second, ordered by (minutes, session id) as the plain query would.
    """
    minutes = sessions.c.closed_peer_ms.label("minutes")
    settled = (
        select(sessions.c.session_id, minutes)
        .where(*conditions, sessions.c.open_peers == 0)
        .order_by(*_directed(descending, sessions.c.closed_peer_ms, sessions.c.session_id))
        .limit(paging("wanted"))
        .subquery()
    )
    growing = select(sessions.c.session_id, minutes_ms_expression(now).label("minutes")).where(
        *conditions, sessions.c.open_peers > 0
    )
    both = union_all(select(settled.c.session_id, settled.c.minutes), growing).subquery()
    return (
        select(both.c.session_id)
        .order_by(*_directed(descending, both.c.minutes, both.c.session_id))
        .offset(paging("offset"))
        .limit(paging("limit"))
    )


def _directed(descending: bool, *columns):
    return [c.desc() if descending else c.asc() for c in columns]


_LIVE_ONLY = _Shape("createdAt", True, frozenset(), "LIVE", search=False, trigram=False)
_TOTAL_COLUMN = _ROW_COLUMNS + 2  # after room and sort_key (see _with_rooms)


def _total_expression(shape: _Shape) -> Any:
    """How many sessions match: the kept total, or a count of the few live sessions (ENDED
    is the rest), or, for other filters, a count. Uncorrelated: evaluated once."""

    def count(of: _Shape) -> Any:
        return select(func.count()).select_from(sessions).where(*_conditions(of))

    if shape.filters or shape.search:
        return count(shape).scalar_subquery()
    kept = select(apps.c.listed_sessions).where(apps.c.app_pk == bindparam("app_pk"))
    if shape.status is None:
        return kept.scalar_subquery()
    live = count(_LIVE_ONLY).scalar_subquery()
    return live if shape.status == "LIVE" else kept.scalar_subquery() - live


@functools.cache
def _total_statement(shape: _Shape) -> Prepared:
    return Prepared(select(_total_expression(shape)))


def _started_rooms(app_pk: Any, parents: Any) -> tuple[ColumnElement[bool], ...]:
    """Conditions for the started breakout rooms of ``parents`` (ids or a subquery of ids),
    which the partial index of rooms serves (migration 0006)."""
    return (
        sessions.c.app_pk == app_pk,
        sessions.c.parent_session_id.in_(parents),
        sessions.c.started_ms.is_not(None),
    )


DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class DayTotal:
    """Listed sessions that started on a UTC day and their participant-ms so far."""

    day_ms: int  # the day's midnight, UTC
    sessions: int
    minutes_ms: int


# Over the list's index (app_pk, listed, started_ms): one range, grouped by day.
_DAILY = Prepared(
    select(
        (sessions.c.started_ms // DAY_MS).label("day"),
        func.count(),
        func.sum(minutes_ms_expression(bindparam("now_ms", type_=BigInteger))),
    )
    .where(
        sessions.c.app_pk == bindparam("app_pk"),
        sessions.c.listed == true(),
        sessions.c.started_ms >= bindparam("since_ms"),
        sessions.c.started_ms < bindparam("until_ms"),
    )
    .group_by(literal_column("day"))
    .order_by(literal_column("day"))
)


def daily_totals(
    db: Database, account_id: str, app_id: str, since_ms: int, until_ms: int, now_ms: int
) -> list[DayTotal]:
    """Every UTC day in [since_ms, until_ms) with its sessions and participant-ms (days
    with none are there with zeros); ``since_ms`` is taken back to its midnight."""
    first_day = since_ms // DAY_MS
    days = range(first_day, max(first_day, (until_ms - 1) // DAY_MS) + 1)
    app_pk = readable_app(db, account_id, app_id)
    rows = (
        db.fetch(
            _DAILY,
            {
                "app_pk": app_pk,
                "since_ms": first_day * DAY_MS,
                "until_ms": until_ms,
                "now_ms": now_ms,
            },
        )
        if app_pk is not None
        else []
    )
    found = {int(day): (count, int(minutes or 0)) for day, count, minutes in rows}
    return [DayTotal(day * DAY_MS, *found.get(day, (0, 0))) for day in days]
