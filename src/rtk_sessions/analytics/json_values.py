"""Values read from stored event payloads (JSON decoded into plain Python), typed or ``None``.

Stored payloads hold what clients sent: a value of an unexpected type is read
as unknown (``None``) instead of being passed on with the wrong JSON type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

_EPOCH = datetime.min.replace(tzinfo=UTC)


def parse_ts(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (naive → taken as UTC)."""
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, str):
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def format_ts(ts: datetime) -> str:
    """``2023-02-01T10:51:08.039Z``: UTC, milliseconds (truncated)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def order_key(event: Mapping[str, Any]) -> tuple[datetime, str, str]:
    """Total order on stored events: (ts, id), then content as a last resort.

    An unparsable/missing ``ts`` sorts first. The content tiebreak only
    matters for two events with equal ts and id (ids are unique per app,
    so not in practice) and keeps the fold independent of input order.
    """
    event_id = event.get("id")
    return (
        parse_ts(event.get("ts")) or _EPOCH,
        event_id if isinstance(event_id, str) else "",
        json.dumps(event, sort_keys=True, default=str),
    )


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def number(value: Any) -> int | float | None:
    """An int or float as given; bools and anything else → ``None``."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def known(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries whose value is known: an unknown (``None``) value is left out of an
    answer, never sent as null (api.md)."""
    return {key: value for key, value in values.items() if value is not None}


def section(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """The section's known values, or ``None`` when none is known."""
    return known(values) or None
