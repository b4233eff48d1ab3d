"""The Peer page: device, browser, network, location and pre-call test as the peer
report gives them; per track, MOS, packet loss, RTT, jitter and bitrate over time from
the same measured intervals the report's numbers come from; the cumulatives; and the
stretches with problems, shaded on the charts and explained."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from rtk_sessions.analytics.participants import ParticipantView, participant_view
from rtk_sessions.analytics.peer_report import candidate_pairs, report_peer_stats
from rtk_sessions.analytics.peer_stats import fold_metadata
from rtk_sessions.analytics.problems import Problem, problems_of
from rtk_sessions.analytics.quality import Measured, Series, intervals_of
from rtk_sessions.analytics.quality_report import KINDS, peer_quality
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.participants import DETAIL_SECTIONS
from rtk_sessions.ingest.enrich import locate_ip, parse_user_agent
from rtk_sessions.ingest.stored import stats_samples
from rtk_sessions.store.peer_report import load_peer
from rtk_sessions.store.stats import load_stats
from rtk_sessions.ui import charts

KIND_NAMES = {
    "audio": "Microphone",
    "video": "Camera",
    "screenshare_audio": "Screen-share audio",
    "screenshare_video": "Screen share",
}


@dataclass(frozen=True, slots=True)
class TrackView:
    """One track's charts, its problems shaded on them."""

    title: str
    charts: list[charts.Chart]


@dataclass(frozen=True, slots=True)
class PeerView:
    participant: ParticipantView
    peer_stats: dict[str, Any]
    browser: dict[str, Any]
    transports: dict[str, list[dict[str, Any]]]
    tracks: list[TrackView]
    cumulatives: list[tuple[str, dict[str, Any]]]  # (track kind title, the report's numbers)
    problems: list[Problem]


def peer_view(ctx: AppContext, account_id: str, app_id: str, peer_id: str) -> PeerView:
    stored = load_peer(ctx.db, account_id, app_id, peer_id)
    samples = stats_samples(load_stats(ctx.db, stored.app_pk, [peer_id])[peer_id])
    measured = intervals_of(samples, ctx.settings.stats_period_seconds)
    metadata = fold_metadata(stored.metadata)
    browser = parse_user_agent(metadata.get("user_agent"))
    location = locate_ip(metadata.get("ip"))
    problems = problems_of(measured)
    return PeerView(
        participant=participant_view(stored.peer, stored.session_closed_ms, ctx.clock()),
        peer_stats=report_peer_stats(
            metadata,
            stored.events,
            browser,
            location,
            frozenset(DETAIL_SECTIONS) - {"quality_stats"},
        ),
        browser=msgspec.to_builtins(browser) if browser else {},
        transports=msgspec.to_builtins(candidate_pairs(samples)),
        tracks=tracks_of(measured, problems),
        cumulatives=cumulatives_of(measured),
        problems=problems,
    )


def tracks_of(measured: Measured, problems: list[Problem]) -> list[TrackView]:
    """Every measured track, microphone first, sent before received; charts share the
    peer's time axis so that they line up."""
    if measured.first_ms is None or measured.last_ms is None:
        return []
    start, end = measured.first_ms, max(measured.last_ms, measured.first_ms + 1000)
    order = {kind: i for i, kind in enumerate(KINDS)}
    ordered = sorted(
        measured.series,
        key=lambda s: (order.get(s.kind, 9), s.direction != "producer", s.ssrc or 0),
    )
    views = []
    for series in ordered:
        mine = [
            p
            for p in problems
            if (p.kind, p.direction, p.ssrc) == (series.kind, series.direction, series.ssrc)
        ]
        views.append(TrackView(_title(series), _charts(series, mine, start, end)))
    return views


def cumulatives_of(measured: Measured) -> list[tuple[str, dict[str, Any]]]:
    """The report's ``<kind>_<direction>_cumulative`` of each kind and direction it scored."""
    report = msgspec.to_builtins(peer_quality(measured))
    found = []
    for kind in KINDS:
        for direction in ("producer", "consumer"):
            numbers = report[f"{kind}_{direction}_cumulative"]
            if numbers:
                found.append((f"{KIND_NAMES[kind]}, {_direction(direction)}", numbers))
    return found


def _charts(series: Series, problems: list[Problem], start: int, end: int) -> list[charts.Chart]:
    bands = [(p.start_ms, p.end_ms, p.explanation) for p in problems]

    def line(title: str, unit: str, values: list[Any], scale: float = 1.0, top=None):
        points = _points(series, values, scale)
        return charts.line_chart(title, unit, points, start, end, top=top, bands=bands)

    made = [line("MOS (quality score, 0–1)", "", series.mos, top=1.0)]
    if "audio" in series.kind:
        made.append(line("E-model MOS (1–5)", "", series.mos_emodel, top=5.0))
    made.append(line("Packet loss (%)", "%", series.loss_pct))
    if any(v is not None for v in series.rtt):
        made.append(line("Round trip (ms)", " ms", series.rtt, 1000.0))
    made.append(line("Jitter (ms)", " ms", series.jitter, 1000.0))
    made.append(line("Bitrate (kbit/s)", " kbit/s", series.bitrate, 0.001))
    return [chart for chart in made if chart.lines]


def _points(series: Series, values: list[Any], scale: float) -> list[charts.Point]:
    """(interval end, value) per interval; a gap breaks the line."""
    points: list[charts.Point] = []
    for i, value in enumerate(values):
        if series.gap[i]:
            points.append((series.end_ms[i], None))
            continue
        points.append((series.end_ms[i], None if value is None else value * scale))
    return points


def _title(series: Series) -> str:
    ssrc = f" (SSRC {series.ssrc})" if series.ssrc is not None else ""
    return f"{KIND_NAMES.get(series.kind, series.kind)}, {_direction(series.direction)}{ssrc}"


def _direction(direction: str) -> str:
    return "sent" if direction == "producer" else "received"
