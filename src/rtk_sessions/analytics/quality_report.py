"""A peer's call quality as the API shows it (``quality.md`` §3-4).

From :func:`rtk_sessions.analytics.quality.intervals_of`:

- :func:`peer_quality`: ``peer_report.quality``: the per-interval rows of each
  kind and direction, and their ``*_cumulative`` summaries over the scored
  intervals (packet loss, RTT, jitter-buffer delay, MOS percentiles, video
  frame rate / width percentiles, issue and key-frame fractions);
- :func:`quality_stats`: the ``quality_stats`` of participant details and of
  the peer report, which describe the media the participant **received**
  (its consumer tracks of camera and microphone), as their field names
  (``concealment_events``, ``frames_dropped``, ``…_packet_received``) say.

The result types are msgspec Structs whose fields are the API's names. A
field whose inputs the samples do not carry is ``None`` (JSON null), never
invented; a kind and direction without any scored interval is ``[]`` with
a ``{}`` cumulative. Fractions are 0..1, loss 0..100 %, RTT and delays ms,
bitrates bit/s (rounded), derived floats 4 decimals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from msgspec import UNSET, Struct, UnsetType, field

from rtk_sessions.analytics.quality import AUDIO_KINDS, Interval, TrackIntervals
from rtk_sessions.clock import iso_ms

__all__ = ["PeerQuality", "PeerQualityStats", "QualityStats", "peer_quality", "quality_stats"]

KINDS = ("audio", "video", "screenshare_audio", "screenshare_video")
DIRECTIONS = ("producer", "consumer")


# --------------------------------------------------------------------------
# summaries
# --------------------------------------------------------------------------


class Distribution(Struct, kw_only=True):
    """Mean and percentiles (linear interpolation between closest ranks, as numpy)."""

    avg: float | None
    p50: float | None
    p75: float | None
    p90: float | None


class PacketLoss(Struct, kw_only=True):
    """Mean loss % of the scored intervals and the share of them at or above 5/10/25/50 %."""

    avg: float | None
    ge5: float | None = field(name="5_or_greater_event_fraction")
    ge10: float | None = field(name="10_or_greater_event_fraction")
    ge25: float | None = field(name="25_or_greater_event_fraction")
    ge50: float | None = field(name="50_or_greater_event_fraction")


class Latency(Struct, kw_only=True):
    """Mean (ms) and the share of intervals at or above 100/250/500 ms."""

    avg: float | None
    ge100: float | None = field(name="100ms_or_greater_event_fraction")
    ge250: float | None = field(name="250ms_or_greater_event_fraction")
    ge500: float | None = field(name="500ms_or_greater_event_fraction")


class VideoIssues(Struct, kw_only=True, omit_defaults=True):
    """Shares of the scored intervals with each issue; ``lag_fraction`` is a consumer's,
    the quality-limitation fractions a producer's (from its encoder's reason)."""

    poor_resolution_fraction: float | None
    no_video_fraction: float | None
    lag_fraction: float | None | UnsetType = UNSET
    quality_limitation_fraction: float | None | UnsetType = UNSET
    cpu_quality_limitation_fraction: float | None | UnsetType = UNSET
    bandwidth_quality_limitation_fraction: float | None | UnsetType = UNSET


class Cumulative(Struct, kw_only=True, omit_defaults=True):
    """``<kind>_<direction>_cumulative``; which fields a kind and direction have is in
    :data:`_CUMULATIVE_FIELDS`; with no scored interval every field is unset: ``{}``."""

    packet_loss: PacketLoss | UnsetType = UNSET
    quality_mos: Distribution | UnsetType = UNSET
    rtt: Latency | UnsetType = UNSET
    jitter_buffer_delay: Latency | UnsetType = UNSET
    frame_per_second: Distribution | UnsetType = UNSET
    frame_width: Distribution | UnsetType = UNSET
    issues: VideoIssues | UnsetType = UNSET
    high_negative_feedback_fraction: float | None | UnsetType = UNSET
    key_frames_encoded_fraction: float | None | UnsetType = UNSET
    key_frames_decoded_fraction: float | None | UnsetType = UNSET


# --------------------------------------------------------------------------
# per-interval rows
# --------------------------------------------------------------------------


class LimitationDurations(Struct, kw_only=True):
    """Seconds spent limited by each reason during the interval."""

    cpu: float | None
    bandwidth: float | None
    none: float | None
    other: float | None


class QualityRow(Struct, kw_only=True, omit_defaults=True):
    """One interval (``timestamp`` = its end). The fields of a kind and direction are
    those the current SDK types for it, plus ``bitrate`` (bit/s) and, for audio,
    ``mos_emodel`` (1..5); counters are Δ over the interval, jitter and RTT seconds,
    ``jitter_buffer_delay`` ms."""

    timestamp: str
    producer_id: str | None | UnsetType = UNSET
    consumer_id: str | None | UnsetType = UNSET
    peer_id: str | None | UnsetType = UNSET
    ssrc: int | None
    mid: str | None
    bytes_sent: int | None | UnsetType = UNSET
    bytes_received: int | None | UnsetType = UNSET
    packets_sent: int | None | UnsetType = UNSET
    packets_received: int | None | UnsetType = UNSET
    packets_lost: int | None
    bitrate: int | None
    jitter: float | None
    rtt: float | None | UnsetType = UNSET
    concealment_events: int | None | UnsetType = UNSET
    jitter_buffer_delay: float | None | UnsetType = UNSET
    jitter_buffer_emitted_count: int | None | UnsetType = UNSET
    frames_encoded: int | None | UnsetType = UNSET
    frames_decoded: int | None | UnsetType = UNSET
    frames_dropped: int | None | UnsetType = UNSET
    key_frames_encoded: int | None | UnsetType = UNSET
    key_frames_decoded: int | None | UnsetType = UNSET
    frame_width: int | None | UnsetType = UNSET
    frame_height: int | None | UnsetType = UNSET
    frames_per_second: float | None | UnsetType = UNSET
    pli_count: int | None | UnsetType = UNSET
    fir_count: int | None | UnsetType = UNSET
    quality_limitation_reason: str | None | UnsetType = UNSET
    quality_limitation_durations: LimitationDurations | None | UnsetType = UNSET
    quality_limitation_resolution_changes: int | None | UnsetType = UNSET
    mos_quality: float | None
    mos_emodel: float | None | UnsetType = UNSET


class SkippedInterval(Struct, kw_only=True):
    """An interval not scored: ``gap`` (no samples for > 3 periods) or ``counter_reset``."""

    kind: str
    direction: str
    ssrc: int | None
    start: str
    end: str
    reason: str


class PeerQuality(Struct, kw_only=True):
    """``peer_report.quality``; ``skipped_intervals`` is ours (not in the SDKs' types)."""

    audio_producer: list[QualityRow]
    audio_producer_cumulative: Cumulative
    audio_consumer: list[QualityRow]
    audio_consumer_cumulative: Cumulative
    video_producer: list[QualityRow]
    video_producer_cumulative: Cumulative
    video_consumer: list[QualityRow]
    video_consumer_cumulative: Cumulative
    screenshare_audio_producer: list[QualityRow]
    screenshare_audio_producer_cumulative: Cumulative
    screenshare_audio_consumer: list[QualityRow]
    screenshare_audio_consumer_cumulative: Cumulative
    screenshare_video_producer: list[QualityRow]
    screenshare_video_producer_cumulative: Cumulative
    screenshare_video_consumer: list[QualityRow]
    screenshare_video_consumer_cumulative: Cumulative
    skipped_intervals: list[SkippedInterval]


def peer_quality(measured: TrackIntervals) -> PeerQuality:
    """Rows and cumulatives of every kind and direction (quality.md §3)."""
    sections: dict[str, Any] = {}
    for kind in KINDS:
        for direction in DIRECTIONS:
            intervals = [i for i in measured.of(kind, direction) if not i.gap]
            scored = [i for i in intervals if i.mos is not None]
            name = f"{kind}_{direction}"
            sections[name] = [_row(i) for i in intervals] if scored else []
            sections[f"{name}_cumulative"] = _cumulative(kind, direction, scored)
    return PeerQuality(**sections, skipped_intervals=_skipped(measured))


# --------------------------------------------------------------------------
# quality_stats (received media)
# --------------------------------------------------------------------------


class AudioStat(Struct, kw_only=True):
    timestamp: str
    quality: float | None
    packets_lost: int | None
    jitter: float | None
    concealment_events: int | None


class VideoStat(Struct, kw_only=True):
    timestamp: str
    quality: float | None
    packets_lost: int | None
    jitter: float | None
    frame_width: int | None
    frame_height: int | None
    frames_per_second: float | None
    frames_dropped: int | None


class QualityStats(Struct, kw_only=True):
    """One peer's received camera and microphone media (participant details, quality.md §4).

    ``start``/``end``: first and last sample of the peer; ``average_quality``:
    mean of the scored qualities in ``audio_stats`` and ``video_stats``;
    ``*_bandwidth``: mean bitrate of those intervals (bit/s); ``*_packet_loss``:
    100 · Σlost / (Σreceived + Σlost) over every measured interval.
    """

    peer_id: str
    start: str | None
    end: str | None
    audio_stats: list[AudioStat]
    video_stats: list[VideoStat]
    average_quality: float | None
    audio_bandwidth: int | None
    video_bandwidth: int | None
    audio_packet_loss: float | None
    video_packet_loss: float | None


class PeerQualityStats(QualityStats, kw_only=True):
    """The peer report's ``quality_stats``: totals are received + lost packets."""

    peer_ids: list[str]
    total_audio_packets: int | None
    total_audio_packets_lost: int | None
    total_video_packets: int | None
    total_video_packets_lost: int | None
    first_audio_packet_received: str | None
    last_audio_packet_received: str | None
    first_video_packet_received: str | None
    last_video_packet_received: str | None


def quality_stats(peer_id: str, measured: TrackIntervals) -> PeerQualityStats:
    """The received-media summary of one peer (use :meth:`participant_entry` for the
    participant-details shape)."""
    audio = measured.of("audio", "consumer")
    video = measured.of("video", "consumer")
    audio_rows = [i for i in audio if not i.gap]
    video_rows = [i for i in video if not i.gap]
    qualities = [i.mos for i in [*audio_rows, *video_rows] if i.mos is not None]
    audio_received = measured.received.get("audio")
    video_received = measured.received.get("video")
    return PeerQualityStats(
        peer_id=peer_id,
        start=iso_ms(measured.first_ms),
        end=iso_ms(measured.last_ms),
        audio_stats=[_audio_stat(i) for i in audio_rows],
        video_stats=[_video_stat(i) for i in video_rows],
        average_quality=_round(_mean(qualities)),
        audio_bandwidth=_whole(_mean([i.bitrate for i in audio_rows if i.bitrate is not None])),
        video_bandwidth=_whole(_mean([i.bitrate for i in video_rows if i.bitrate is not None])),
        audio_packet_loss=_loss_of(audio),
        video_packet_loss=_loss_of(video),
        peer_ids=[peer_id],
        total_audio_packets=_sum(i.expected_packets for i in audio),
        total_audio_packets_lost=_sum(i.packets_lost for i in audio),
        total_video_packets=_sum(i.expected_packets for i in video),
        total_video_packets_lost=_sum(i.packets_lost for i in video),
        first_audio_packet_received=iso_ms(audio_received[0]) if audio_received else None,
        last_audio_packet_received=iso_ms(audio_received[1]) if audio_received else None,
        first_video_packet_received=iso_ms(video_received[0]) if video_received else None,
        last_video_packet_received=iso_ms(video_received[1]) if video_received else None,
    )


def participant_entry(stats: PeerQualityStats) -> QualityStats:
    """The participant-details entry: the same numbers without the peer report's extras."""
    return QualityStats(**{name: getattr(stats, name) for name in QualityStats.__struct_fields__})


# --------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _whole(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _sum(values: Iterable[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def percentile(ordered: Sequence[float], p: float) -> float:
    """The p-th percentile of sorted values, by linear interpolation (numpy's default)."""
    position = (len(ordered) - 1) * p / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _fraction(values: Sequence[Any], test: Callable[[Any], bool]) -> float | None:
    return round(sum(1 for v in values if test(v)) / len(values), 4) if values else None


def _distribution(values: Sequence[float]) -> Distribution:
    if not values:
        return Distribution(avg=None, p50=None, p75=None, p90=None)
    ordered = sorted(values)
    return Distribution(
        avg=_round(_mean(ordered)),
        p50=_round(percentile(ordered, 50)),
        p75=_round(percentile(ordered, 75)),
        p90=_round(percentile(ordered, 90)),
    )


def _packet_loss(scored: Sequence[Interval]) -> PacketLoss:
    losses = [i.loss_pct for i in scored if i.loss_pct is not None]
    return PacketLoss(
        avg=_round(_mean(losses)),
        ge5=_fraction(losses, lambda x: x >= 5),
        ge10=_fraction(losses, lambda x: x >= 10),
        ge25=_fraction(losses, lambda x: x >= 25),
        ge50=_fraction(losses, lambda x: x >= 50),
    )


def _latency(values_ms: Sequence[float]) -> Latency:
    return Latency(
        avg=_round(_mean(values_ms)),
        ge100=_fraction(values_ms, lambda x: x >= 100),
        ge250=_fraction(values_ms, lambda x: x >= 250),
        ge500=_fraction(values_ms, lambda x: x >= 500),
    )


def _share_of_frames(scored: Sequence[Interval]) -> float | None:
    """Σ key frames / Σ frames over the intervals that report both."""
    known = [i for i in scored if i.key_frames is not None and i.frames is not None]
    frames = sum(i.frames for i in known)  # type: ignore[misc]
    return round(sum(i.key_frames for i in known) / frames, 4) if frames else None  # type: ignore[misc]


def _cumulative(kind: str, direction: str, scored: Sequence[Interval]) -> Cumulative:
    if not scored:
        return Cumulative()
    producer = direction == "producer"
    summary = Cumulative(
        packet_loss=_packet_loss(scored),
        quality_mos=_distribution([i.mos for i in scored]),  # type: ignore[misc]
    )
    if producer:
        summary.rtt = _latency([1000 * i.rtt for i in scored if i.rtt is not None])
    else:
        summary.jitter_buffer_delay = _latency(
            [i.jitter_buffer_delay_ms for i in scored if i.jitter_buffer_delay_ms is not None]
        )
    if kind in AUDIO_KINDS:
        return summary
    summary.frame_per_second = _distribution([i.fps for i in scored if i.fps is not None])
    summary.frame_width = _distribution(
        [float(i.frame_width) for i in scored if i.frame_width is not None]
    )
    if producer:
        summary.issues = _producer_issues(scored)
        feedback = [i for i in scored if i.pli is not None or i.fir is not None]
        summary.high_negative_feedback_fraction = _fraction(
            feedback, lambda i: (i.pli or 0) + (i.fir or 0) >= 2
        )
        summary.key_frames_encoded_fraction = _share_of_frames(scored)
    else:
        summary.issues = VideoIssues(
            poor_resolution_fraction=_fraction(scored, lambda i: i.low_res),
            lag_fraction=_fraction(scored, lambda i: i.lag),
            no_video_fraction=_fraction(scored, lambda i: i.stuck),
        )
        summary.key_frames_decoded_fraction = _share_of_frames(scored)
    return summary


def _producer_issues(scored: Sequence[Interval]) -> VideoIssues:
    reasons = [i.limitation_reason for i in scored if i.limitation_reason is not None]
    return VideoIssues(
        poor_resolution_fraction=_fraction(scored, lambda i: i.low_res),
        no_video_fraction=_fraction(scored, lambda i: i.stuck),
        quality_limitation_fraction=_fraction(reasons, lambda r: r != "none"),
        cpu_quality_limitation_fraction=_fraction(reasons, lambda r: r == "cpu"),
        bandwidth_quality_limitation_fraction=_fraction(reasons, lambda r: r == "bandwidth"),
    )


def _loss_of(intervals: Sequence[Interval]) -> float | None:
    """100 · Σlost / (Σreceived + Σlost) over every measured interval (gaps included)."""
    known = [i for i in intervals if i.packets is not None and i.packets_lost is not None]
    expected = sum(i.expected_packets for i in known)  # type: ignore[misc]
    lost = sum(i.packets_lost for i in known)  # type: ignore[misc]
    return round(100 * lost / expected, 4) if expected else None


def _row(i: Interval) -> QualityRow:
    producer = i.direction == "producer"
    row = QualityRow(
        timestamp=iso_ms(i.end_ms),  # type: ignore[arg-type]
        ssrc=i.ssrc,
        mid=i.mid,
        packets_lost=i.packets_lost,
        bitrate=_whole(i.bitrate),
        jitter=i.jitter,
        mos_quality=i.mos,
    )
    if producer:
        row.producer_id, row.bytes_sent, row.packets_sent, row.rtt = (
            i.track_id,
            i.bytes,
            i.packets,
            i.rtt,
        )
    else:
        row.consumer_id, row.producer_id, row.peer_id = (
            i.track_id,
            i.producer_id,
            i.producer_peer_id,
        )
        row.bytes_received, row.packets_received = i.bytes, i.packets
        row.jitter_buffer_delay = _round(i.jitter_buffer_delay_ms)
        row.jitter_buffer_emitted_count = i.jitter_buffer_emitted
    if i.kind in AUDIO_KINDS:
        row.mos_emodel = i.mos_emodel
        if not producer:
            row.concealment_events = i.concealment_events
        return row
    row.frame_width, row.frame_height = i.frame_width, i.frame_height
    row.frames_per_second = _round(i.fps, 2)
    row.pli_count, row.fir_count = i.pli, i.fir
    if producer:
        row.frames_encoded, row.key_frames_encoded = i.frames, i.key_frames
        row.quality_limitation_reason = i.limitation_reason
        row.quality_limitation_durations = (
            None
            if i.limitation_durations is None
            else LimitationDurations(**i.limitation_durations)
        )
        row.quality_limitation_resolution_changes = i.resolution_changes
    else:
        row.frames_decoded, row.key_frames_decoded = i.frames, i.key_frames
        row.frames_dropped = i.frames_dropped
    return row


def _audio_stat(i: Interval) -> AudioStat:
    return AudioStat(
        timestamp=iso_ms(i.end_ms),  # type: ignore[arg-type]
        quality=i.mos,
        packets_lost=i.packets_lost,
        jitter=i.jitter,
        concealment_events=i.concealment_events,
    )


def _video_stat(i: Interval) -> VideoStat:
    return VideoStat(
        timestamp=iso_ms(i.end_ms),  # type: ignore[arg-type]
        quality=i.mos,
        packets_lost=i.packets_lost,
        jitter=i.jitter,
        frame_width=i.frame_width,
        frame_height=i.frame_height,
        frames_per_second=_round(i.fps, 2),
        frames_dropped=i.frames_dropped,
    )


def _skipped(measured: TrackIntervals) -> list[SkippedInterval]:
    gaps = [
        (i.start_ms, i.end_ms, i.kind, i.direction, i.ssrc, "gap")
        for i in measured.intervals
        if i.gap
    ]
    resets = [
        (s.start_ms, s.end_ms, s.kind, s.direction, s.ssrc, s.reason) for s in measured.resets
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
            [*gaps, *resets], key=lambda s: (s[0], s[2], s[3], -1 if s[4] is None else s[4])
        )
    ]
