"""Chart geometry for the dashboard, drawn as inline SVG by the templates.

Pure functions: data in, coordinates out. The plot area is a 1000 x 100 box
stretched to the page's width (lines keep their width with
``vector-effect: non-scaling-stroke``); axis labels are HTML around it, so they
stay readable from 375 px to a wide screen. Nothing is drawn in the browser.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

PLOT_W, PLOT_H = 1000.0, 100.0
Point = tuple[int, float | None]  # (epoch ms, value or None: no value there)


@dataclass(frozen=True, slots=True)
class Tick:
    at: float  # 0..1 along the axis
    label: str


@dataclass(frozen=True, slots=True)
class Band:
    """A highlighted stretch of the x axis (a problem interval), in plot units."""

    x: float
    width: float
    label: str


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    y: float
    height: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: polylines or bars in the 1000 x 100 plot, ticks, bands, and a text
    summary that is its accessible description."""

    title: str
    summary: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    lines: list[str] = field(default_factory=list)  # SVG "x,y x,y ..." per unbroken run
    bars: list[Bar] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above ``value`` (1 for nothing)."""
    if value <= 0 or math.isnan(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power * (1 + 1e-9):
            return factor * power
    return 10 * power


def x_of(at_ms: int, start_ms: int, end_ms: int) -> float:
    span = max(1, end_ms - start_ms)
    return round(PLOT_W * min(1.0, max(0.0, (at_ms - start_ms) / span)), 2)


def time_ticks(start_ms: int, end_ms: int, count: int = 5) -> list[Tick]:
    """``count`` evenly spaced UTC times (HH:MM, with seconds under 5 minutes)."""
    fmt = "%H:%M:%S" if end_ms - start_ms < 300_000 else "%H:%M"
    return [
        Tick(i / (count - 1), _utc(start_ms + (end_ms - start_ms) * i // (count - 1), fmt))
        for i in range(count)
    ]


def value_ticks(top: float, fmt: str = "{:g}") -> list[Tick]:
    return [Tick(f, fmt.format(round(top * f, 6))) for f in (1.0, 0.5, 0.0)]


def line_chart(
    title: str,
    unit: str,
    points: Sequence[Point],
    start_ms: int,
    end_ms: int,
    *,
    top: float | None = None,
    bands: Sequence[tuple[int, int, str]] = (),
) -> Chart:
    """A line over time; a None value breaks it. ``top`` fixes the y range (else nice)."""
    values = [v for _, v in points if v is not None]
    y_top = top if top is not None else nice_max(max(values, default=0.0))
    lines, run = [], []
    for at, value in points:
        if value is None:
            lines.append(run)
            run = []
            continue
        y = PLOT_H - PLOT_H * min(1.0, max(0.0, value / y_top))
        run.append(f"{x_of(at, start_ms, end_ms)},{round(y, 2)}")
    lines.append(run)
    return Chart(
        title=title,
        summary=_summary(title, unit, values),
        y_ticks=value_ticks(y_top),
        x_ticks=time_ticks(start_ms, end_ms),
        lines=[" ".join(r) for r in lines if r],
        bands=[
            Band(x_of(a, start_ms, end_ms), _width(a, b, start_ms, end_ms), label)
            for a, b, label in bands
        ],
    )


def step_chart(title: str, steps: Sequence[tuple[int, int]], start_ms: int, end_ms: int) -> Chart:
    """A count that holds until its next change (people present over time)."""
    peak_count = max((n for _, n in steps), default=0)
    top = nice_max(peak_count)
    coords = []
    previous_y = PLOT_H
    for at, count in steps:
        x = x_of(at, start_ms, end_ms)
        y = round(PLOT_H - PLOT_H * count / top, 2)
        coords += [f"{x},{previous_y}", f"{x},{y}"]
        previous_y = y
    return Chart(
        title=title,
        summary=f"{title}: at most {peak_count} at once",
        y_ticks=[t for t in value_ticks(top) if float(t.label).is_integer()],  # whole people
        x_ticks=time_ticks(start_ms, end_ms),
        lines=[" ".join(coords)] if coords else [],
    )


def bar_chart(title: str, unit: str, bars: Sequence[tuple[str, float]]) -> Chart:
    """One bar per labelled value (a day), left to right."""
    top = nice_max(max((v for _, v in bars), default=0.0))
    slot = PLOT_W / max(1, len(bars))
    drawn = [
        Bar(
            x=round(i * slot + slot * 0.1, 2),
            width=round(slot * 0.8, 2),
            y=round(PLOT_H - PLOT_H * value / top, 2),
            height=round(PLOT_H * value / top, 2),
            label=f"{label}: {value:,.0f} {unit}",
        )
        for i, (label, value) in enumerate(bars)
    ]
    ends = [Tick(0.0, bars[0][0]), Tick(1.0, bars[-1][0])] if bars else []
    total = sum(v for _, v in bars)
    return Chart(
        title=title,
        summary=f"{title}: {total:,.0f} {unit} over {len(bars)} days",
        y_ticks=value_ticks(top),
        x_ticks=ends,
        bars=drawn,
    )


def _width(a: int, b: int, start_ms: int, end_ms: int) -> float:
    # at least a visible sliver: a one-interval problem on a long call is still seen
    return max(2.0, round(x_of(b, start_ms, end_ms) - x_of(a, start_ms, end_ms), 2))


def _summary(title: str, unit: str, values: list[float]) -> str:
    if not values:
        return f"{title}: no values"
    average = sum(values) / len(values)
    return (
        f"{title}: average {average:.3g}{unit}, lowest {min(values):.3g}{unit}, "
        f"highest {max(values):.3g}{unit} over {len(values)} intervals"
    )


def _utc(ms: int, fmt: str) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime(fmt)
