"""GET /sessions/{session_id}/participants and …/participants/{participant_id}."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from sqlalchemy import Connection

from rtk_sessions.analytics.lifecycle import to_minutes
from rtk_sessions.analytics.participants import (
    ParticipantView,
    consolidate,
    participant_view,
    peer_lifecycle_events,
)
from rtk_sessions.analytics.peer_stats import fold_metadata, participant_peer_stats
from rtk_sessions.analytics.quality_stats import QualityStats
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import READ_ERRORS, NotFound
from rtk_sessions.api.params import page_of, sections_of
from rtk_sessions.api.sessions import Paging, paging_of
from rtk_sessions.clock import iso_ms
from rtk_sessions.ingest.enrich import locate_ip, parse_user_agent
from rtk_sessions.store.apps import find_app
from rtk_sessions.store.participants import (
    get_peer,
    list_peers,
    peer_event_payloads,
    peers_of_sessions,
    peers_of_user,
    stats_versions,
)
from rtk_sessions.store.sessions import Page, breakout_rooms, get_session

PARTICIPANTS_PER_PAGE = (25, 200)  # default, maximum
DETAIL_SECTIONS = (
    "device_info",
    "ip_information",
    "precall_network_information",
    "events",
    "quality_stats",
)


class PeerEvent(msgspec.Struct, kw_only=True):
    id: str
    created_at: str
    updated_at: str
    event_name: Literal["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]
    minutes_consumed: float
    participant_id: str | None
    peer_id: str
    preset_view_type: Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"] | None
    session_id: str
    socket_session_id: str | None


class Participant(msgspec.Struct, kw_only=True):
    """A peer, as the seed's ``…DataParticipant`` (+ ``session_id``, ``peer_events``)."""

    id: str
    session_id: str
    user_id: str | None
    display_name: str | None
    custom_participant_id: str | None
    preset_name: str | None
    joined_at: str
    left_at: str | None
    duration: float
    created_at: str
    updated_at: str
    peer_events: list[PeerEvent] | msgspec.UnsetType = msgspec.UNSET


class ParticipantList(msgspec.Struct):
    participants: list[Participant]
    paging: Paging


class ParticipantListResponse(msgspec.Struct):
    success: bool
    data: ParticipantList
    paging: Paging


