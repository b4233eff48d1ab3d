"""GET /sessions/{session_id}/participants and …/participants/{participant_id}."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from rtk_sessions.analytics.lifecycle import to_minutes
from rtk_sessions.analytics.participants import (
    ParticipantView,
    participant_view,
    peer_lifecycle_events,
)
from rtk_sessions.analytics.peer_stats import fold_metadata, participant_peer_stats
from rtk_sessions.analytics.quality_stats import QualityStats
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import READ_ERRORS
from rtk_sessions.api.params import (
    filters_parameter,
    page_no_parameter,
    page_of,
    per_page_parameter,
    sections_of,
)
from rtk_sessions.api.sessions import Paging, paging_of
from rtk_sessions.clock import iso_ms
from rtk_sessions.ingest.enrich import locate_ip, parse_user_agent
from rtk_sessions.store.participants import ParticipantQuery, load_participant, participants_page

PARTICIPANTS_PER_PAGE = (25, 200)  # default, maximum
DETAIL_SECTIONS = (
    "device_info",
    "ip_information",
    "precall_network_information",
    "events",
    "quality_stats",
)


class PeerEvent(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    created_at: str
    updated_at: str
    event_name: Literal["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]
    minutes_consumed: float
    participant_id: str | None = None
    peer_id: str
    preset_view_type: (
        Literal["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"] | None
    ) = None
    session_id: str
    socket_session_id: str | None = None


class Participant(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A peer, as the seed's ``…DataParticipant`` (+ ``session_id``, ``peer_events``)."""

    id: str
    session_id: str
    user_id: str | None = None
    display_name: str | None = None
    custom_participant_id: str | None = None
    preset_name: str | None = None
    joined_at: str
    left_at: str | None = None
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
    # items may be msgspec.Raw (already encoded by the quality cache); documented as what they hold
    quality_stats: list[QualityStats] | msgspec.UnsetType = msgspec.UNSET


class ParticipantDetailData(msgspec.Struct):
    participant: ParticipantDetail


class ParticipantDetailResponse(msgspec.Struct):
    success: bool
    data: ParticipantDetailData


def render_participant(view: ParticipantView, with_events: bool) -> dict[str, Any]:
    """Participant fields as keyword arguments (for Participant or ParticipantDetail)."""
    peer = view.peer
    fields: dict[str, Any] = dict(
        id=peer.peer_id,
        session_id=view.session_id,
        user_id=peer.user_id,
        display_name=peer.display_name,
        custom_participant_id=peer.custom_participant_id,
        preset_name=peer.preset_name,
        joined_at=iso_ms(view.joined_ms),
        left_at=iso_ms(view.left_ms),
        duration=to_minutes(view.duration_ms),
        created_at=iso_ms(view.joined_ms),
        updated_at=iso_ms(view.updated_ms),
    )
    if with_events:
        fields["peer_events"] = [
            PeerEvent(
                id=moment.id,
                created_at=iso_ms(moment.at_ms),  # type: ignore[arg-type]
                updated_at=iso_ms(moment.at_ms),  # type: ignore[arg-type]
                event_name=moment.name,  # type: ignore[arg-type]
                minutes_consumed=to_minutes(moment.minutes_ms),
                participant_id=moment.peer.peer.user_id,
                peer_id=moment.peer.peer.peer_id,
                preset_view_type=moment.peer.peer.preset_view_type,  # type: ignore[arg-type]
                session_id=moment.peer.session_id,
                socket_session_id=moment.peer.peer.socket_session_id,
            )
            for moment in peer_lifecycle_events(view)
        ]
    return fields


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
        page_no: Annotated[float | None, page_no_parameter()] = None,
        per_page: Annotated[float | None, per_page_parameter(*PARTICIPANTS_PER_PAGE)] = None,
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
        query = ParticipantQuery(
            consolidated=view == "consolidated",
            search=search or None,
            sort_by=sort_by,
            descending=sort_order == "DESC",
            page=page,
        )
        found = participants_page(ctx.db, account_id, app_id, session_id, query, ctx.clock())
        participants = [
            Participant(**render_participant(v, include_peer_events)) for v in found.participants
        ]
        paging = paging_of(page.offset, len(participants), found.total)
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
        filters: Annotated[str | None, filters_parameter(DETAIL_SECTIONS)] = None,
        include_peer_events: FromQuery[bool] = False,
    ) -> ParticipantDetailResponse:
        sections = sections_of(filters, DETAIL_SECTIONS)
        now_ms = ctx.clock()
        stored = load_participant(
            ctx.db,
            account_id,
            app_id,
            session_id,
            participant_id,
            with_stats_versions="quality_stats" in sections,
        )
        view = participant_view(stored.peer, stored.session.closed_ms, now_ms)
        detail = ParticipantDetail(**render_participant(view, include_peer_events))
        stats_sections = sections - {"quality_stats"}
        if stats_sections:
            # UA and IP lookups may load their data on first use: off the event loop.
            detail.peer_stats = await anyio.to_thread.run_sync(
                _peer_stats, stored.metadata, stored.events, stats_sections
            )
        if "quality_stats" in sections:
            derive = partial(ctx.quality_cache.derived, report=False)  # only the entry
            derived = await anyio.to_thread.run_sync(
                derive,
                ctx.db,
                stored.app_pk,
                stored.user_stats_versions,
                ctx.settings.stats_period_seconds,
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
