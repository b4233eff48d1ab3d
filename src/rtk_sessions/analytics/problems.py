"""Stretches of a peer's call that went wrong, in plain words, for the dashboard.

Input is what :func:`rtk_sessions.analytics.quality.intervals_of` measured; the
thresholds are the ones ``quality.md`` scores and counts with (loss 5 %, RTT 250 ms,
jitter 30 ms, lag under 8 fps / 3 for screen share, no frames, low resolution), plus
the encoder's own quality limitation. Consecutive intervals of a track with the same
cause are one problem; the explanation quotes the worst interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from rtk_sessions.analytics.quality import Measured, Series

LOSS_PCT = 5.0
RTT_S = 0.250
JITTER_S = 0.030


@dataclass(frozen=True, slots=True)
class Problem:
    """[start_ms, end_ms) of one track where ``cause`` held; ``explanation`` says what it
    means for the people in the call."""

    kind: str
    direction: str
    ssrc: int | None
    cause: str  # loss | rtt | jitter | freeze | lag | low_res | limited | gap | reset
    start_ms: int
    end_ms: int
    explanation: str


# cause -> (is this interval affected?, its value for "worst", words for the worst value)
_Check = tuple[Callable[[Series, int], bool], Callable[[Series, int], float], Callable[..., str]]


def _verb(series: Series) -> str:
    return "sent" if series.producer else "received"


def _media(series: Series) -> str:
    return "speech" if "audio" in series.kind else "the picture"


CHECKS: dict[str, _Check] = {
    "loss": (
        lambda s, i: (s.loss_pct[i] or 0) >= LOSS_PCT,
        lambda s, i: s.loss_pct[i] or 0,
        lambda s, worst: f"up to {worst:.1f}% of the packets {_verb(s)} were lost: from "
        f"{LOSS_PCT:.0f}% on, {_media(s)} breaks up",
    ),
    "rtt": (
        lambda s, i: (s.rtt[i] or 0) >= RTT_S,
        lambda s, i: s.rtt[i] or 0,
        lambda s, worst: f"round trip up to {worst * 1000:.0f} ms: from "
        f"{RTT_S * 1000:.0f} ms on, people start talking over each other",
    ),
    "jitter": (
        lambda s, i: (s.jitter[i] or 0) > JITTER_S,
        lambda s, i: s.jitter[i] or 0,
        lambda s, worst: f"jitter up to {worst * 1000:.0f} ms: above "
        f"{JITTER_S * 1000:.0f} ms packets arrive unevenly and playback is delayed or choppy",
    ),
    "freeze": (
        lambda s, i: bool(s.stuck[i]),
        lambda s, i: 0.0,
        lambda s,
        worst: f"the video froze: no frames were {'encoded' if s.producer else 'decoded'}",
    ),
    "lag": (
        lambda s, i: bool(s.lag[i]),
        lambda s, i: -(s.fps[i] or 0),
        lambda s, worst: f"the video stuttered, down to {-worst:.0f} frames a second: "
        f"below {3 if 'screenshare' in s.kind else 8} motion looks jerky",
    ),
    "low_res": (
        lambda s, i: bool(s.low_res[i]),
        lambda s, i: -(s.frame_width[i] or 0),
        lambda s, worst: f"the picture was only {-worst:.0f} pixels wide: blurry",
    ),
    "limited": (
        lambda s, i: s.producer and s.limitation_reason[i] in ("cpu", "bandwidth"),
        lambda s, i: 1.0 if s.limitation_reason[i] == "cpu" else 0.0,
        lambda s, worst: "the browser lowered the video it sent because of "
        + ("a busy CPU" if worst else "too little bandwidth"),
    ),
}


def problems_of(measured: Measured) -> list[Problem]:
    """Every problem of every track, and the gaps and counter resets, in time order."""
    found: list[Problem] = []
    for series in measured.series:
        found += _gaps(series)
        for cause, check in CHECKS.items():
            found += _runs(series, cause, check)
    for reset in measured.resets:
        found.append(
            Problem(
                reset.kind,
                reset.direction,
                reset.ssrc,
                "reset",
                reset.start_ms,
                reset.end_ms,
                "the counters started again (a reconnect or a new track): "
                "this stretch could not be measured",
            )
        )
    found.sort(key=lambda p: (p.start_ms, p.kind, p.direction, p.cause))
    return found


def _runs(series: Series, cause: str, check: _Check) -> Iterable[Problem]:
    affected, value, words = check
    run: list[int] = []
    for i in [*series.rows(), None]:
        if i is not None and affected(series, i):
            if run and series.start_ms[i] > series.end_ms[run[-1]]:
                yield _problem(series, cause, run, value, words)
                run = []
            run.append(i)
        elif run:
            yield _problem(series, cause, run, value, words)
            run = []


def _problem(series: Series, cause: str, run: list[int], value, words) -> Problem:  # type: ignore[no-untyped-def]
    worst = max(value(series, i) for i in run)
    return Problem(
        series.kind,
        series.direction,
        series.ssrc,
        cause,
        series.start_ms[run[0]],
        series.end_ms[run[-1]],
        words(series, worst),
    )


def _gaps(series: Series) -> Iterable[Problem]:
    for i, gap in enumerate(series.gap):
        if gap:
            seconds = (series.end_ms[i] - series.start_ms[i]) / 1000
            yield Problem(
                series.kind,
                series.direction,
                series.ssrc,
                "gap",
                series.start_ms[i],
                series.end_ms[i],
                f"no stats for {seconds:.0f} s: the connection may have dropped",
            )
