"""The dashboard's Jinja templates (``ui/templates``, autoescaped) and their filters."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Response

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
HTML = "text/html; charset=utf-8"

# Nothing the pages load comes from elsewhere; inline styles carry chart positions.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def utc(ms: int | None, with_date: bool = True) -> str:
    """``2026-12-04 21:30:05 UTC`` (or the time alone); an em dash for no time."""
    if ms is None:
        return "—"
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC" if with_date else "%H:%M:%S")


def iso(ms: int | None) -> str:
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def duration(ms: int | None) -> str:
    """``1 h 05 min``, ``12 min 30 s``, ``45 s``."""
    if ms is None:
        return "—"
    seconds = round(ms / 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def compact(values: Any) -> Any:
    """A mapping without its unreported parts (None, empty, or only those inside)."""
    if isinstance(values, dict):
        kept = {k: compact(v) for k, v in values.items()}
        return {k: v for k, v in kept.items() if v not in (None, {}, [])}
    return values


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,  # a template naming a missing field fails its test
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters.update(utc=utc, iso=iso, duration=duration, number=number, compact=compact)


def page(template: str, status_code: int = 200, **context: Any) -> Response[str]:
    """A rendered page, not cached (it shows live data and who is signed in)."""
    return Response(
        _ENV.get_template(template).render(**context),
        status_code=status_code,
        media_type=HTML,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
        },
    )
