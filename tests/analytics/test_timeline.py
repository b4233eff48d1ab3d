"""Timeline lanes and people over time, against hand-worked cases and a brute-force count."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.analytics.lifecycle import PeerSpan, max_concurrent
from rtk_sessions.analytics.timeline import concurrency_steps, lanes_of, peak


def test_a_users_rejoins_share_one_lane_in_join_order() -> None:
    lanes = lanes_of(
        [
            ("u-ada", "Ada", PeerSpan("p3", 5_000, None)),
            ("u-bo", "Bo", PeerSpan("p2", 2_000, 9_000)),
            ("u-ada", "Ada", PeerSpan("p1", 1_000, 3_000)),
            (None, None, PeerSpan("p4", 4_000, 6_000)),  # no user id: a lane of its own, by peer id
            (None, "Cy", PeerSpan("p5", 4_500, 6_000)),
        ]
    )
    assert [(lane.name, [s.peer_id for s in lane.stays]) for lane in lanes] == [
        ("Ada", ["p1", "p3"]),
        ("Bo", ["p2"]),
        ("p4", ["p4"]),
        ("Cy", ["p5"]),
    ]
    assert [lane.rejoins for lane in lanes] == [1, 0, 0, 0]


def test_a_lane_takes_the_first_name_given() -> None:
    (lane,) = lanes_of([("u", None, PeerSpan("a", 1, 2)), ("u", "Later name", PeerSpan("b", 3, 4))])
    assert lane.name == "Later name"


def test_people_present_over_time_by_hand() -> None:
    stays = [
        PeerSpan("a", 0, 10),
        PeerSpan("b", 5, 15),
        PeerSpan("c", 10, None),
        PeerSpan("d", 12, 12),
    ]
    # a leaves at 10 as c joins (no overlap); d never present; c still in at 20
    assert concurrency_steps(stays, until_ms=20) == [(0, 1), (5, 2), (10, 2), (15, 1), (20, 1)]
    assert concurrency_steps([], until_ms=20) == []


times = st.integers(min_value=0, max_value=60)


@given(st.lists(st.tuples(times, st.one_of(st.none(), times)), max_size=12))
def test_steps_agree_with_a_count_at_every_millisecond(spans) -> None:
    stays = [
        PeerSpan(f"p{i}", joined, None if left is None else max(joined, left))
        for i, (joined, left) in enumerate(spans)
    ]
    until = 61
    steps = concurrency_steps(stays, until)
    for at in range(until):
        expected = sum(
            1 for s in stays if s.joined_ms <= at and (s.left_ms is None or at < s.left_ms)
        )
        current = [n for t, n in steps if t <= at]
        assert (current[-1] if current else 0) == expected, at
    present = [(s.joined_ms, s.left_ms) for s in stays if s.left_ms != s.joined_ms]
    assert peak(steps) == (max_concurrent(present) if present else 0)
