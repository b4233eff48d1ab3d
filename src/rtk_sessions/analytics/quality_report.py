"""``peer_report.quality`` (``quality.md`` §3): from
:func:`rtk_sessions.analytics.quality.intervals_of`, the per-interval rows of
each kind and direction and their ``*_cumulative`` summaries over the scored
intervals (packet loss, RTT, jitter-buffer delay, MOS percentiles, video frame
rate / width percentiles, issue and key-frame fractions). The received-media
summary (``quality_stats``) is ``quality_stats.py``.

The result types are msgspec Structs whose fields are the API's names. A
field whose inputs the samples do not carry is ``None`` and left out of the
JSON (``omit_defaults``; api.md: unknown values are absent, never null), never
invented; a kind and direction without any scored interval is ``[]`` with
a ``{}`` cumulative. Fractions are 0..1, loss 0..100 %, RTT and delays ms,
bitrates bit/s (rounded), derived floats 4 decimals.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

from msgspec import Struct, field

from rtk_sessions.analytics.quality import Measured
from rtk_sessions.analytics.quality_rows import (
    AudioConsumerRow,
    AudioProducerRow,
    Selection,
    Timestamps,
    VideoConsumerRow,
    VideoProducerRow,
    column,
    known_values,
    mean,
    round4,
    rows_of,
)
from rtk_sessions.analytics.tracks import AUDIO_KINDS, ssrc_key
from rtk_sessions.clock import iso_ms

__all__ = ["PeerQuality", "peer_quality", "percentile"]

KINDS = ("audio", "video", "screenshare_audio", "screenshare_video")
DIRECTIONS = ("producer", "consumer")


# --------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------


class Distribution(Struct, kw_only=True, omit_defaults=True):
    """Mean and percentiles (linear interpolation between closest ranks, as numpy)."""

    avg: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None


class PacketLoss(Struct, kw_only=True, omit_defaults=True):
    """Mean loss % of the scored intervals and the share of them at or above 5/10/25/50 %."""

    avg: float | None = None
    ge5: float | None = field(default=None, name="5_or_greater_event_fraction")
    ge10: float | None = field(default=None, name="10_or_greater_event_fraction")
    ge25: float | None = field(default=None, name="25_or_greater_event_fraction")
    ge50: float | None = field(default=None, name="50_or_greater_event_fraction")


class Latency(Struct, kw_only=True, omit_defaults=True):
    """Mean (ms) and the share of intervals at or above 100/250/500 ms."""

    avg: float | None = None
    ge100: float | None = field(default=None, name="100ms_or_greater_event_fraction")
    ge250: float | None = field(default=None, name="250ms_or_greater_event_fraction")
    ge500: float | None = field(default=None, name="500ms_or_greater_event_fraction")


class VideoIssues(Struct, kw_only=True, omit_defaults=True):
    """Shares of the scored intervals with each issue; ``lag_fraction`` is a consumer's,
    the quality-limitation fractions a producer's (from its encoder's reason)."""

    poor_resolution_fraction: float | None = None
    no_video_fraction: float | None = None
    lag_fraction: float | None = None
    quality_limitation_fraction: float | None = None
    cpu_quality_limitation_fraction: float | None = None
    bandwidth_quality_limitation_fraction: float | None = None


class Cumulative(Struct, kw_only=True, omit_defaults=True):
    """``<kind>_<direction>_cumulative``: which fields a kind and direction have is
    :func:`_cumulative`'s; with no scored interval nothing is known: ``{}``."""

    packet_loss: PacketLoss | None = None
    quality_mos: Distribution | None = None
    rtt: Latency | None = None
    jitter_buffer_delay: Latency | None = None
    frame_per_second: Distribution | None = None
    frame_width: Distribution | None = None
    issues: VideoIssues | None = None
    high_negative_feedback_fraction: float | None = None
    key_frames_encoded_fraction: float | None = None
    key_frames_decoded_fraction: float | None = None


class SkippedInterval(Struct, kw_only=True, omit_defaults=True):
    """An interval not scored: ``gap`` (no samples for > 3 periods) or ``counter_reset``."""

    kind: str
    direction: str
    ssrc: int | None = None
    start: str
    end: str
    reason: str


class PeerQuality(Struct, kw_only=True, omit_defaults=True):
    """``peer_report.quality``; ``skipped_intervals`` is ours (not in the SDKs' types)."""

    audio_producer: list[AudioProducerRow]
    audio_producer_cumulative: Cumulative
    audio_consumer: list[AudioConsumerRow]
    audio_consumer_cumulative: Cumulative
    video_producer: list[VideoProducerRow]
    video_producer_cumulative: Cumulative
    video_consumer: list[VideoConsumerRow]
    video_consumer_cumulative: Cumulative
    screenshare_audio_producer: list[AudioProducerRow]
    screenshare_audio_producer_cumulative: Cumulative
    screenshare_audio_consumer: list[AudioConsumerRow]
    screenshare_audio_consumer_cumulative: Cumulative
    screenshare_video_producer: list[VideoProducerRow]
    screenshare_video_producer_cumulative: Cumulative
    screenshare_video_consumer: list[VideoConsumerRow]
    screenshare_video_consumer_cumulative: Cumulative
    skipped_intervals: list[SkippedInterval]


