"""The Sessions page: the API's list (same filters, search, sorts, paging, the same
store query and rendering), a chart of sessions and participant-minutes per day, and
live rows that refresh themselves."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from time import monotonic
from typing import Any
from urllib.parse import urlencode

from litestar.datastructures import MultiDict

from rtk_sessions.analytics.lifecycle import ended_at_ms
from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import BadParameter
from rtk_sessions.api.params import participants_range
from rtk_sessions.api.sessions import SEARCH_MAX_CHARS, Session, render_sessions
from rtk_sessions.store.rows import SessionRow
from rtk_sessions.store.sessions import (
    DAY_MS,
    DayTotal,
    Page,
    SessionFilter,
    SessionQuery,
    daily_totals,
    sessions_page,
)
from rtk_sessions.ui import charts

PER_PAGE_CHOICES = (10, 25, 50, 100)
CHART_DAYS = 30
CHART_CACHE_SECONDS = 30.0
FIELDS = ("search", "status", "meeting", "from", "to", "participants", "sort", "order", "per_page")


@dataclass(frozen=True, slots=True)
class ListForm:
    """The filter form as typed (kept to show it back) and the query it means."""

    values: dict[str, str]
    query: SessionQuery
    page_no: int
    until_ms: int | None  # the "to" day's end, for the chart


@dataclass(frozen=True, slots=True)
class SessionLine:
    session: Session  # as the API renders it
    row: SessionRow
    ended_ms: int | None  # when it ended (None while live)


def parse_form(params: MultiDict) -> ListForm:
    """The query string of the page as a :class:`SessionQuery` (``BadParameter`` names
    what is wrong)."""
    values = {name: (params.get(name) or "").strip() for name in FIELDS}
    if len(values["search"]) > SEARCH_MAX_CHARS:
        raise BadParameter(f"search must be at most {SEARCH_MAX_CHARS} characters")
    status = _one_of("status", values["status"], ("", "LIVE", "ENDED"))
    sort_by = _one_of("sort", values["sort"] or "createdAt", ("createdAt", "minutesConsumed"))
    order = _one_of("order", values["order"] or "DESC", ("ASC", "DESC"))
    per_page = int(
        _one_of("per_page", values["per_page"] or "25", tuple(map(str, PER_PAGE_CHOICES)))
    )
    page_no = _whole("page", params.get("page") or "1")
    start = _day("from", values["from"])
    end = _day("to", values["to"])
    min_peers, max_peers = participants_range(values["participants"])
    where = SessionFilter(
        associated_id=values["meeting"] or None,
        start_ms=start,
        end_ms=end + DAY_MS - 1 if end is not None else None,
        status=status or None,  # type: ignore[arg-type]
        min_peers=min_peers,
        max_peers=max_peers,
        search=values["search"] or None,
    )
    query = SessionQuery(
        where=where,
        sort_by=sort_by,  # type: ignore[arg-type]
        descending=order == "DESC",
        page=Page((page_no - 1) * per_page, per_page),
    )
    return ListForm(values, query, page_no, end + DAY_MS if end is not None else None)


def sessions_view(ctx: AppContext, account_id: str, app_id: str, form: ListForm) -> dict[str, Any]:
    """What the page shows: the rows, paging links and the per-day charts."""
    now_ms = ctx.clock()
    found = sessions_page(ctx.db, account_id, app_id, form.query, now_ms, ctx.grace_ms)
    rendered = render_sessions(found, app_id, ctx, now_ms)
    lines = [
        SessionLine(s, r, ended_at_ms(s.status, r.ended_ms, r.tree_quiet_since_ms))
        for s, r in zip(rendered, found.sessions, strict=True)
    ]
    page = form.query.page
    return {
        "lines": lines,
        "total": found.total,
        "first": page.offset + 1 if lines else 0,
        "last": page.offset + len(lines),
        "previous": _page_link(form, form.page_no - 1) if form.page_no > 1 else None,
        "next": _page_link(form, form.page_no + 1)
        if page.offset + len(lines) < found.total
        else None,
        "any_live": any(line.session.status == "LIVE" for line in lines),
        "daily": daily_charts(ctx, account_id, app_id, form.until_ms or now_ms, now_ms),
    }


class DailyCache:
    """Per-day totals kept for ``CHART_CACHE_SECONDS``: summing a month of a busy app's
    sessions (40,000 a month at a million over two years) costs ~17 ms, twenty times the
    list itself, and a chart a few seconds old shows the same bars."""

    def __init__(self, max_entries: int = 256) -> None:
        self._kept: dict[tuple, tuple[float, list[DayTotal]]] = {}
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def totals(
        self, ctx: AppContext, account_id: str, app_id: str, until_ms: int, now_ms: int
    ) -> list[DayTotal]:
        last_day = (until_ms - 1) // DAY_MS
        key = (ctx.db.engine, account_id, app_id, last_day)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and monotonic() - kept[0] < CHART_CACHE_SECONDS:
            return kept[1]
        since = (last_day - CHART_DAYS + 1) * DAY_MS
        days = daily_totals(ctx.db, account_id, app_id, since, until_ms, now_ms)
        with self._lock:
            if len(self._kept) >= self.max_entries:
                self._kept.clear()
            self._kept[key] = (monotonic(), days)
        return days


DAILY = DailyCache()


def daily_charts(
    ctx: AppContext, account_id: str, app_id: str, until_ms: int, now_ms: int
) -> list[charts.Chart]:
    """Sessions and participant-minutes per UTC day over the ``CHART_DAYS`` up to ``until_ms``."""
    days = DAILY.totals(ctx, account_id, app_id, until_ms, now_ms)
    labels = [datetime.fromtimestamp(d.day_ms / 1000, UTC).strftime("%b %d") for d in days]
    return [
        charts.bar_chart(
            "Sessions per day",
            "sessions",
            [(lab, d.sessions) for lab, d in zip(labels, days, strict=False)],
        ),
        charts.bar_chart(
            "Participant-minutes per day",
            "minutes",
            [(lab, d.minutes_ms / 60_000) for lab, d in zip(labels, days, strict=False)],
        ),
    ]


def _page_link(form: ListForm, page_no: int) -> str:
    kept = {k: v for k, v in form.values.items() if v}
    return "?" + urlencode({**kept, "page": page_no})


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        shown = ", ".join(a or "(any)" for a in allowed)
        raise BadParameter(f"{name} must be one of {shown}; got {value!r}")
    return value


def _whole(name: str, value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1_000_000_000:
        raise BadParameter(f"{name} must be a whole number from 1; got {value!r}")
    return int(value)


def _day(name: str, value: str) -> int | None:
    """Midnight UTC of a YYYY-MM-DD day, in epoch ms."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name} must be a day as YYYY-MM-DD; got {value!r}") from None
    return int(datetime.combine(day, time(), UTC).timestamp() * 1000)
