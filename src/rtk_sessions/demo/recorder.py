"""The event log the demo writes into: ids, timestamps and the events themselves.

Times are integers (milliseconds since the Unix epoch) while generating, and
are rendered as ISO 8601 UTC with milliseconds and a ``Z`` only when an event
is recorded.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime
from typing import Any

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_MS = 86_400_000
_day_prefixes: dict[int, str] = {}


def to_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch (floored) of a timezone-aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be timezone-aware (UTC), got a naive datetime")
    return (moment - _EPOCH) // _EPOCH.resolution // 1000


def iso_ms(ms: int) -> str:
    """``2026-01-09T13:00:15.936Z`` for a time in milliseconds since the epoch."""
    day, rest = divmod(ms, _DAY_MS)
    prefix = _day_prefixes.get(day)
    if prefix is None:
        prefix = _day_prefixes[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{prefix}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


class Recorder:
    """Collects the events of one demo app; every random choice flows from ``seed``."""

    def __init__(self, seed: int, now_ms: int) -> None:
        self.rng = random.Random(seed)
        # Ids have their own stream so that they never shift the data's random choices.
        self._id_rng = random.Random(f"rtk-sessions-demo-ids:{seed}")
        self.now_ms = now_ms
        self._events: list[tuple[int, int, dict[str, Any]]] = []

    def new_id(self) -> str:
        """A UUID (version 4 layout) drawn from the seeded id stream."""
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def record(self, type_: str, ts_ms: int, **fields: Any) -> dict[str, Any]:
        """Add one native event at ``ts_ms``; the time must not lie after ``now``."""
        if ts_ms > self.now_ms:
            raise AssertionError(f"{type_} at {iso_ms(ts_ms)} lies after now")
        event = {"id": "ev-" + self.new_id(), "type": type_, "ts": iso_ms(ts_ms), **fields}
        self._events.append((ts_ms, len(self._events), event))
        return event

    def events(self) -> list[dict[str, Any]]:
        """All recorded events in time order (ties in recording order)."""
        # (ts, sequence) is unique, so the sort never compares the dicts.
        return [event for _, _, event in sorted(self._events)]
