"""Time: the server clock (replaceable in tests) and the API's timestamp format."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime

#: Returns "now" in milliseconds since the epoch. Tests pass a fixed one.
Clock = Callable[[], int]


def system_clock() -> int:
    return time.time_ns() // 1_000_000


def iso_ms(ms: int | None) -> str | None:
    """``2023-02-01T10:51:08.039Z`` (UTC, milliseconds), or None."""
    return None if ms is None else _iso(ms)


@functools.lru_cache(maxsize=4096)
def _iso(ms: int) -> str:
    # A list page formats three instants per row, the same rows at every request:
    # repeated instants are kept whole, others reuse the calendar part of their minute.
    minutes, within = divmod(ms, 60_000)
    seconds, millis = divmod(within, 1000)
    return f"{_minute_prefix(minutes)}{seconds:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=8192)
def _minute_prefix(minutes: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minutes * 60))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def datetime_to_ms(value: datetime) -> int:
    """An aware datetime as epoch milliseconds (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000