class ParticipantDetail(Participant, kw_only=True):
    peer_stats: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    quality_stats: list[QualityStats | msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET


class ParticipantDetailData(msgspec.Struct):
    participant: ParticipantDetail


class ParticipantDetailResponse(msgspec.Struct):
    success: bool
    data: ParticipantDetailData


def render_participant(view: ParticipantView, with_events: bool) -> dict[str, Any]:
    """Participant fields as keyword arguments (for Participant or ParticipantDetail)."""
    fields: dict[str, Any] = dict(
        id=view.peer_id,
        session_id=view.session_id,
        user_id=view.user_id,
        display_name=view.display_name,
        custom_participant_id=view.custom_participant_id,
        preset_name=view.preset_name,
        joined_at=iso_ms(view.joined_ms),
        left_at=iso_ms(view.left_ms),
        duration=to_minutes(view.duration_ms),
        created_at=iso_ms(view.joined_ms),
        updated_at=iso_ms(view.updated_ms),
    )
    if with_events:
        fields["peer_events"] = [
            PeerEvent(
                id=e["id"],
                created_at=iso_ms(e["created_ms"]),  # type: ignore[arg-type]
                updated_at=iso_ms(e["updated_ms"]),  # type: ignore[arg-type]
                event_name=e["event_name"],
                minutes_consumed=to_minutes(e["minutes_ms"]),
                participant_id=e["participant_id"],
                peer_id=e["peer_id"],
                preset_view_type=e["preset_view_type"],
                session_id=e["session_id"],
                socket_session_id=e["socket_session_id"],
            )
            for e in peer_lifecycle_events(view)
        ]
    return fields


def _consolidated_page(
    conn: Connection,
    app_pk: int,
    session: dict,
    search: str | None,
    sort_by: str,
    descending: bool,
    page: Page,
    now_ms: int,
) -> tuple[list[ParticipantView], int]:
    rooms = breakout_rooms(conn, app_pk, [session["session_id"]])
    closed = {r["session_id"]: r["closed_ms"] for r in [session, *rooms]}
    views = [
        participant_view(p, closed[p["session_id"]], now_ms)
        for p in peers_of_sessions(conn, app_pk, closed)
    ]
    rows = consolidate(views, session["session_id"])
    if search:
        rows = [r for r in rows if search.casefold() in r.search_text]
    key = (
        (lambda v: (v.joined_ms, v.peer_id))
        if sort_by == "joinedAt"
        else (lambda v: (v.duration_ms, v.peer_id))
    )
    rows.sort(key=key, reverse=descending)
    return rows[page.offset : page.offset + page.limit], len(rows)


class ParticipantsController(Controller):
    tags = ["Participants"]
    opt = {"scope": "read"}

    @get(
        "/sessions/{session_id:str}/participants",
        summary="Fetch participants list of a session",
        operation_id="getSessionParticipants",
        responses=READ_ERRORS,
    )
    async def list_participants(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
        search: Annotated[
            str | None,
            QueryParameter(
                description="Case-insensitive substring of display name, user id, custom participant id or peer id."
            ),
        ] = None,
        sort_by: FromQuery[Literal["joinedAt", "duration"]] = "joinedAt",
        sort_order: FromQuery[Literal["ASC", "DESC"]] = "ASC",
        page_no: Annotated[
            float | None, QueryParameter(description="Page, from 1 (0 = default).")
        ] = None,
        per_page: Annotated[
            float | None, QueryParameter(description="1..200, default 25 (0 = default).")
        ] = None,
        include_peer_events: FromQuery[bool] = False,
        view: Annotated[
            Literal["raw", "consolidated"],
            QueryParameter(
                description="raw: one row per peer; consolidated: one per user over the session and its breakout rooms."
            ),
        ] = "raw",
    ) -> ParticipantListResponse:
        page = page_of(
            page_no, per_page, default=PARTICIPANTS_PER_PAGE[0], maximum=PARTICIPANTS_PER_PAGE[1]
        )
        now_ms = ctx.clock()
        with ctx.db.read() as conn:
            app_pk, session = _session_or_404(conn, account_id, app_id, session_id)
            if view == "consolidated":
                views, total = _consolidated_page(
                    conn, app_pk, session, search, sort_by, sort_order == "DESC", page, now_ms
                )
            else:
                rows, total = list_peers(
                    conn,
                    app_pk,
                    session_id,
                    closed_ms=session["closed_ms"],
                    search=search or None,
                    sort_by=sort_by,
                    descending=sort_order == "DESC",
                    page=page,
                    now_ms=now_ms,
                )
                views = [participant_view(r, session["closed_ms"], now_ms) for r in rows]
        participants = [Participant(**render_participant(v, include_peer_events)) for v in views]
        paging = paging_of(page.offset, len(participants), total)
        return ParticipantListResponse(
            success=True, data=ParticipantList(participants, paging), paging=paging
        )

    @get(
        "/sessions/{session_id:str}/participants/{participant_id:str}",
        summary="Fetch details of a participant",
        operation_id="getSessionParticipantDetails",
        responses=READ_ERRORS,
    )
    async def participant_details(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
        participant_id: FromPath[str],
        filters: Annotated[
            str | None,
            QueryParameter(
                description="Comma-separated: device_info, ip_information, precall_network_information, events, quality_stats (none = all)."
            ),
        ] = None,
        include_peer_events: FromQuery[bool] = False,
    ) -> ParticipantDetailResponse:
        sections = sections_of(filters, DETAIL_SECTIONS)
        now_ms = ctx.clock()
        with ctx.db.read() as conn:
            app_pk, session = _session_or_404(conn, account_id, app_id, session_id)
            peer = get_peer(conn, app_pk, session_id, participant_id)
            if peer is None:
                raise NotFound(f"participant {participant_id} not found in session {session_id}")
            stored = peer_event_payloads(
                conn, app_pk, participant_id, ["peer.metadata", "peer.event"]
            )
            if "quality_stats" in sections:
                user_peers = peers_of_user(conn, app_pk, session_id, peer)
                versions = stats_versions(conn, app_pk, user_peers)
        view = participant_view(peer, session["closed_ms"], now_ms)
        detail = ParticipantDetail(**render_participant(view, include_peer_events))
        stats_sections = sections - {"quality_stats"}
        if stats_sections:
            # UA and IP lookups may load their data on first use: off the event loop.
            detail.peer_stats = await anyio.to_thread.run_sync(
                _peer_stats, stored["peer.metadata"], stored["peer.event"], stats_sections
            )
        if "quality_stats" in sections:
            derive = partial(ctx.quality_cache.derived, report=False)  # only the entry
            derived = await anyio.to_thread.run_sync(
                derive, ctx.db, app_pk, versions, ctx.settings.stats_period_seconds
            )
            # one entry per peer of the participant's user that sent stats, in join order
            detail.quality_stats = [
                d.participant_entry for d in derived.values() if d.participant_entry is not None
            ]
        return ParticipantDetailResponse(success=True, data=ParticipantDetailData(detail))


def _peer_stats(
    metadata_events: list[dict], peer_events: list[dict], sections: frozenset[str]
) -> dict[str, Any]:
    metadata = fold_metadata(metadata_events)
    return participant_peer_stats(
        metadata,
        peer_events,
        parse_user_agent(metadata.get("user_agent")),
        locate_ip(metadata.get("ip")),
        sections,
    )


def _session_or_404(
    conn: Connection, account_id: str, app_id: str, session_id: str
) -> tuple[int, dict]:
    app_pk = find_app(conn, account_id, app_id)
    session = get_session(conn, app_pk, session_id) if app_pk is not None else None
    if app_pk is None or session is None:
        raise NotFound(f"session {session_id} not found")
    return app_pk, session
