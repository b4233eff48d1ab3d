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
than the arithmetic. Grouping and transposing the samples is ``tracks.py``;
the score formulas are ``mos.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from rtk_sessions.analytics.mos import emodel_mos, round_score, scores
from rtk_sessions.analytics.tracks import (
    AUDIO_KINDS,
    columns_of,
    known,
    limitation_columns,
    note_received,
    ssrc_key,
    steps,
    tracks_of,
    went_down,
)
from rtk_sessions.ingest.events import StatsSample

__all__ = ["DEFAULT_PERIOD_S", "GAP_FACTOR", "Measured", "Series", "Skipped", "intervals_of"]

DEFAULT_PERIOD_S = 7.0  # RealtimeKit samples every 7 s
GAP_FACTOR = 3  # an interval longer than 3 periods is a gap

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


def intervals_of(samples: Iterable[StatsSample], period_s: float = DEFAULT_PERIOD_S) -> Measured:
    """Every interval of every track in ``samples`` (any order, duplicates allowed)."""
    gap_ms = GAP_FACTOR * period_s * 1000
    series: list[Series] = []
    resets: list[Skipped] = []
    received: dict[str, tuple[int, int]] = {}
    tracks = tracks_of(samples)
    for times, track in tracks:
        if len(track) > 1:
            measured, skipped = _measure(times, track, gap_ms)
            series.append(measured)
            resets += skipped
        note_received(times, track, received)
    resets.sort(key=lambda s: (s.start_ms, s.kind, s.direction, ssrc_key(s.ssrc)))
    ends = [at for times, _ in tracks for at in (times[0], times[-1])]
    return Measured(
        tuple(series), tuple(resets), min(ends, default=None), max(ends, default=None), received
    )


def _measure(
    times: list[int], track: list[StatsSample], gap_ms: float
) -> tuple[Series, list[Skipped]]:
    kind, direction, ssrc = track[0].kind, track[0].direction, track[0].ssrc
    producer = direction == "producer"
    sent, coded = ("sent", "encoded") if producer else ("received", "decoded")
    columns = columns_of(track)
    down = went_down(columns)
    keep = [i for i, reset in enumerate(down) if not reset]
    skipped = [
        Skipped(kind, direction, ssrc, times[i], times[i + 1], "counter_reset")
        for i, reset in enumerate(down)
        if reset
    ]

    every = len(keep) == len(down)  # no reset: take whole columns, no re-indexing

    unknown: list[Any] = [None] * len(keep)

    def delta(name: str) -> list[Any]:
        if name not in columns:
            return unknown
        column = steps(columns[name])  # tracks.steps: differences over time
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
    packets, octets = delta(f"packets_{sent}"), delta(f"bytes_{sent}")
    frames = delta(f"frames_{coded}")
    lost = [None if x is None else max(x, 0) for x in delta("packets_lost")]
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
    concealment = delta("concealment_events")
    flags = _video_flags(kind, width, fps, frames)
    # a gap is not scored, nor an interval without any packet (a muted microphone)
    unscorable = [g or e == 0 for g, e in zip(gaps, expected, strict=True)]
    mos = scores(kind, producer, unscorable, jitter, loss, concealment, flags)
    emodel = (
        [
            None
            if skip or r is None or j is None or x is None
            else round_score(emodel_mos(1000 * r, 1000 * j, x))
            for skip, r, j, x in zip(unscorable, rtt, jitter, loss, strict=True)
        ]
        if kind in AUDIO_KINDS
        else unknown
    )
    jb_emitted = delta("jitter_buffer_emitted_count")
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
            for d, n in zip(delta("jitter_buffer_delay"), jb_emitted, strict=True)
        ],
        jitter_buffer_emitted=jb_emitted,
        frames=frames,
        frames_dropped=delta("frames_dropped"),
        frame_width=width,
        frame_height=later("frame_height"),
        fps=fps,
        key_frames=delta(f"key_frames_{coded}"),
        pli=delta("pli_count"),
        fir=delta("fir_count"),
        limitation_reason=later("quality_limitation_reason"),
        limitation_durations=limited,
        resolution_changes=delta("quality_limitation_resolution_changes"),
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
    if durations is None or not known(durations):
        return [None] * len(keep)
    deltas = list(
        zip(
            *(
                [None if x is None else round(x, 4) for x in steps(part)]
                for part in limitation_columns(durations)
            ),
            strict=True,
        )
    )
    return [None if durations[i] is None or durations[i + 1] is None else deltas[i] for i in keep]
