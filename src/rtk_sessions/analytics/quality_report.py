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

import bisect
import math
from collections.abc import Callable, Sequence
from typing import Any

from msgspec import UNSET, Struct, UnsetType, field

from rtk_sessions.analytics.quality import AUDIO_KINDS, Measured, Series
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


class AudioProducerRow(Struct, gc=False):
    """One interval of a sent microphone or screen-share audio track (``timestamp`` = its
    end); counters are Δ over the interval, jitter and RTT seconds, ``bitrate`` bit/s;
    ``mos_emodel`` (1..5, ours) beside ``mos_quality`` (0..1)."""

    timestamp: str
    producer_id: str | None
    ssrc: int | None
    mid: str | None
    bytes_sent: int | None
    packets_sent: int | None
    packets_lost: int | None
    bitrate: int | None
    jitter: float | None
    rtt: float | None
    mos_quality: float | None
    mos_emodel: float | None


class AudioConsumerRow(Struct, gc=False):
    """One interval of a received audio track; ``peer_id``/``producer_id`` name the sender
    when the sample did; ``jitter_buffer_delay`` ms."""

    timestamp: str
    consumer_id: str | None
    producer_id: str | None
    peer_id: str | None
    ssrc: int | None
    mid: str | None
    bytes_received: int | None
    packets_received: int | None
    packets_lost: int | None
    bitrate: int | None
    jitter: float | None
    concealment_events: int | None
    jitter_buffer_delay: float | None
    jitter_buffer_emitted_count: int | None
    mos_quality: float | None
    mos_emodel: float | None


class LimitationDurations(Struct, gc=False):
    """Seconds spent limited by each reason during the interval."""

    cpu: float | None
    bandwidth: float | None
    none: float | None
    other: float | None


class VideoProducerRow(Struct, gc=False):
    """One interval of a sent camera or screen-share track, with the encoder's
    quality limitation (reason at the end, seconds per reason during)."""

    timestamp: str
    producer_id: str | None
    ssrc: int | None
    mid: str | None
    bytes_sent: int | None
    packets_sent: int | None
    packets_lost: int | None
    bitrate: int | None
    jitter: float | None
    rtt: float | None
    frames_encoded: int | None
    key_frames_encoded: int | None
    frame_width: int | None
    frame_height: int | None
    frames_per_second: float | None
    pli_count: int | None
    fir_count: int | None
    quality_limitation_reason: str | None
    quality_limitation_durations: LimitationDurations | None
    quality_limitation_resolution_changes: int | None
    mos_quality: float | None


class VideoConsumerRow(Struct, gc=False):
    """One interval of a received camera or screen-share track."""

    timestamp: str
    consumer_id: str | None
    producer_id: str | None
    peer_id: str | None
    ssrc: int | None
    mid: str | None
    bytes_received: int | None
    packets_received: int | None
    packets_lost: int | None
    bitrate: int | None
    jitter: float | None
    jitter_buffer_delay: float | None
    jitter_buffer_emitted_count: int | None
    frames_decoded: int | None
    frames_dropped: int | None
    key_frames_decoded: int | None
    frame_width: int | None
    frame_height: int | None
    frames_per_second: float | None
    pli_count: int | None
    fir_count: int | None
    mos_quality: float | None


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


#: Intervals of the series of one kind and direction: (series, indices into its columns).
Selection = list[tuple[Series, list[int]]]


def peer_quality(measured: Measured) -> PeerQuality:
    """Rows and cumulatives of every kind and direction (quality.md §3)."""
    sections: dict[str, Any] = {}
    at = _Timestamps()  # a peer's tracks are sampled at the same instants: format each once
    for kind in KINDS:
        for direction in DIRECTIONS:
            series = measured.of(kind, direction)
            scored = [(s, s.scored()) for s in series]
            name = f"{kind}_{direction}"
            has_scores = any(indices for _, indices in scored)
            sections[name] = _rows(kind, direction, series, at) if has_scores else []
            sections[f"{name}_cumulative"] = _cumulative(kind, direction, scored)
    return PeerQuality(**sections, skipped_intervals=_skipped(measured))


def _column(selection: Selection, name: str) -> list[Any]:
    """The named column of the selected intervals, in selection order."""
    values: list[Any] = []
    for series, indices in selection:
        column = getattr(series, name)
        values += column if len(indices) == len(column) else [column[i] for i in indices]
    return values


def _known(values: list[Any]) -> list[Any]:
    return [v for v in values if v is not None]


# --------------------------------------------------------------------------
# quality_stats (received media)
# --------------------------------------------------------------------------


