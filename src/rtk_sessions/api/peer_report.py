"""GET /sessions/peer-report/{peer_id}: one peer's device, network and call quality."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery

from rtk_sessions.analytics.participants import participant_view
from rtk_sessions.analytics.peer_report import (
    PeerReportMetadata,
    report_metadata,
    report_peer_stats,
)
from rtk_sessions.analytics.peer_stats import fold_metadata
from rtk_sessions.analytics.quality_report import PeerQuality
from rtk_sessions.analytics.quality_stats import PeerQualityStats
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import READ_ERRORS
from rtk_sessions.api.params import filters_parameter, sections_of
from rtk_sessions.api.participants import DETAIL_SECTIONS, Participant, render_participant
from rtk_sessions.ingest.enrich import locate_ip, parse_user_agent
from rtk_sessions.store.peer_report import load_peer


class PeerReport(msgspec.Struct, kw_only=True, omit_defaults=True):
    metadata: PeerReportMetadata
    # the cache hands these out already encoded (msgspec.Raw, assigned as they are); the
    # annotation is what they hold, which is what the OpenAPI document must say
    quality: PeerQuality | msgspec.UnsetType = msgspec.UNSET


class PeerReportParticipant(Participant, kw_only=True):
    """The seed's ``…DataParticipant`` of the peer report (+ ``session_id``, ``peer_events``)."""

    role: str | None = None
    peer_report: PeerReport
    peer_stats: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    quality_stats: PeerQualityStats | msgspec.UnsetType = msgspec.UNSET  # Raw, as above


class PeerReportData(msgspec.Struct):
    participant: PeerReportParticipant


class PeerReportResponse(msgspec.Struct):
    success: bool
    data: PeerReportData


class PeerReportController(Controller):
    tags = ["Participants"]
    opt = {"scope": "read"}

    @get(
        "/sessions/peer-report/{peer_id:str}",
        summary="Fetch details of peer",
        description="The peer's participant fields, device and network metadata, and call "
        "quality computed from its raw WebRTC stats (quality.md). `filters` names the "
        "`peer_stats` sections to include; `quality_stats` also selects `peer_report.quality`.",
        operation_id="getParticipantDataFromPeerId",
        responses=READ_ERRORS,
    )
    async def peer_report(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        peer_id: FromPath[str],
        filters: Annotated[str | None, filters_parameter(DETAIL_SECTIONS)] = None,
        include_peer_events: FromQuery[bool] = False,
    ) -> PeerReportResponse:
        sections = sections_of(filters, DETAIL_SECTIONS)
        # Reading and scoring a long call's samples takes milliseconds: off the event loop.
        participant = await anyio.to_thread.run_sync(
            _report, ctx, account_id, app_id, peer_id, sections, include_peer_events
        )
        return PeerReportResponse(success=True, data=PeerReportData(participant))


def _report(
    ctx: AppContext,
    account_id: str,
    app_id: str,
    peer_id: str,
    sections: frozenset[str],
    with_events: bool,
) -> PeerReportParticipant:
    stored = load_peer(ctx.db, account_id, app_id, peer_id)
    derived = ctx.quality_cache.derived(
        ctx.db,
        stored.app_pk,
        {peer_id: stored.stats_version},
        ctx.settings.stats_period_seconds,
        report=True,
    )[peer_id]
    assert derived.candidate_pairs is not None  # a report's part has them
    metadata = fold_metadata(stored.metadata)
    browser = parse_user_agent(metadata.get("user_agent"))
    location = locate_ip(metadata.get("ip"))
    view = participant_view(stored.peer, stored.session_closed_ms, ctx.clock())
    report = PeerReport(
        metadata=report_metadata(
            metadata, stored.metadata, stored.events, derived.candidate_pairs, browser, location
        )
    )
    participant = PeerReportParticipant(
        **render_participant(view, with_events), role=stored.peer.role, peer_report=report
    )
    stats_sections = sections - {"quality_stats"}
    if stats_sections:
        participant.peer_stats = report_peer_stats(
            metadata, stored.events, browser, location, stats_sections
        )
    if "quality_stats" in sections:
        report.quality = derived.quality  # type: ignore[assignment]
        participant.quality_stats = derived.quality_stats  # type: ignore[assignment]
    return participant
