"""GET /sessions and GET /sessions/{session_id}."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from rtk_sessions.analytics.lifecycle import (
    ended_at_ms,
    minutes_consumed_ms,
    status,
    to_minutes,
)
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import READ_ERRORS, BadParameter
from rtk_sessions.api.params import (
    page_no_parameter,
    page_of,
    participants_range,
    per_page_parameter,
    time_ms,
)
from rtk_sessions.clock import iso_ms
from rtk_sessions.store.rows import SessionRow
from rtk_sessions.store.sessions import (
    SessionFilter,
    SessionQuery,
    SessionsPage,
    session_with_rooms,
    sessions_page,
)

SESSIONS_PER_PAGE = (20, 100)  # default, maximum

PARTICIPANTS_PATTERN = r"^\s*(?:[0-9]{1,9}|[0-9]{1,9}\s*:\s*[0-9]{0,9}|:\s*[0-9]{1,9})\s*$"
SEARCH_MAX_CHARS = 200  # longer than any title or id: a longer one is abuse


class Session(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A session as the seed's ``…DataSession`` (+ ``parent_session_id``)."""

    id: str
    associated_id: str
    created_at: str
    live_participants: int
    max_concurrent_participants: int
    meeting_display_name: str
    minutes_consumed: float
    organization_id: str
    started_at: str
    status: Literal["LIVE", "ENDED"]
    type: Literal["meeting", "livestream", "participant"]
    updated_at: str
    breakout_rooms: list[Session]
    ended_at: str | None = None
    meta: dict[str, Any]
    parent_session_id: str | None = None


class Paging(msgspec.Struct):
    total_count: int
    start_offset: int
    end_offset: int


class SessionList(msgspec.Struct):
    sessions: list[Session]
    paging: Paging


class SessionListResponse(msgspec.Struct):
    success: bool
    data: SessionList
    paging: Paging


class SessionDetail(Session, kw_only=True):
    """The session flattened into ``data`` (SDK 5.3+) and nested as ``data.session`` (5.0)."""

    session: Session


class SessionDetailResponse(msgspec.Struct):
    success: bool
    data: SessionDetail


def paging_of(offset: int, shown: int, total: int) -> Paging:
    """1-based offsets of the first and last row shown; 0 and 0 for an empty page."""
    if shown == 0:
        return Paging(total_count=total, start_offset=0, end_offset=0)
    return Paging(total_count=total, start_offset=offset + 1, end_offset=offset + shown)


def render_session(
    row: SessionRow, app_id: str, ctx: AppContext, now_ms: int, rooms: list[Session]
) -> Session:
    session_status = status(
        row.closed_ms, row.tree_open_peers, row.tree_quiet_since_ms, now_ms, ctx.grace_ms
    )
    minutes_ms = minutes_consumed_ms(
        row.closed_peer_ms, row.open_peers, row.open_join_sum_ms, now_ms
    )
    started = iso_ms(row.started_ms) or ""
    return Session(
        id=row.session_id,
        associated_id=row.meeting_id or "",
        created_at=started,
        live_participants=row.open_peers,
        max_concurrent_participants=row.max_concurrent,
        meeting_display_name=row.meeting_title or "",
        minutes_consumed=to_minutes(max(0, minutes_ms)),
        organization_id=app_id,
        started_at=started,
        status=session_status,  # type: ignore[arg-type]
        type=row.session_type,  # type: ignore[arg-type]
        updated_at=iso_ms(row.updated_ms) or started,
        breakout_rooms=rooms,
        ended_at=iso_ms(ended_at_ms(session_status, row.ended_ms, row.tree_quiet_since_ms)),
        meta=msgspec.json.decode(row.meta) if row.meta else {},
        parent_session_id=row.parent_session_id,
    )


