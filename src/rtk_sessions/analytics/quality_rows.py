"""The per-interval rows of the call-quality answers, built from a track's columns.

The row types are the API's shapes: the fields the current SDK generation
types for each kind and direction (``bitrate`` and ``mos_emodel`` are ours).
Rows are built column by column: constructing a Struct positionally over whole
columns (``map``) is several times faster than one keyword call per row, and
an hour of a call is thousands of rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from msgspec import Struct

from rtk_sessions.analytics.quality import Series
from rtk_sessions.analytics.tracks import AUDIO_KINDS
from rtk_sessions.clock import iso_ms

#: Intervals of the series of one kind and direction: (series, indices into its columns).
Selection = list[tuple[Series, list[int]]]


class AudioProducerRow(Struct, gc=False, omit_defaults=True):
    """One interval of a sent microphone or screen-share audio track (``timestamp`` = its
    end); counters are Δ over the interval, jitter and RTT seconds, ``bitrate`` bit/s;
    ``mos_emodel`` (1..5, ours) beside ``mos_quality`` (0..1)."""

    timestamp: str
    producer_id: str | None = None
    ssrc: int | None = None
    mid: str | None = None
    bytes_sent: int | None = None
    packets_sent: int | None = None
    packets_lost: int | None = None
    bitrate: int | None = None
    jitter: float | None = None
    rtt: float | None = None
    mos_quality: float | None = None
    mos_emodel: float | None = None


class AudioConsumerRow(Struct, gc=False, omit_defaults=True):
    """One interval of a received audio track; ``peer_id``/``producer_id`` name the sender
    when the sample did; ``jitter_buffer_delay`` ms."""

    timestamp: str
    consumer_id: str | None = None
    producer_id: str | None = None
    peer_id: str | None = None
    ssrc: int | None = None
    mid: str | None = None
    bytes_received: int | None = None
    packets_received: int | None = None
    packets_lost: int | None = None
    bitrate: int | None = None
    jitter: float | None = None
    concealment_events: int | None = None
    jitter_buffer_delay: float | None = None
    jitter_buffer_emitted_count: int | None = None
    mos_quality: float | None = None
    mos_emodel: float | None = None


class LimitationDurations(Struct, gc=False, omit_defaults=True):
    """Seconds spent limited by each reason during the interval."""

    cpu: float | None = None
    bandwidth: float | None = None
    none: float | None = None
    other: float | None = None


class VideoProducerRow(Struct, gc=False, omit_defaults=True):
    """One interval of a sent camera or screen-share track, with the encoder's
    quality limitation (reason at the end, seconds per reason during)."""

    timestamp: str
    producer_id: str | None = None
    ssrc: int | None = None
    mid: str | None = None
    bytes_sent: int | None = None
    packets_sent: int | None = None
    packets_lost: int | None = None
    bitrate: int | None = None
    jitter: float | None = None
    rtt: float | None = None
    frames_encoded: int | None = None
    key_frames_encoded: int | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    frames_per_second: float | None = None
    pli_count: int | None = None
    fir_count: int | None = None
    quality_limitation_reason: str | None = None
    quality_limitation_durations: LimitationDurations | None = None
    quality_limitation_resolution_changes: int | None = None
    mos_quality: float | None = None


class VideoConsumerRow(Struct, gc=False, omit_defaults=True):
    """One interval of a received camera or screen-share track."""

    timestamp: str
    consumer_id: str | None = None
    producer_id: str | None = None
    peer_id: str | None = None
    ssrc: int | None = None
    mid: str | None = None
    bytes_received: int | None = None
    packets_received: int | None = None
    packets_lost: int | None = None
    bitrate: int | None = None
    jitter: float | None = None
    jitter_buffer_delay: float | None = None
    jitter_buffer_emitted_count: int | None = None
    frames_decoded: int | None = None
    frames_dropped: int | None = None
    key_frames_decoded: int | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    frames_per_second: float | None = None
    pli_count: int | None = None
    fir_count: int | None = None
    mos_quality: float | None = None


class AudioStat(Struct, gc=False, omit_defaults=True):
    timestamp: str
    quality: float | None = None
    packets_lost: int | None = None
    jitter: float | None = None
    concealment_events: int | None = None


class VideoStat(Struct, gc=False, omit_defaults=True):
    timestamp: str
    quality: float | None = None
    packets_lost: int | None = None
    jitter: float | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    frames_per_second: float | None = None
    frames_dropped: int | None = None


class Timestamps(dict[int, str]):
    """ISO timestamps of epoch ms, each formatted once: a peer's tracks are sampled at
    the same instants, so a report formats each instant several times."""

    def __missing__(self, ms: int) -> str:
        text = self[ms] = iso_ms(ms)  # type: ignore[assignment]
        return text


def round4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def whole(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def column(selection: Selection, name: str) -> list[Any]:
    """The named column of the selected intervals, in selection order."""
    values: list[Any] = []
    for series, indices in selection:
        whole_column = getattr(series, name)
        every = len(indices) == len(whole_column)
        values += whole_column if every else [whole_column[i] for i in indices]
    return values


def known_values(values: list[Any]) -> list[Any]:
    return [v for v in values if v is not None]


def in_time_order(entries: list[Any]) -> list[Any]:
    """Entries of several tracks merged by time (ISO timestamps sort as times do)."""
    return sorted(entries, key=lambda e: e.timestamp)


def rows_of(kind: str, direction: str, series: list[Series], at: Timestamps) -> list[Any]:
    row_type = _ROW_TYPES[(kind in AUDIO_KINDS, direction == "producer")]
    rows = [row for s in series for row in build_rows(row_type, s, s.rows(), at)]
    return in_time_order(rows) if len(series) > 1 else rows


def build_rows(row_type: type[Any], s: Series, indices: list[int], at: Timestamps) -> list[Any]:
    """Rows of ``row_type`` for the given intervals, built column by column (positional
    construction over whole columns is several times faster than one call per row)."""
    every = len(indices) == len(s.gap)

    def pick(column: list[Any]) -> list[Any]:
        return column if every else [column[i] for i in indices]

    columns = [_column_of(name, s, pick, at) for name in row_type.__struct_fields__]
    return list(map(row_type, *columns))


def _column_of(
    name: str, s: Series, pick: Callable[[list[Any]], list[Any]], at: Timestamps
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
