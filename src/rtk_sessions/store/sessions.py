"""Reading sessions: the list (filters, sorts, paging) and one session.

Status and the minutes of a live session depend on the clock, so they are
SQL expressions over the stored aggregates and "now" (the same rules as
``analytics.lifecycle.status`` / ``minutes_consumed_ms``; a test holds the
two together). The unfiltered total comes from ``apps.listed_sessions``;
only a filtered list is counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import BigInteger, ColumnElement, Connection, and_, func, literal, or_, select, true

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


def minutes_ms_expression(now_ms: int) -> ColumnElement[int]:
    """Participant-milliseconds so far (see analytics.lifecycle.minutes_consumed_ms)."""
    return (
        sessions.c.closed_peer_ms
        + sessions.c.open_peers * literal(now_ms, BigInteger)
        - sessions.c.open_join_sum_ms
    )


def list_sessions(
    conn: Connection,
    app_pk: int,
    where: SessionFilter,
    sort_by: SortBy,
    descending: bool,
    page: Page,
    now_ms: int,
    grace_ms: int,
) -> tuple[list[dict], int]:
    """One page of top-level sessions and the total matching the filter."""
    conditions = [sessions.c.app_pk == app_pk, sessions.c.listed == true()]
    conditions += _filter_conditions(where, now_ms, grace_ms)
    key = sessions.c.started_ms if sort_by == "createdAt" else minutes_ms_expression(now_ms)
    order = (
        [key.desc(), sessions.c.session_id.desc()]
        if descending
        else [key.asc(), sessions.c.session_id.asc()]
    )
    rows = conn.execute(
        select(sessions).where(*conditions).order_by(*order).offset(page.offset).limit(page.limit)
    )
    found = [dict(row._mapping) for row in rows]
    return found, _total(conn, app_pk, where, conditions)


def _filter_conditions(where: SessionFilter, now_ms: int, grace_ms: int) -> list:
    conditions: list = []
    if where.associated_id is not None:
        conditions.append(sessions.c.meeting_id == where.associated_id)
    if where.start_ms is not None:
        conditions.append(sessions.c.started_ms >= where.start_ms)
    if where.end_ms is not None:
        conditions.append(sessions.c.started_ms <= where.end_ms)
    if where.status is not None:
        ended = ended_condition(now_ms, grace_ms)
        conditions.append(ended if where.status == "ENDED" else ~ended)
    if where.min_peers is not None:
        conditions.append(sessions.c.peer_count >= where.min_peers)
    if where.max_peers is not None:
        conditions.append(sessions.c.peer_count <= where.max_peers)
    if where.search:
        conditions.append(sessions.c.search_text.contains(where.search.casefold(), autoescape=True))
    return conditions


def _total(conn: Connection, app_pk: int, where: SessionFilter, conditions: list) -> int:
    if where.narrows:
        return conn.execute(
            select(func.count()).select_from(sessions).where(*conditions)
        ).scalar_one()
    total = conn.execute(select(apps.c.listed_sessions).where(apps.c.app_pk == app_pk)).scalar()
    return total or 0


def get_session(conn: Connection, app_pk: int, session_id: str) -> dict | None:
    """A session that has started (a row known only from stray events is not one yet)."""
    row = conn.execute(
        select(sessions).where(
            sessions.c.app_pk == app_pk,
            sessions.c.session_id == session_id,
            sessions.c.started_ms.is_not(None),
        )
    ).first()
    return dict(row._mapping) if row else None


def breakout_rooms(conn: Connection, app_pk: int, parent_session_ids: list[str]) -> list[dict]:
    """Started child sessions of the given parents, in start order."""
    if not parent_session_ids:
        return []
    rows = conn.execute(
        select(sessions)
        .where(
            sessions.c.app_pk == app_pk,
            sessions.c.parent_session_id.in_(parent_session_ids),
            sessions.c.started_ms.is_not(None),
        )
        .order_by(sessions.c.started_ms, sessions.c.session_id)
    )
    return [dict(row._mapping) for row in rows]
