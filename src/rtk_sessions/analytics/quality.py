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
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import msgspec

from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.ingest.events import StatsSample

__all__ = [
    "DEFAULT_PERIOD_S",
    "GAP_FACTOR",
    "Interval",
    "Skipped",
    "TrackIntervals",
    "emodel_mos",
    "intervals_of",
    "q",
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


@dataclass(frozen=True, slots=True)
class Interval:
    """One track between two consecutive samples. Δ values are counts over the interval.

    ``packets``/``bytes``/``frames`` are the direction's own counters (sent and
    encoded for a producer, received and decoded for a consumer). Times are
    epoch ms; ``jitter`` and ``rtt`` are seconds (the later sample's gauges);
    ``loss_pct`` is 0..100; ``bitrate`` bit/s; ``jitter_buffer_delay_ms`` ms.
    """

    kind: str
    direction: str
    ssrc: int | None
    mid: str | None
    track_id: str | None
    producer_id: str | None
    producer_peer_id: str | None
    start_ms: int
    end_ms: int
    gap: bool  # longer than GAP_FACTOR periods: deltas exact, not scored
    packets: int | None
    bytes: int | None
    packets_lost: int | None
    loss_pct: float | None
    bitrate: float | None
    jitter: float | None
    rtt: float | None
    concealment_events: int | None
    jitter_buffer_delay_ms: float | None
    jitter_buffer_emitted: int | None
    frames: int | None
    frames_dropped: int | None
    frame_width: int | None
    frame_height: int | None
    fps: float | None
    key_frames: int | None
    pli: int | None
    fir: int | None
    limitation_reason: str | None
    limitation_durations: dict[str, float | None] | None
    resolution_changes: int | None
    low_res: bool | None
    lag: bool | None
    stuck: bool | None
    mos: float | None  # 0..1, 2 decimals; None: not scored
    mos_emodel: float | None  # 1..5, 2 decimals (audio only)

    @property
    def expected_packets(self) -> int | None:
        """Packets that should have arrived: sent (producer), received + lost (consumer)."""
        if self.packets is None:
            return None
        if self.direction == "producer":
            return self.packets
        return self.packets + (self.packets_lost or 0)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An interval that could not be measured: a counter went down (``counter_reset``)."""

    kind: str
    direction: str
    ssrc: int | None
    start_ms: int
    end_ms: int
    reason: str


@dataclass(frozen=True, slots=True)
class TrackIntervals:
    """Everything measured of one peer.

    ``intervals`` (gaps included, flagged) in (end, kind, direction, ssrc)
    order; ``resets`` the intervals a counter reset made unknown;
    ``first_ms``/``last_ms`` the first and last sample time; ``received`` per
    kind, the first and last sample time at which a consumer track of that
    kind had received new packets.
    """

    intervals: tuple[Interval, ...]
    resets: tuple[Skipped, ...]
    first_ms: int | None
    last_ms: int | None
    received: dict[str, tuple[int, int]]

    def of(self, kind: str, direction: str) -> list[Interval]:
        return [i for i in self.intervals if i.kind == kind and i.direction == direction]


def q(x: float, weight: float, low: float, high: float) -> float:
    """``Q(x, w, lo, hi) = w · (1 − clamp((x − lo) / (hi − lo), 0, 1))`` (quality.md §2)."""
    return weight * (1 - min(max((x - low) / (high - low), 0.0), 1.0))


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


def intervals_of(
    samples: Iterable[StatsSample], period_s: float = DEFAULT_PERIOD_S
) -> TrackIntervals:
    """Every interval of every track in ``samples`` (any order, duplicates allowed)."""
    gap_ms = GAP_FACTOR * period_s * 1000
    measured: list[Interval] = []
    resets: list[Skipped] = []
    received: dict[str, tuple[int, int]] = {}
    tracks = _tracks(samples)
    for track in tracks:
        for (start_ms, before), (end_ms, after) in zip(track, track[1:], strict=False):
            if _counter_went_down(before, after):
                resets.append(
                    Skipped(
                        after.kind, after.direction, after.ssrc, start_ms, end_ms, "counter_reset"
                    )
                )
            else:
                measured.append(
                    _interval(before, after, start_ms, end_ms, end_ms - start_ms > gap_ms)
                )
        _note_received(track, received)
    measured.sort(key=lambda i: (i.end_ms, i.kind, i.direction, _ssrc_key(i.ssrc)))
    resets.sort(key=lambda s: (s.start_ms, s.kind, s.direction, _ssrc_key(s.ssrc)))
    times = [at for track in tracks for at in (track[0][0], track[-1][0])]
    return TrackIntervals(
        tuple(measured),
        tuple(resets),
        min(times, default=None),
        max(times, default=None),
        received,
    )


def _note_received(
    track: list[tuple[int, StatsSample]], received: dict[str, tuple[int, int]]
) -> None:
    """Widen ``received[kind]`` by the times this consumer track got new packets."""
    previous: int | None = None
    for at, sample in track:
        count = sample.packets_received
        if sample.direction == "consumer" and count and count != previous:
            first, last = received.get(sample.kind, (at, at))
            received[sample.kind] = (min(first, at), max(last, at))
        previous = count


# --------------------------------------------------------------------------
# grouping
# --------------------------------------------------------------------------

_ENCODE = msgspec.json.Encoder()


def _ssrc_key(ssrc: int | None) -> int:
    return -1 if ssrc is None else ssrc


def _tracks(samples: Iterable[StatsSample]) -> list[list[tuple[int, StatsSample]]]:
    """Samples per (kind, direction, ssrc), one per ts, in time order.

    Two different samples of a track at the same instant (a client re-sent a
    sample with other values) resolve to the one whose JSON sorts last, so the
    choice does not depend on arrival order.
    """
    by_track: dict[tuple[str, str, int], dict[int, StatsSample]] = {}
    for sample in samples:
        key = (sample.kind, sample.direction, _ssrc_key(sample.ssrc))
        at = datetime_to_ms(sample.ts)
        track = by_track.setdefault(key, {})
        held = track.get(at)
        if held is None or (held != sample and _ENCODE.encode(sample) > _ENCODE.encode(held)):
            track[at] = sample
    return [
        sorted(track.items(), key=lambda item: item[0]) for _, track in sorted(by_track.items())
    ]


def _counter_went_down(before: StatsSample, after: StatsSample) -> bool:
    for name in _RESET_COUNTERS:
        old, new = getattr(before, name), getattr(after, name)
        if old is not None and new is not None and new < old:
            return True
    old_durations = before.quality_limitation_durations
    new_durations = after.quality_limitation_durations
    if old_durations is None or new_durations is None:
        return False
    for name in _LIMITATIONS:
        old, new = getattr(old_durations, name), getattr(new_durations, name)
        if old is not None and new is not None and new < old:
            return True
    return False


# --------------------------------------------------------------------------
# one interval
# --------------------------------------------------------------------------


def _delta(before: StatsSample, after: StatsSample, name: str) -> int | None:
    old, new = getattr(before, name), getattr(after, name)
    return None if old is None or new is None else new - old


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def _interval(
    before: StatsSample, after: StatsSample, start_ms: int, end_ms: int, gap: bool
) -> Interval:
    seconds = (end_ms - start_ms) / 1000
    producer = after.direction == "producer"
    packets = _delta(before, after, "packets_sent" if producer else "packets_received")
    octets = _delta(before, after, "bytes_sent" if producer else "bytes_received")
    frames = _delta(before, after, "frames_encoded" if producer else "frames_decoded")
    lost = _delta(before, after, "packets_lost")
    lost = None if lost is None else max(lost, 0)  # late packets lower the count: not a gain
    loss_pct = _loss_pct(packets, lost, producer)
    jb_emitted = _delta(before, after, "jitter_buffer_emitted_count")
    jb_delay = _ratio(_delta(before, after, "jitter_buffer_delay"), jb_emitted)
    fps = after.frames_per_second
    if fps is None and frames is not None:
        fps = frames / seconds
    low_res, lag, stuck = _video_flags(after, fps, frames)
    concealment = _delta(before, after, "concealment_events")
    key_frames = _delta(before, after, "key_frames_encoded" if producer else "key_frames_decoded")
    scores = _Scores(after, packets, lost, loss_pct, concealment, fps, low_res, lag, stuck)
    return Interval(
        kind=after.kind,
        direction=after.direction,
        ssrc=after.ssrc,
        mid=after.mid,
        track_id=after.track_id,
        producer_id=after.producer_id,
        producer_peer_id=after.producer_peer_id,
        start_ms=start_ms,
        end_ms=end_ms,
        gap=gap,
        packets=packets,
        bytes=octets,
        packets_lost=lost,
        loss_pct=loss_pct,
        bitrate=None if octets is None else 8 * octets / seconds,
        jitter=after.jitter,
        rtt=after.round_trip_time,
        concealment_events=concealment,
        jitter_buffer_delay_ms=None if jb_delay is None else 1000 * jb_delay,
        jitter_buffer_emitted=jb_emitted,
        frames=frames,
        frames_dropped=_delta(before, after, "frames_dropped"),
        frame_width=after.frame_width,
        frame_height=after.frame_height,
        fps=fps,
        key_frames=key_frames,
        pli=_delta(before, after, "pli_count"),
        fir=_delta(before, after, "fir_count"),
        limitation_reason=after.quality_limitation_reason,
        limitation_durations=_limitation_deltas(before, after),
        resolution_changes=_delta(before, after, "quality_limitation_resolution_changes"),
        low_res=low_res,
        lag=lag,
        stuck=stuck,
        mos=None if gap else scores.mos_quality(),
        mos_emodel=None if gap else scores.mos_emodel(),
    )


def _loss_pct(packets: int | None, lost: int | None, producer: bool) -> float | None:
    """Outbound: lost / sent (remote-inbound-rtp); inbound: lost / (received + lost)."""
    if packets is None or lost is None:
        return None
    expected = packets if producer else packets + lost
    if expected <= 0:
        return None
    return min(max(100 * lost / expected, 0.0), 100.0)


def _video_flags(
    after: StatsSample, fps: float | None, frames: int | None
) -> tuple[bool | None, bool | None, bool | None]:
    thresholds = _VIDEO_THRESHOLDS.get(after.kind)
    if thresholds is None:
        return None, None, None
    min_width, min_fps = thresholds
    low_res = None if after.frame_width is None else after.frame_width < min_width
    lag = None if fps is None else fps < min_fps
    stuck = None if frames is None else frames == 0
    return low_res, lag, stuck


def _limitation_deltas(before: StatsSample, after: StatsSample) -> dict[str, float | None] | None:
    old, new = before.quality_limitation_durations, after.quality_limitation_durations
    if old is None or new is None:
        return None
    deltas: dict[str, float | None] = {}
    for name in _LIMITATIONS:
        a, b = getattr(old, name), getattr(new, name)
        deltas[name] = None if a is None or b is None else round(b - a, 4)
    return deltas


@dataclass(frozen=True, slots=True)
class _Scores:
    """The inputs of an interval's scores; each score is None when an input is missing."""

    after: StatsSample
    packets: int | None
    lost: int | None
    loss_pct: float | None
    concealment: int | None
    fps: float | None
    low_res: bool | None
    lag: bool | None
    stuck: bool | None

    @property
    def _audio(self) -> bool:
        return self.after.kind in AUDIO_KINDS

    def _silent(self) -> bool:
        """No audio packets at all in the interval (muted): nothing to score."""
        if self.packets is None:
            return False
        received_or_lost = self.packets + (
            self.lost or 0 if self.after.direction == "consumer" else 0
        )
        return received_or_lost == 0

    def mos_quality(self) -> float | None:
        jitter, loss = self.after.jitter, self.loss_pct
        if jitter is None or loss is None:
            return None
        if self._audio:
            return self._audio_score(jitter, loss)
        if self.low_res is None or self.lag is None or self.stuck is None:
            return None
        picture = 0.8 * (0.85 if self.low_res else 1) * (0.7 if self.lag else 1)
        picture *= 0.5 if self.stuck else 1
        network = 0.2 * q(jitter, 1, 0.020, 0.030) * q(loss, 1, 0, 10)
        return round_score(picture + network)

    def _audio_score(self, jitter: float, loss: float) -> float | None:
        if self._silent():
            return None
        if self.after.direction == "producer":
            return round_score(q(loss, 0.7, 0, 10) + q(jitter, 0.3, 0.020, 0.030))
        if self.concealment is None:
            return None
        score = q(self.concealment, 0.2, 0, 3) + q(loss, 0.5, 0, 10) + q(jitter, 0.3, 0.020, 0.030)
        return round_score(score)

    def mos_emodel(self) -> float | None:
        rtt, jitter, loss = self.after.round_trip_time, self.after.jitter, self.loss_pct
        if not self._audio or rtt is None or jitter is None or loss is None or self._silent():
            return None
        return round_score(emodel_mos(1000 * rtt, 1000 * jitter, loss))
