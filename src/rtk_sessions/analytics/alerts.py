"""When a call goes bad: pure functions over measured intervals, no I/O.

A peer's quality is low when one of its tracks scores ``mos_quality`` below the
threshold for ``n`` intervals in a row; an interval that could not be scored (a gap,
no packets) breaks the run, so silence is never mistaken for bad quality.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtk_sessions.analytics.quality import Measured


@dataclass(frozen=True, slots=True)
class LowQualityRun:
    kind: str
    direction: str
    start_ms: int
    end_ms: int
    scores: tuple[float, ...]


def low_quality_run(measured: Measured, below: float, intervals: int) -> LowQualityRun | None:
    """The earliest run of ``intervals`` consecutive scored intervals under ``below``."""
    found: list[LowQualityRun] = []
    for series in measured.series:
        run: list[int] = []
        for i, mos in enumerate(series.mos):
            run = [*run, i] if mos is not None and mos < below else []
            if len(run) == intervals:
                found.append(
                    LowQualityRun(
                        kind=series.kind,
                        direction=series.direction,
                        start_ms=series.start_ms[run[0]],
                        end_ms=series.end_ms[run[-1]],
                        scores=tuple(series.mos[j] for j in run),  # type: ignore[misc]
                    )
                )
                break
    return min(found, key=lambda r: (r.start_ms, r.kind, r.direction), default=None)


def average_mos(measured: Measured) -> float | None:
    """The mean ``mos_quality`` over every scored interval of every track."""
    scores = [m for s in measured.series for m in s.mos if m is not None]
    return round(sum(scores) / len(scores), 4) if scores else None
