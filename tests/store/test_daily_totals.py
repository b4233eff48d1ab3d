"""Sessions and participant-minutes per UTC day (the dashboard's chart), worked by hand."""

from __future__ import annotations

import msgspec

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.sessions import DAY_MS, daily_totals
from tests.factories import MIN, T0, ended, started, visit


def test_days_count_their_sessions_and_minutes_live_ones_up_to_now(database: Database) -> None:
    day1, day2, day3 = T0, T0 + DAY_MS, T0 + 2 * DAY_MS
    events = [
        started("a", "m1", day1 + 60 * MIN),  # day 1: 2 peers, 10 + 20 minutes
        *visit("a", "a1", day1 + 60 * MIN, day1 + 70 * MIN),
        *visit("a", "a2", day1 + 60 * MIN, day1 + 80 * MIN),
        ended("a", day1 + 80 * MIN),
        started("b", "m2", day1 + 23 * 60 * MIN + 59 * MIN),  # day 1 too, until day 2: 5 min
        *visit("b", "b1", day1 + 23 * 60 * MIN + 59 * MIN, day2 + 4 * MIN),
        ended("b", day2 + 4 * MIN),
        started("r", "m2", day2, parent="b"),  # a breakout room: not listed, not counted
        *visit("r", "r1", day2, day2 + MIN),
        started("c", "m3", day3 + 5 * MIN),  # day 3: still live, 1 peer since +5 min
        *visit("c", "c1", day3 + 5 * MIN, None),
    ]
    lines = [msgspec.json.encode(e) for e in events]
    assert ingest_items(database, "acc", "app", lines, T0).rejected == []
    now = day3 + 35 * MIN
    days = daily_totals(database, "acc", "app", day1 + 12 * 60 * MIN, day3 + DAY_MS, now)
    assert [(d.day_ms, d.sessions, d.minutes_ms // MIN) for d in days] == [
        (day1, 2, 10 + 20 + 5),
        (day2, 0, 0),
        (day3, 1, 30),
    ]
    assert [d.sessions for d in daily_totals(database, "acc", "other", day1, day3, now)] == [0, 0]
