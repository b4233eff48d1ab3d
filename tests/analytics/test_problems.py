"""Problem intervals from measured stats: which intervals, merged how, said how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from rtk_sessions.analytics.problems import problems_of
from rtk_sessions.analytics.quality import intervals_of
from rtk_sessions.ingest.events import StatsSample

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def sample(at_s: float, kind: str = "audio", direction: str = "producer", **fields: Any):
    fields.setdefault("ssrc", 7)
    ts = T0 + timedelta(seconds=at_s)
    return msgspec.convert({"ts": ts, "kind": kind, "direction": direction, **fields}, StatsSample)


def sent_audio(losses: list[int], rtts: list[float] | None = None) -> list[StatsSample]:
    """Samples every 7 s sending 100 packets an interval, losing losses[i] in interval i."""
    rtts = rtts or [0.05] * (len(losses) + 1)
    samples, lost = (
        [sample(0, packets_sent=0, packets_lost=0, jitter=0.01, round_trip_time=rtts[0])],
        0,
    )
    for i, loss in enumerate(losses, 1):
        lost += loss
        samples.append(
            sample(
                7 * i, packets_sent=100 * i, packets_lost=lost, jitter=0.01, round_trip_time=rtts[i]
            )
        )
    return samples


def test_consecutive_lossy_intervals_are_one_problem_quoting_the_worst() -> None:
    # intervals: 1%, 6%, 12%, 2%, 5% -> [7 s, 21 s) is one problem (worst 12%), [28 s, 35 s) another
    found = problems_of(intervals_of(sent_audio([1, 6, 12, 2, 5])))
    assert [(p.cause, p.start_ms - T0_MS, p.end_ms - T0_MS) for p in found] == [
        ("loss", 7_000, 21_000),
        ("loss", 28_000, 35_000),
    ]
    assert found[0].explanation.startswith("up to 12.0% of the packets sent were lost")
    assert found[1].explanation.startswith("up to 5.0% of the packets sent were lost")


def test_below_every_threshold_there_is_no_problem() -> None:
    assert problems_of(intervals_of(sent_audio([0, 4, 1], [0.05, 0.249, 0.1, 0.05]))) == []


def test_high_rtt_is_explained_in_milliseconds() -> None:
    found = problems_of(intervals_of(sent_audio([0, 0, 0], [0.05, 0.05, 0.31, 0.05])))
    assert [(p.cause, p.start_ms - T0_MS, p.end_ms - T0_MS) for p in found] == [
        ("rtt", 7_000, 14_000)
    ]
    assert "310 ms" in found[0].explanation


def test_a_gap_and_a_counter_reset_are_problems_too() -> None:
    samples = [
        sample(0, packets_sent=0, packets_lost=0, jitter=0.01, round_trip_time=0.05),
        sample(7, packets_sent=100, packets_lost=0, jitter=0.01, round_trip_time=0.05),
        sample(40, packets_sent=200, packets_lost=0, jitter=0.01, round_trip_time=0.05),  # 33 s gap
        sample(47, packets_sent=10, packets_lost=0, jitter=0.01, round_trip_time=0.05),  # reset
    ]
    found = problems_of(intervals_of(samples))
    assert [(p.cause, p.start_ms - T0_MS, p.end_ms - T0_MS) for p in found] == [
        ("gap", 7_000, 40_000),
        ("reset", 40_000, 47_000),
    ]
    assert "no stats for 33 s" in found[0].explanation


def test_video_freeze_and_cpu_limitation() -> None:
    def video(at: float, frames: int, reason: str) -> StatsSample:
        return sample(
            at,
            kind="video",
            packets_sent=100 * int(at),
            packets_lost=0,
            bytes_sent=100_000 * int(at),
            jitter=0.01,
            round_trip_time=0.05,
            frames_encoded=frames,
            frame_width=640,
            frame_height=360,
            quality_limitation_reason=reason,
        )

    samples = [
        video(0, 0, "none"),
        video(7, 210, "none"),
        video(14, 210, "cpu"),
        video(21, 420, "none"),
    ]
    found = problems_of(intervals_of(samples))
    causes = {(p.cause, p.start_ms - T0_MS, p.end_ms - T0_MS) for p in found}
    assert ("freeze", 7_000, 14_000) in causes
    assert ("limited", 7_000, 14_000) in causes
    limited = next(p for p in found if p.cause == "limited")
    assert limited.explanation.endswith("a busy CPU")
