"""Call quality from raw WebRTC stats: intervals and their scores (``quality.md`` §1-2).

Pure functions over a peer's stored ``peer.stats`` samples (the ingest
Structs); no I/O. Browsers report cumulative counters, so the unit of
measurement is the **interval** between two consecutive samples of one track
(kind, direction, ssrc): its Δ of every counter, the later sample's gauges,
and a 0..1 ``mos_quality``. What cannot be measured stays ``None``:

- a counter that went down (other than ``packets_lost``, which browsers lower
  when late packets arrive) is a reset: that interval is unknown and skipped;
- an interval longer than ``GAP_FACTOR`` × the sampling period is a gap:
  recorded, not scored;
- an interval without the inputs of its score (no jitter reported, no packets
  at all, e.g. a muted microphone) has ``mos_quality = None``.

Samples are deduplicated by (track, ts) and sorted, so the same samples give
the same intervals whatever order or batches they arrived in.

A track's intervals are kept as columns (:class:`Series`: element ``i`` of
every list belongs to interval ``i``), computed a column at a time: a
one-hour call has thousands of intervals, and per-interval objects cost more
than the arithmetic.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from rtk_sessions.ingest.events import StatsSample

__all__ = [
    "AUDIO_KINDS",
    "DEFAULT_PERIOD_S",
    "GAP_FACTOR",
    "Measured",
    "Series",
    "Skipped",
    "emodel_mos",
    "intervals_of",
    "q",
    "round_score",
]

DEFAULT_PERIOD_S = 7.0  # RealtimeKit samples every 7 s
GAP_FACTOR = 3  # an interval longer than 3 periods is a gap

AUDIO_KINDS = frozenset({"audio", "screenshare_audio"})

#: Cumulative counters: one that goes down means the browser started over.
_RESET_COUNTERS = (
    "packets_sent",
    "packets_received",
    "bytes_sent",
    "bytes_received",
    "concealment_events",
    "total_samples_received",
    "frames_encoded",
    "frames_decoded",
    "frames_dropped",
    "jitter_buffer_delay",
    "jitter_buffer_emitted_count",
    "key_frames_encoded",
    "key_frames_decoded",
    "pli_count",
    "fir_count",
    "quality_limitation_resolution_changes",
)
_LIMITATIONS = ("cpu", "bandwidth", "none", "other")

#: (low-resolution width, lag fps) below which video counts as poor / lagging.
_VIDEO_THRESHOLDS = {"video": (240, 8.0), "screenshare_video": (720, 3.0)}


class Series(msgspec.Struct, kw_only=True, gc=False):
    """One track's measured intervals (resets left out), in time order, as columns.

    ``packets``/``bytes``/``frames``/``key_frames`` are the direction's own
    counters (sent and encoded for a producer, received and decoded for a
    consumer); every counter is the Δ over the interval. Times are epoch ms;
    ``jitter`` and ``rtt`` seconds (the later sample's gauges); ``loss_pct``
    0..100 (lost / sent outbound, lost / (received + lost) inbound);
    ``bitrate`` whole bit/s; ``jitter_buffer_delay_ms`` ms (4 decimals); ``fps`` the
    later sample's frame rate, else Δframes / Δt (2 decimals); ``mos`` 0..1 and
    ``mos_emodel`` 1..5, 2 decimals, ``None`` when not scored.
    """

    kind: str
    direction: str
    ssrc: int | None
    start_ms: list[int]
    end_ms: list[int]
    gap: list[bool]
    mid: list[str | None]
    track_id: list[str | None]
    producer_id: list[str | None]
    producer_peer_id: list[str | None]
    packets: list[int | None]
    bytes: list[int | None]
    packets_lost: list[int | None]
    expected_packets: list[int | None]  # sent (producer), received + lost (consumer)
    loss_pct: list[float | None]
    bitrate: list[int | None]
    jitter: list[float | None]
    rtt: list[float | None]
    concealment_events: list[int | None]
    jitter_buffer_delay_ms: list[float | None]
    jitter_buffer_emitted: list[int | None]
    frames: list[int | None]
    frames_dropped: list[int | None]
    frame_width: list[int | None]
    frame_height: list[int | None]
    fps: list[float | None]
    key_frames: list[int | None]
    pli: list[int | None]
    fir: list[int | None]
    limitation_reason: list[str | None]
    limitation_durations: list[tuple[float | None, ...] | None]  # cpu, bandwidth, none, other
    resolution_changes: list[int | None]
    low_res: list[bool | None]
    lag: list[bool | None]
    stuck: list[bool | None]
    mos: list[float | None]
    mos_emodel: list[float | None]

    @property
    def producer(self) -> bool:
        return self.direction == "producer"

    def rows(self) -> list[int]:
        """Indices of the intervals that are shown (every one but the gaps)."""
        return [i for i, gap in enumerate(self.gap) if not gap]

    def scored(self) -> list[int]:
        """Indices of the scored intervals: what averages and fractions are taken over."""
        return [i for i, mos in enumerate(self.mos) if mos is not None]


class Skipped(msgspec.Struct, frozen=True):
    """An interval that could not be measured: a counter went down (``counter_reset``)."""

    kind: str
    direction: str
    ssrc: int | None
    start_ms: int
    end_ms: int
    reason: str


class Measured(msgspec.Struct, frozen=True):
    """Everything measured of one peer.

    ``series`` one per track (kind, direction, ssrc); ``resets`` the intervals
    a counter reset made unknown; ``first_ms``/``last_ms`` the first and last
    sample time; ``received`` per kind, the first and last sample time at
    which a consumer track of that kind had received new packets.
    """

    series: tuple[Series, ...]
    resets: tuple[Skipped, ...]
    first_ms: int | None
    last_ms: int | None
    received: dict[str, tuple[int, int]]

    def of(self, kind: str, direction: str) -> list[Series]:
        return [s for s in self.series if s.kind == kind and s.direction == direction]


def q(x: float, weight: float, low: float, high: float) -> float:
    """``Q(x, w, lo, hi) = w · (1 − clamp((x − lo) / (hi − lo), 0, 1))`` (quality.md §2)."""
    position = (x - low) / (high - low)
    if position <= 0:
        return weight
    if position >= 1:
        return 0.0
    return weight * (1 - position)


def round_score(score: float) -> float:
    """Half up to 2 decimals, as by hand: 0.825 is 0.83 even though the binary sum of
    its terms may land a hair below it (a tolerance of 1e-9 absorbs that noise)."""
    return math.floor(score * 100 + 0.5 + 1e-9) / 100


def emodel_mos(rtt_ms: float, jitter_ms: float, loss_pct: float) -> float:
    """Listening MOS 1..4.5 of the simplified ITU-T G.107 E-model (quality.md §2)."""
    effective = rtt_ms + 2 * jitter_ms + 10
    r = 93.2 - effective / 40 if effective < 160 else 93.2 - (effective - 120) / 10
    r -= 2.5 * loss_pct
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)


def intervals_of(samples: Iterable[StatsSample], period_s: float = DEFAULT_PERIOD_S) -> Measured:
    """Every interval of every track in ``samples`` (any order, duplicates allowed)."""
    gap_ms = GAP_FACTOR * period_s * 1000
    series: list[Series] = []
    resets: list[Skipped] = []
    received: dict[str, tuple[int, int]] = {}
    tracks = _tracks(samples)
    for times, track in tracks:
        if len(track) > 1:
            measured, skipped = _measure(times, track, gap_ms)
            series.append(measured)
            resets += skipped
        _note_received(times, track, received)
    resets.sort(key=lambda s: (s.start_ms, s.kind, s.direction, _ssrc_key(s.ssrc)))
    ends = [at for times, _ in tracks for at in (times[0], times[-1])]
    return Measured(
        tuple(series), tuple(resets), min(ends, default=None), max(ends, default=None), received
    )


# --------------------------------------------------------------------------
# grouping
# --------------------------------------------------------------------------

_ENCODE = msgspec.json.Encoder()
_TS = operator.attrgetter("ts")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def _ssrc_key(ssrc: int | None) -> int:
    return -1 if ssrc is None else ssrc


def _tracks(samples: Iterable[StatsSample]) -> list[tuple[list[int], list[StatsSample]]]:
    """(times in epoch ms, samples) per (kind, direction, ssrc), one sample per ts, in time
    order; tracks in (kind, direction, ssrc) order.

    Two different samples of a track at the same instant (a client re-sent a
    sample with other values) resolve to the one whose JSON sorts last, so the
    choice does not depend on arrival order.
    """
    by_track: dict[tuple[str, str, int], list[StatsSample]] = {}
    for sample in samples:
        by_track.setdefault((sample.kind, sample.direction, _ssrc_key(sample.ssrc)), []).append(
            sample
        )
    tracks = []
    for key in sorted(by_track):
        track = sorted(by_track[key], key=_TS)
        times = [(sample.ts - _EPOCH) // _ONE_MS for sample in track]  # exact ms, in C
        if len(set(times)) < len(times):
            times, track = _one_per_instant(times, track)
        tracks.append((times, track))
    return tracks


def _one_per_instant(
    times: list[int], track: list[StatsSample]
) -> tuple[list[int], list[StatsSample]]:
    """Of samples at the same instant, the one whose JSON sorts last (order-independent)."""
    chosen: dict[int, StatsSample] = {}
    for at, sample in zip(times, track, strict=True):
        held = chosen.get(at)
        if held is None or (held != sample and _ENCODE.encode(sample) > _ENCODE.encode(held)):
            chosen[at] = sample
    return list(chosen), list(chosen.values())


def _note_received(
    times: list[int], track: list[StatsSample], received: dict[str, tuple[int, int]]
) -> None:
    """Widen ``received[kind]`` by the times this consumer track got new packets."""
    if track[0].direction != "consumer":
        return
    previous: int | None = None
    for at, sample in zip(times, track, strict=True):
        count = sample.packets_received
        if count and count != previous:
            first, last = received.get(sample.kind, (at, at))
            received[sample.kind] = (min(first, at), max(last, at))
        previous = count


# --------------------------------------------------------------------------
# one track, a column at a time
# --------------------------------------------------------------------------


def _steps(values: Sequence[Any]) -> list[Any]:
    """Differences of consecutive values; ``None`` where either is unknown."""
    missing = values.count(None)  # type: ignore[attr-defined]
    if missing == len(values):
        return [None] * (len(values) - 1)
    if not missing:
        return list(map(operator.sub, values[1:], values[:-1]))
    return [
        None if a is None or b is None else b - a
        for a, b in zip(values[:-1], values[1:], strict=True)
    ]


#: The fields of a sample that a track of each (audio?, producer?) is measured from;
#: a counter that does not belong to the track (a client's stray key) is not read.
_COMMON = ("mid", "track_id", "packets_lost", "jitter", "round_trip_time")
_VIDEO = ("frame_width", "frame_height", "frames_per_second", "pli_count", "fir_count")
_INBOUND = ("producer_id", "producer_peer_id", "jitter_buffer_delay", "jitter_buffer_emitted_count")
_FIELDS_OF: dict[tuple[bool, bool], tuple[str, ...]] = {
    (True, True): (*_COMMON, "packets_sent", "bytes_sent"),
    (True, False): (
        *_COMMON,
        *_INBOUND,
        "packets_received",
        "bytes_received",
        "concealment_events",
        "total_samples_received",
    ),
    (False, True): (
        *_COMMON,
        *_VIDEO,
        "packets_sent",
        "bytes_sent",
        "frames_encoded",
        "key_frames_encoded",
        "quality_limitation_reason",
        "quality_limitation_durations",
        "quality_limitation_resolution_changes",
    ),
    (False, False): (
        *_COMMON,
        *_VIDEO,
        *_INBOUND,
        "packets_received",
        "bytes_received",
        "frames_decoded",
        "frames_dropped",
        "key_frames_decoded",
    ),
}
_READERS = {shape: operator.attrgetter(*fields) for shape, fields in _FIELDS_OF.items()}


def _known(values: Sequence[Any]) -> bool:
    """Does any value in the column exist? (``count`` runs in C; columns are long.)"""
    return values.count(None) != len(values)


def _columns(track: list[StatsSample]) -> dict[str, tuple[Any, ...]]:
    """The track's samples transposed, in C: each field it is measured from, over time;
    fields it is not measured from are absent (read as all unknown)."""
    shape = (track[0].kind in AUDIO_KINDS, track[0].direction == "producer")
    fields = _FIELDS_OF[shape]
    return dict(zip(fields, zip(*map(_READERS[shape], track), strict=True), strict=True))


def _went_down(columns: dict[str, tuple[Any, ...]]) -> list[bool]:
    """Per interval: did any cumulative counter go down (a reset)?"""
    counters = [columns[name] for name in _RESET_COUNTERS if name in columns]
    limits = columns.get("quality_limitation_durations")
    if limits is not None and _known(limits):
        counters += [[None if d is None else getattr(d, n) for d in limits] for n in _LIMITATIONS]
    down = [False] * (len(columns["mid"]) - 1)
    for column in counters:
        missing = column.count(None)
        if missing == len(column) or (not missing and _ascending(column)):
            continue  # the usual case, decided in C: nothing went down
        steps = _steps(column)
        down = [d or (x is not None and x < 0) for d, x in zip(down, steps, strict=True)]
    return down


def _ascending(column: Sequence[Any]) -> bool:
    """Never decreasing (sorting an already sorted run is one linear pass in C)."""
    return list(column) == sorted(column)


def _measure(
    times: list[int], track: list[StatsSample], gap_ms: float
) -> tuple[Series, list[Skipped]]:
    first = track[-1]
    kind, direction, ssrc = first.kind, first.direction, first.ssrc
    producer = direction == "producer"
    sent, coded = ("sent", "encoded") if producer else ("received", "decoded")
    columns = _columns(track)
    down = _went_down(columns)
    keep = [i for i, reset in enumerate(down) if not reset]
    skipped = [
        Skipped(kind, direction, ssrc, times[i], times[i + 1], "counter_reset")
        for i, reset in enumerate(down)
        if reset
    ]

    every = len(keep) == len(down)  # no reset: take whole columns, no re-indexing

    unknown: list[Any] = [None] * len(keep)

    def steps(name: str) -> list[Any]:
        if name not in columns:
            return unknown
        column = _steps(columns[name])
        return column if every else [column[i] for i in keep]

    def later(name: str) -> list[Any]:
        if name not in columns:
            return unknown
        column = columns[name]
        return list(column[1:]) if every else [column[i + 1] for i in keep]

    start = [times[i] for i in keep]
    end = [times[i + 1] for i in keep]
    seconds = [(b - a) / 1000 for a, b in zip(start, end, strict=True)]
    gaps = [b - a > gap_ms for a, b in zip(start, end, strict=True)]
    packets, octets = steps(f"packets_{sent}"), steps(f"bytes_{sent}")
    frames = steps(f"frames_{coded}")
    lost = [None if x is None else max(x, 0) for x in steps("packets_lost")]
    # packets that should have arrived: sent (outbound), received + lost (inbound)
    expected = (
        packets
        if producer
        else [None if p is None else p + (x or 0) for p, x in zip(packets, lost, strict=True)]
    )
    loss = [
        None if e is None or x is None or e <= 0 else min(100 * x / e, 100.0)
        for e, x in zip(expected, lost, strict=True)
    ]
    jitter, rtt, width = later("jitter"), later("round_trip_time"), later("frame_width")
    reported_fps = later("frames_per_second")
    fps = (
        unknown
        if frames is unknown
        else [
            reported if reported is not None or count is None else round(count / dt, 2)
            for reported, count, dt in zip(reported_fps, frames, seconds, strict=True)
        ]
    )
    concealment = steps("concealment_events")
    flags = _video_flags(kind, width, fps, frames)
    # a gap is not scored, nor an interval without any packet (a muted microphone)
    unscorable = [g or e == 0 for g, e in zip(gaps, expected, strict=True)]
    mos = _scores(kind, producer, unscorable, jitter, loss, concealment, flags)
    emodel = (
        [
            None
            if skip or r is None or j is None or x is None
            else round_score(emodel_mos(1000 * r, 1000 * j, x))
            for skip, r, j, x in zip(unscorable, rtt, jitter, loss, strict=True)
        ]
        if kind in AUDIO_KINDS
        else [None] * len(keep)
    )
    jb_emitted = steps("jitter_buffer_emitted_count")
    limited = _limitation_steps(columns.get("quality_limitation_durations"), keep)
    series = Series(
        kind=kind,
        direction=direction,
        ssrc=ssrc,
        start_ms=start,
        end_ms=end,
        gap=gaps,
        mid=later("mid"),
        track_id=later("track_id"),
        producer_id=later("producer_id"),
        producer_peer_id=later("producer_peer_id"),
        packets=packets,
        bytes=octets,
        packets_lost=lost,
        expected_packets=expected,
        loss_pct=loss,
        bitrate=[
            None if b is None else round(8 * b / dt) for b, dt in zip(octets, seconds, strict=True)
        ],
        jitter=jitter,
        rtt=rtt,
        concealment_events=concealment,
        jitter_buffer_delay_ms=unknown
        if jb_emitted is unknown
        else [
            None if d is None or not n else round(1000 * d / n, 4)
            for d, n in zip(steps("jitter_buffer_delay"), jb_emitted, strict=True)
        ],
        jitter_buffer_emitted=jb_emitted,
        frames=frames,
        frames_dropped=steps("frames_dropped"),
        frame_width=width,
        frame_height=later("frame_height"),
        fps=fps,
        key_frames=steps(f"key_frames_{coded}"),
        pli=steps("pli_count"),
        fir=steps("fir_count"),
        limitation_reason=later("quality_limitation_reason"),
        limitation_durations=limited,
        resolution_changes=steps("quality_limitation_resolution_changes"),
        low_res=flags[0],
        lag=flags[1],
        stuck=flags[2],
        mos=mos,
        mos_emodel=emodel,
    )
    return series, skipped


def _video_flags(
    kind: str, widths: list[int | None], fps: list[float | None], frames: list[int | None]
) -> tuple[list[bool | None], list[bool | None], list[bool | None]]:
    """(low resolution, lag, no new frames) per interval; all ``None`` for audio."""
    thresholds = _VIDEO_THRESHOLDS.get(kind)
    if thresholds is None:
        nothing: list[bool | None] = [None] * len(widths)
        return nothing, nothing, nothing
    min_width, min_fps = thresholds
    return (
        [None if w is None else w < min_width for w in widths],
        [None if f is None else f < min_fps for f in fps],
        [None if n is None else n == 0 for n in frames],
    )


def _limitation_steps(
    durations: tuple[Any, ...] | None, keep: list[int]
) -> list[tuple[float | None, ...] | None]:
    """Per kept interval, seconds limited by (cpu, bandwidth, none, other): Δ of the
    cumulative durations, 4 decimals; ``None`` where a sample had none."""
    if durations is None or not _known(durations):
        return [None] * len(keep)
    parts = [[None if d is None else getattr(d, name) for d in durations] for name in _LIMITATIONS]
    deltas = list(
        zip(*([None if x is None else round(x, 4) for x in _steps(p)] for p in parts), strict=True)
    )
    return [None if durations[i] is None or durations[i + 1] is None else deltas[i] for i in keep]


# --------------------------------------------------------------------------
# scores (quality.md §2)
# --------------------------------------------------------------------------


def _scores(
    kind: str,
    producer: bool,
    unscorable: list[bool],
    jitter: list[float | None],
    loss: list[float | None],
    concealment: list[int | None],
    flags: tuple[list[bool | None], list[bool | None], list[bool | None]],
) -> list[float | None]:
    """Each interval's 0..1 ``mos_quality``; ``None`` when unscorable or an input is missing.

    - audio producer: Q(loss %, 0.7, 0, 10) + Q(jitter s, 0.3, 0.020, 0.030)
    - audio consumer: Q(Δconcealment, 0.2, 0, 3) + Q(loss %, 0.5, 0, 10) + Q(jitter, 0.3, …)
    - video: 0.8 · (low-res ? 0.85 : 1) · (lag ? 0.7 : 1) · (stuck ? 0.5 : 1)
      + 0.2 · Q(jitter, 1, 0.020, 0.030) · Q(loss %, 1, 0, 10)
    """
    if kind in AUDIO_KINDS and producer:
        return [
            None
            if skip or j is None or x is None
            else round_score(q(x, 0.7, 0, 10) + q(j, 0.3, 0.020, 0.030))
            for skip, j, x in zip(unscorable, jitter, loss, strict=True)
        ]
    if kind in AUDIO_KINDS:
        return [
            None
            if skip or j is None or x is None or c is None
            else round_score(q(c, 0.2, 0, 3) + q(x, 0.5, 0, 10) + q(j, 0.3, 0.020, 0.030))
            for skip, j, x, c in zip(unscorable, jitter, loss, concealment, strict=True)
        ]
    return [
        None
        if skip or j is None or x is None or low is None or slow is None or still is None
        else round_score(
            0.8 * (0.85 if low else 1) * (0.7 if slow else 1) * (0.5 if still else 1)
            + 0.2 * q(j, 1, 0.020, 0.030) * q(x, 1, 0, 10)
        )
        for skip, j, x, low, slow, still in zip(unscorable, jitter, loss, *flags, strict=True)
    ]