def render_sessions(
    found: SessionsPage, app_id: str, ctx: AppContext, now_ms: int
) -> list[Session]:
    """The page's sessions, each with its rooms."""
    return [
        render_session(
            row,
            app_id,
            ctx,
            now_ms,
            [
                render_session(room, app_id, ctx, now_ms, [])
                for room in found.rooms.get(row.session_id, [])
            ],
        )
        for row in found.sessions
    ]


class SessionsController(Controller):
    tags = ["Sessions"]
    opt = {"scope": "read"}

    @get(
        "/sessions",
        summary="Fetch all sessions of an App",
        operation_id="getSessions",
        responses=READ_ERRORS,
    )
    async def list_sessions(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        associated_id: Annotated[
            str | None, QueryParameter(description="Only this meeting's sessions.")
        ] = None,
        start_time: Annotated[
            datetime | None,
            QueryParameter(description="Sessions that started at or after this time (ISO 8601)."),
        ] = None,
        end_time: Annotated[
            datetime | None,
            QueryParameter(description="Sessions that started at or before this time (ISO 8601)."),
        ] = None,
        status: FromQuery[Literal["LIVE", "ENDED"] | None] = None,
        participants: Annotated[
            str | None,
            QueryParameter(
                description="Peers who ever joined: 'n', 'min:max', 'min:' or ':max' "
                "(whole numbers; min not above max).",
                # stated, not enforced by the framework: participants_range's 400 says more
                schema_extra={"pattern": PARTICIPANTS_PATTERN},
            ),
        ] = None,
        search: Annotated[
            str | None,
            QueryParameter(
                description="Case-insensitive substring of meeting title, meeting id or session "
                f"id, at most {SEARCH_MAX_CHARS} characters; taken literally (% and _ too).",
                max_length=SEARCH_MAX_CHARS,
            ),
        ] = None,
        sort_by: FromQuery[Literal["createdAt", "minutesConsumed"]] = "createdAt",
        sort_order: FromQuery[Literal["ASC", "DESC"]] = "DESC",
        page_no: Annotated[float | None, page_no_parameter()] = None,
        per_page: Annotated[float | None, per_page_parameter(*SESSIONS_PER_PAGE)] = None,
    ) -> SessionListResponse:
        """Top-level sessions of the app; breakout rooms are listed in their parent."""
        page = page_of(
            page_no, per_page, default=SESSIONS_PER_PAGE[0], maximum=SESSIONS_PER_PAGE[1]
        )
        if search is not None and len(search) > SEARCH_MAX_CHARS:
            raise BadParameter(f"search must be at most {SEARCH_MAX_CHARS} characters")
        min_peers, max_peers = participants_range(participants)
        query = SessionQuery(
            where=SessionFilter(
                associated_id=associated_id,
                start_ms=time_ms("start_time", start_time),
                end_ms=time_ms("end_time", end_time),
                status=status,
                min_peers=min_peers,
                max_peers=max_peers,
                search=search or None,
            ),
            sort_by=sort_by,
            descending=sort_order == "DESC",
            page=page,
        )
        now_ms = ctx.clock()
        found = sessions_page(ctx.db, account_id, app_id, query, now_ms, ctx.grace_ms)
        sessions = render_sessions(found, app_id, ctx, now_ms)
        paging = paging_of(page.offset, len(sessions), found.total)
        return SessionListResponse(success=True, data=SessionList(sessions, paging), paging=paging)

    @get(
        "/sessions/{session_id:str}",
        summary="Fetch details of a session",
        operation_id="getSessionDetails",
        responses=READ_ERRORS,
    )
    async def session_details(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
        include_breakout_rooms: Annotated[
            bool, QueryParameter(description="List the breakout rooms as full sessions.")
        ] = False,
    ) -> SessionDetailResponse:
        now_ms = ctx.clock()
        found = session_with_rooms(
            ctx.db, account_id, app_id, session_id, with_rooms=include_breakout_rooms
        )
        (session,) = render_sessions(found, app_id, ctx, now_ms)
        detail = SessionDetail(**msgspec.structs.asdict(session), session=session)
        return SessionDetailResponse(success=True, data=detail)
