"""Chart geometry: positions worked out by hand in the 1000 x 100 plot."""

from __future__ import annotations

import pytest

from rtk_sessions.ui.charts import bar_chart, line_chart, nice_max, step_chart, time_ticks


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 1),
        (0.7, 1),
        (1, 1),
        (1.2, 2),
        (2.2, 2.5),
        (3, 5),
        (7, 10),
        (12, 20),
        (480, 500),
        (501, 1000),
    ],
)
def test_nice_max(value: float, expected: float) -> None:
    assert nice_max(value) == expected


def test_line_points_scale_to_the_time_range_and_the_top() -> None:
    chart = line_chart("Loss", "%", [(1_000, 0.0), (3_000, 5.0), (5_000, 10.0)], 1_000, 5_000)
    # top is nice_max(10) = 10: y = 100 - 100 * v / 10
    assert chart.lines == ["0.0,100.0 500.0,50.0 1000.0,0.0"]
    assert [t.label for t in chart.y_ticks] == ["10", "5", "0"]
    assert "average 5%" in chart.summary and "highest 10%" in chart.summary


def test_a_missing_value_breaks_the_line_and_bands_are_placed() -> None:
    chart = line_chart(
        "MOS",
        "",
        [(0, 1.0), (10, 0.5), (20, None), (30, 1.0), (40, 1.0)],
        0,
        40,
        top=1.0,
        bands=[(10, 20, "loss")],
    )
    assert chart.lines == ["0.0,0.0 250.0,50.0", "750.0,0.0 1000.0,0.0"]
    assert [(b.x, b.width, b.label) for b in chart.bands] == [(250.0, 250.0, "loss")]


def test_steps_hold_their_value_until_the_next_change() -> None:
    chart = step_chart("People", [(0, 1), (50, 2), (100, 0)], 0, 100)
    # top nice_max(2) = 2: 1 -> y 50, 2 -> y 0
    assert chart.lines == ["0.0,100.0 0.0,50.0 500.0,50.0 500.0,0.0 1000.0,0.0 1000.0,100.0"]
    assert chart.summary.endswith("at most 2 at once")


def test_bars_fill_slots_left_to_right() -> None:
    chart = bar_chart("Sessions per day", "sessions", [("Jan 01", 4), ("Jan 02", 0), ("Jan 03", 5)])
    assert [(b.x, b.width, b.y, b.height) for b in chart.bars] == [
        (33.33, 266.67, 20.0, 80.0),
        (366.67, 266.67, 100.0, 0.0),
        (700.0, 266.67, 0.0, 100.0),
    ]
    assert chart.bars[0].label == "Jan 01: 4 sessions"
    assert chart.summary == "Sessions per day: 9 sessions over 3 days"


def test_time_ticks_show_seconds_only_on_short_ranges() -> None:
    t0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    assert [t.label for t in time_ticks(t0, t0 + 3_600_000, 3)] == ["00:00", "00:30", "01:00"]
    assert [t.label for t in time_ticks(t0, t0 + 60_000, 3)] == ["00:00:00", "00:00:30", "00:01:00"]