def peer_quality(measured: Measured) -> PeerQuality:
    """Rows and cumulatives of every kind and direction (quality.md §3)."""
    sections: dict[str, Any] = {}
    at = Timestamps()  # a peer's tracks are sampled at the same instants: format each once
    for kind in KINDS:
        for direction in DIRECTIONS:
            series = measured.of(kind, direction)
            scored = [(s, s.scored()) for s in series]
            name = f"{kind}_{direction}"
            has_scores = any(indices for _, indices in scored)
            sections[name] = rows_of(kind, direction, series, at) if has_scores else []
            sections[f"{name}_cumulative"] = _cumulative(kind, direction, scored)
    return PeerQuality(**sections, skipped_intervals=_skipped(measured))


# --------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------


def percentile(ordered: Sequence[float], p: float) -> float:
    """The p-th percentile of sorted values, by linear interpolation (numpy's default)."""
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share_at_least(ordered: Sequence[float], threshold: float) -> float | None:
    """Share of the sorted values at or above ``threshold``, 4 decimals."""
    if not ordered:
        return None
    return round((len(ordered) - bisect.bisect_left(ordered, threshold)) / len(ordered), 4)


def _share_of(values: list[Any], wanted: Any) -> float | None:
    """Share of ``values`` equal to ``wanted`` (``True`` for flags, a reason), 4 decimals."""
    return round(values.count(wanted) / len(values), 4) if values else None


def _distribution(values: Sequence[float]) -> Distribution | None:
    """None (left out) without values, as for the other summaries below."""
    if not values:
        return None
    ordered = sorted(values)
    return Distribution(
        avg=round4(mean(ordered)),
        p50=round4(percentile(ordered, 50)),
        p75=round4(percentile(ordered, 75)),
        p90=round4(percentile(ordered, 90)),
    )


def _packet_loss(losses: list[float]) -> PacketLoss | None:
    if not losses:
        return None
    ordered = sorted(losses)
    return PacketLoss(
        avg=round4(mean(ordered)),
        ge5=_share_at_least(ordered, 5),
        ge10=_share_at_least(ordered, 10),
        ge25=_share_at_least(ordered, 25),
        ge50=_share_at_least(ordered, 50),
    )


def _latency(values_ms: list[float]) -> Latency | None:
    if not values_ms:
        return None
    ordered = sorted(values_ms)
    return Latency(
        avg=round4(mean(ordered)),
        ge100=_share_at_least(ordered, 100),
        ge250=_share_at_least(ordered, 250),
        ge500=_share_at_least(ordered, 500),
    )


def _share_of_frames(scored: Selection) -> float | None:
    """Σ key frames / Σ frames over the intervals that report both."""
    pairs = [
        (k, f)
        for k, f in zip(column(scored, "key_frames"), column(scored, "frames"), strict=True)
        if k is not None and f is not None
    ]
    frames = sum(f for _, f in pairs)
    return round(sum(k for k, _ in pairs) / frames, 4) if frames else None


def _cumulative(kind: str, direction: str, scored: Selection) -> Cumulative:
    if not any(indices for _, indices in scored):
        return Cumulative()
    producer = direction == "producer"
    summary = Cumulative(
        packet_loss=_packet_loss(known_values(column(scored, "loss_pct"))),
        quality_mos=_distribution(column(scored, "mos")),
    )
    if producer:
        summary.rtt = _latency([1000 * rtt for rtt in known_values(column(scored, "rtt"))])
    else:
        summary.jitter_buffer_delay = _latency(
            known_values(column(scored, "jitter_buffer_delay_ms"))
        )
    if kind in AUDIO_KINDS:
        return summary
    summary.frame_per_second = _distribution(known_values(column(scored, "fps")))
    summary.frame_width = _distribution(
        [float(w) for w in known_values(column(scored, "frame_width"))]
    )
    low_res, stuck = column(scored, "low_res"), column(scored, "stuck")
    if producer:
        reasons = known_values(column(scored, "limitation_reason"))
        summary.issues = VideoIssues(
            poor_resolution_fraction=_share_of(low_res, True),
            no_video_fraction=_share_of(stuck, True),
            quality_limitation_fraction=_share_of([r != "none" for r in reasons], True),
            cpu_quality_limitation_fraction=_share_of(reasons, "cpu"),
            bandwidth_quality_limitation_fraction=_share_of(reasons, "bandwidth"),
        )
        feedback = [
            (p or 0) + (f or 0)
            for p, f in zip(column(scored, "pli"), column(scored, "fir"), strict=True)
            if p is not None or f is not None
        ]
        summary.high_negative_feedback_fraction = _share_at_least(sorted(feedback), 2)
        summary.key_frames_encoded_fraction = _share_of_frames(scored)
    else:
        summary.issues = VideoIssues(
            poor_resolution_fraction=_share_of(low_res, True),
            lag_fraction=_share_of(column(scored, "lag"), True),
            no_video_fraction=_share_of(stuck, True),
        )
        summary.key_frames_decoded_fraction = _share_of_frames(scored)
    return summary


def _skipped(measured: Measured) -> list[SkippedInterval]:
    gaps = [
        (s.start_ms[i], s.end_ms[i], s.kind, s.direction, s.ssrc, "gap")
        for s in measured.series
        for i, gap in enumerate(s.gap)
        if gap
    ]
    resets = [
        (r.start_ms, r.end_ms, r.kind, r.direction, r.ssrc, r.reason) for r in measured.resets
    ]
    return [
        SkippedInterval(
            kind=kind,
            direction=direction,
            ssrc=ssrc,
            start=iso_ms(start),  # type: ignore[arg-type]
            end=iso_ms(end),  # type: ignore[arg-type]
            reason=reason,
        )
        for start, end, kind, direction, ssrc, reason in sorted(
            [*gaps, *resets], key=lambda g: (g[0], g[2], g[3], ssrc_key(g[4]))
        )
    ]
