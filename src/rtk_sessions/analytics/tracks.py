"""A peer's samples as tracks, each transposed into columns (``quality.md`` §1).

A track is the samples of one (kind, direction, ssrc) in time order, one per
instant. Measuring works on columns (one field over time) rather than on
samples: a one-hour call has thousands of samples, and whole-column
operations run in C where per-sample Python would not.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from rtk_sessions.ingest.events import StatsSample

AUDIO_KINDS = frozenset({"audio", "screenshare_audio"})

#: Cumulative counters: one that goes down means the browser started over.
RESET_COUNTERS = (
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
LIMITATIONS = ("cpu", "bandwidth", "none", "other")

_ENCODE = msgspec.json.Encoder()
_TS = operator.attrgetter("ts")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def ssrc_key(ssrc: int | None) -> int:
    return -1 if ssrc is None else ssrc


def tracks_of(samples: Iterable[StatsSample]) -> list[tuple[list[int], list[StatsSample]]]:
    """(times in epoch ms, samples) per (kind, direction, ssrc), one sample per ts, in time
    order; tracks in (kind, direction, ssrc) order.

    Two different samples of a track at the same instant (a client re-sent a
    sample with other values) resolve to the one whose JSON sorts last, so the
    choice does not depend on arrival order.
    """
    by_track: dict[tuple[str, str, int], list[StatsSample]] = {}
    for sample in samples:
        by_track.setdefault((sample.kind, sample.direction, ssrc_key(sample.ssrc)), []).append(
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


def note_received(
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


def steps(values: Sequence[Any]) -> list[Any]:
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


def known(values: Sequence[Any]) -> bool:
    """Does any value in the column exist? (``count`` runs in C; columns are long.)"""
    return values.count(None) != len(values)


def columns_of(track: list[StatsSample]) -> dict[str, tuple[Any, ...]]:
    """The track's samples transposed, in C: each field it is measured from, over time;
    fields it is not measured from are absent (read as all unknown)."""
    shape = (track[0].kind in AUDIO_KINDS, track[0].direction == "producer")
    fields = _FIELDS_OF[shape]
    return dict(zip(fields, zip(*map(_READERS[shape], track), strict=True), strict=True))


def limitation_columns(durations: Sequence[Any]) -> list[list[float | None]]:
    """The ``quality_limitation_durations`` column split into one column per reason
    (:data:`LIMITATIONS` order); ``None`` where a sample had no durations."""
    return [[None if d is None else getattr(d, name) for d in durations] for name in LIMITATIONS]


def went_down(columns: dict[str, tuple[Any, ...]]) -> list[bool]:
    """Per interval: did any cumulative counter go down (a reset)?"""
    counters: list[Sequence[Any]] = [columns[name] for name in RESET_COUNTERS if name in columns]
    limits = columns.get("quality_limitation_durations")
    if limits is not None and known(limits):
        counters += limitation_columns(limits)
    down = [False] * (len(columns["mid"]) - 1)
    for column in counters:
        missing = column.count(None)
        if missing == len(column) or (not missing and ascending(column)):
            continue  # the usual case, decided in C: nothing went down
        changes = steps(column)
        down = [d or (x is not None and x < 0) for d, x in zip(down, changes, strict=True)]
    return down


def ascending(column: Sequence[Any]) -> bool:
    """Never decreasing (sorting an already sorted run is one linear pass in C)."""
    return list(column) == sorted(column)
