"""Query parameters the SDKs send in their own ways: numbers as floats, ranges as text."""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from litestar.params import QueryParameter

from rtk_sessions.api.envelope import BadParameter
from rtk_sessions.clock import datetime_to_ms
from rtk_sessions.store.sessions import Page

#: Larger page numbers or peer counts than this are refused (they would overflow SQL integers).
LARGEST_WHOLE = 1_000_000_000
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


# Litestar leaves a falsy bound (ge=0) out of the document: stated here once more
_AT_LEAST_ZERO = {"minimum": 0}


def page_no_parameter() -> Any:
    """``page_no`` as the OpenAPI document states it: a whole number from 0 (0 = page 1)."""
    return QueryParameter(
        description="Page, from 1 (0 = default).",
        ge=0,
        le=LARGEST_WHOLE,
        multiple_of=1,
        schema_extra=_AT_LEAST_ZERO,
    )


def per_page_parameter(default: int, maximum: int) -> Any:
    """``per_page``: a whole number up to ``maximum`` (0 = ``default``)."""
    return QueryParameter(
        description=f"1..{maximum}, default {default} (0 = default).",
        ge=0,
        le=maximum,
        multiple_of=1,
        schema_extra=_AT_LEAST_ZERO,
    )


def _whole(name: str, value: float) -> int:
    if not math.isfinite(value) or value != int(value):
        raise BadParameter(f"{name} must be a whole number; got {value}")
    if abs(value) > LARGEST_WHOLE:
        raise BadParameter(f"{name} must be at most {LARGEST_WHOLE}; got {value:.0f}")
    return int(value)


def page_of(page_no: float | None, per_page: float | None, *, default: int, maximum: int) -> Page:
    """Offset and limit from ``page_no`` (≥ 1) and ``per_page`` (1..maximum); 0 means default."""
    page = 1 if page_no in (None, 0) else _whole("page_no", page_no)  # type: ignore[arg-type]
    size = default if per_page in (None, 0) else _whole("per_page", per_page)  # type: ignore[arg-type]
    if page < 1:
        raise BadParameter(f"page_no must be 1 or more; got {page}")
    if not 1 <= size <= maximum:
        raise BadParameter(f"per_page must be between 1 and {maximum}; got {size}")
    return Page(offset=(page - 1) * size, limit=size)


def participants_range(text: str | None) -> tuple[int | None, int | None]:
    """``"n"`` (exactly n), ``"min:max"``, ``"min:"`` or ``":max"`` peers."""
    if text is None or text.strip() == "":
        return None, None
    low, sep, high = (part.strip() for part in text.strip().partition(":"))
    parts = [low] if not sep else [p for p in (low, high) if p]
    if not all(_DIGITS.fullmatch(p) and int(p) <= LARGEST_WHOLE for p in parts) or not parts:
        raise BadParameter(
            "participants must be 'n', 'min:max', 'min:' or ':max' with whole numbers "
            f"from 0 to {LARGEST_WHOLE}; got {text!r}"
        )
    if not sep:
        bounds: tuple[int | None, int | None] = (int(low), int(low))
    else:
        bounds = (int(low) if low else None, int(high) if high else None)
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise BadParameter(f"participants min must not exceed max; got {text!r}")
    return bounds


def time_ms(name: str, value: datetime | None) -> int | None:
    """Epoch ms of an ISO 8601 time parameter, which must carry an offset or ``Z``."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise BadParameter(
            f"invalid query parameter '{name}': expected an ISO 8601 time with an offset, "
            f"e.g. 2026-01-09T13:00:15.936Z; got {value.isoformat()} without one"
        )
    return datetime_to_ms(value)


def filters_parameter(allowed: tuple[str, ...]) -> Any:
    """``filters``: names from ``allowed``, comma-separated (none = all). The pattern
    :func:`sections_of` accepts is stated in the document only (``schema_extra``): the
    handler's own 400 names the unknown filter and the allowed ones, clearer than a regex."""
    name = "(?:" + "|".join(re.escape(a) for a in allowed) + ")"
    return QueryParameter(
        description=f"Comma-separated: {', '.join(allowed)} (none = all).",
        schema_extra={"pattern": rf"^[\s,]*(?:{name}(?:\s*,[\s,]*{name})*)?[\s,]*$"},
    )


def sections_of(filters: str | None, allowed: tuple[str, ...]) -> frozenset[str]:
    """The comma-separated ``filters`` as a set (all of ``allowed`` if none given)."""
    if filters is None or filters.strip() == "":
        return frozenset(allowed)
    named = [part.strip() for part in filters.split(",") if part.strip()]
    unknown = [name for name in named if name not in allowed]
    if unknown:
        raise BadParameter(
            f"invalid query parameter 'filters': unknown {', '.join(unknown)}; "
            f"allowed: {', '.join(allowed)}"
        )
    return frozenset(named)