class AudioStat(Struct, gc=False):
    timestamp: str
    quality: float | None
    packets_lost: int | None
    jitter: float | None
    concealment_events: int | None


class VideoStat(Struct, gc=False):
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


def quality_stats(peer_id: str, measured: Measured) -> PeerQualityStats:
    """The received-media summary of one peer (use :func:`participant_entry` for the
    participant-details shape)."""
    audio = measured.of("audio", "consumer")
    video = measured.of("video", "consumer")
    audio_rows = [(s, s.rows()) for s in audio]
    video_rows = [(s, s.rows()) for s in video]
    qualities = _known(_column(audio_rows, "mos") + _column(video_rows, "mos"))
    audio_received = measured.received.get("audio")
    video_received = measured.received.get("video")
    at = _Timestamps()
    return PeerQualityStats(
        peer_id=peer_id,
        start=iso_ms(measured.first_ms),
        end=iso_ms(measured.last_ms),
        audio_stats=_in_time_order([e for s, i in audio_rows for e in _build(AudioStat, s, i, at)]),
        video_stats=_in_time_order([e for s, i in video_rows for e in _build(VideoStat, s, i, at)]),
        average_quality=_round(_mean(qualities)),
        audio_bandwidth=_whole(_mean(_known(_column(audio_rows, "bitrate")))),
        video_bandwidth=_whole(_mean(_known(_column(video_rows, "bitrate")))),
        audio_packet_loss=_loss_of(audio),
        video_packet_loss=_loss_of(video),
        peer_ids=[peer_id],
        total_audio_packets=_total(audio, "expected_packets"),
        total_audio_packets_lost=_total(audio, "packets_lost"),
        total_video_packets=_total(video, "expected_packets"),
        total_video_packets_lost=_total(video, "packets_lost"),
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


class _Timestamps(dict[int, str]):
    """ISO timestamps of epoch ms, each formatted once: a peer's tracks are sampled at
    the same instants, so a report formats each instant several times."""

    def __missing__(self, ms: int) -> str:
        text = self[ms] = iso_ms(ms)  # type: ignore[assignment]
        return text


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _whole(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _total(series: list[Series], name: str) -> int | None:
    """Σ of a per-interval count over every measured interval (gaps included: the
    counters run on across them), ``None`` if no interval knows it."""
    known = [v for s in series for v in getattr(s, name) if v is not None]
    return sum(known) if known else None


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


def _packet_loss(losses: list[float]) -> PacketLoss:
    ordered = sorted(losses)
    return PacketLoss(
        avg=_round(_mean(ordered)),
        ge5=_share_at_least(ordered, 5),
        ge10=_share_at_least(ordered, 10),
        ge25=_share_at_least(ordered, 25),
        ge50=_share_at_least(ordered, 50),
    )


def _latency(values_ms: list[float]) -> Latency:
    ordered = sorted(values_ms)
    return Latency(
        avg=_round(_mean(ordered)),
        ge100=_share_at_least(ordered, 100),
        ge250=_share_at_least(ordered, 250),
        ge500=_share_at_least(ordered, 500),
    )


def _share_of_frames(scored: Selection) -> float | None:
    """Σ key frames / Σ frames over the intervals that report both."""
    pairs = [
        (k, f)
        for k, f in zip(_column(scored, "key_frames"), _column(scored, "frames"), strict=True)
        if k is not None and f is not None
    ]
    frames = sum(f for _, f in pairs)
    return round(sum(k for k, _ in pairs) / frames, 4) if frames else None


def _cumulative(kind: str, direction: str, scored: Selection) -> Cumulative:
    if not any(indices for _, indices in scored):
        return Cumulative()
    producer = direction == "producer"
    summary = Cumulative(
        packet_loss=_packet_loss(_known(_column(scored, "loss_pct"))),
        quality_mos=_distribution(_column(scored, "mos")),
    )
    if producer:
        summary.rtt = _latency([1000 * rtt for rtt in _known(_column(scored, "rtt"))])
    else:
        summary.jitter_buffer_delay = _latency(_known(_column(scored, "jitter_buffer_delay_ms")))
    if kind in AUDIO_KINDS:
        return summary
    summary.frame_per_second = _distribution(_known(_column(scored, "fps")))
    summary.frame_width = _distribution([float(w) for w in _known(_column(scored, "frame_width"))])
    low_res, stuck = _column(scored, "low_res"), _column(scored, "stuck")
    if producer:
        reasons = _known(_column(scored, "limitation_reason"))
        summary.issues = VideoIssues(
            poor_resolution_fraction=_share_of(low_res, True),
            no_video_fraction=_share_of(stuck, True),
            quality_limitation_fraction=_share_of([r != "none" for r in reasons], True),
            cpu_quality_limitation_fraction=_share_of(reasons, "cpu"),
            bandwidth_quality_limitation_fraction=_share_of(reasons, "bandwidth"),
        )
        feedback = [
            (p or 0) + (f or 0)
            for p, f in zip(_column(scored, "pli"), _column(scored, "fir"), strict=True)
            if p is not None or f is not None
        ]
        summary.high_negative_feedback_fraction = _share_at_least(sorted(feedback), 2)
        summary.key_frames_encoded_fraction = _share_of_frames(scored)
    else:
        summary.issues = VideoIssues(
            poor_resolution_fraction=_share_of(low_res, True),
            lag_fraction=_share_of(_column(scored, "lag"), True),
            no_video_fraction=_share_of(stuck, True),
        )
        summary.key_frames_decoded_fraction = _share_of_frames(scored)
    return summary


def _loss_of(series: list[Series]) -> float | None:
    """100 · Σlost / (Σreceived + Σlost) over every measured interval (gaps included)."""
    pairs = [
        (e, x)
        for s in series
        for e, x in zip(s.expected_packets, s.packets_lost, strict=True)
        if e is not None and x is not None
    ]
    expected = sum(e for e, _ in pairs)
    return round(100 * sum(x for _, x in pairs) / expected, 4) if expected else None


def _in_time_order(entries: list[Any]) -> list[Any]:
    """Entries of several tracks merged by time (ISO timestamps sort as times do)."""
    return sorted(entries, key=lambda e: e.timestamp)


def _rows(kind: str, direction: str, series: list[Series], at: _Timestamps) -> list[Any]:
    row_type = _ROW_TYPES[(kind in AUDIO_KINDS, direction == "producer")]
    rows = [row for s in series for row in _build(row_type, s, s.rows(), at)]
    return _in_time_order(rows) if len(series) > 1 else rows


def _build(row_type: type[Any], s: Series, indices: list[int], at: _Timestamps) -> list[Any]:
    """Rows of ``row_type`` for the given intervals, built column by column (positional
    construction over whole columns is several times faster than one call per row)."""
    every = len(indices) == len(s.gap)

    def pick(column: list[Any]) -> list[Any]:
        return column if every else [column[i] for i in indices]

    columns = [_column_of(name, s, pick, at) for name in row_type.__struct_fields__]
    return list(map(row_type, *columns))


def _column_of(
    name: str, s: Series, pick: Callable[[list[Any]], list[Any]], at: _Timestamps
) -> list[Any]:
    """The values of the row field ``name`` for the picked intervals of ``s``."""
    if name == "timestamp":
        return [at[ms] for ms in pick(s.end_ms)]
    if name == "ssrc":
        return [s.ssrc] * len(pick(s.gap))
    if name == "quality_limitation_durations":
        return [
            None if d is None else LimitationDurations(*d) for d in pick(s.limitation_durations)
        ]
    if name == "producer_id" and not s.producer:
        return pick(s.producer_id)  # the sender's producer, as the sample named it
    return pick(getattr(s, _SERIES_COLUMN.get(name, name)))


#: Row field → Series column, where the names differ.
_SERIES_COLUMN = {
    "producer_id": "track_id",
    "consumer_id": "track_id",
    "peer_id": "producer_peer_id",
    "bytes_sent": "bytes",
    "bytes_received": "bytes",
    "packets_sent": "packets",
    "packets_received": "packets",
    "jitter_buffer_emitted_count": "jitter_buffer_emitted",
    "frames_encoded": "frames",
    "frames_decoded": "frames",
    "key_frames_encoded": "key_frames",
    "key_frames_decoded": "key_frames",
    "pli_count": "pli",
    "fir_count": "fir",
    "quality_limitation_reason": "limitation_reason",
    "quality_limitation_resolution_changes": "resolution_changes",
    "mos_quality": "mos",
    "quality": "mos",
    "jitter_buffer_delay": "jitter_buffer_delay_ms",
    "frames_per_second": "fps",
}

#: Row shape by (audio?, producer?): the fields the current SDK types for it.
_ROW_TYPES: dict[tuple[bool, bool], type[Any]] = {
    (True, True): AudioProducerRow,
    (True, False): AudioConsumerRow,
    (False, True): VideoProducerRow,
    (False, False): VideoConsumerRow,
}


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
            [*gaps, *resets], key=lambda g: (g[0], g[2], g[3], -1 if g[4] is None else g[4])
        )
    ]
