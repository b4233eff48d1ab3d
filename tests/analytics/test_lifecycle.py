"""Lifecycle math: table-driven cases (inputs and expected outputs side by side)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtk_sessions.analytics.lifecycle import (
    ENDED,
    LIVE,
    PeerSpan,
    SessionFacts,
    ended_at_ms,
    max_concurrent,
    minutes_consumed_ms,
    peer_duration_ms,
    status,
    summarize_session,
    to_minutes,
    tree_aggregate,
)

M = 60_000


def p(peer_id: str, joined: int, left: int | None) -> PeerSpan:
    return PeerSpan(peer_id, joined, left)


@pytest.mark.parametrize(
    ("intervals", "expected"),
    [
        ([], 0),
        ([(0, 10)], 1),
        ([(0, 10), (5, 15)], 2),  # overlap
        ([(0, 10), (10, 20)], 1),  # leave and join at the same ms do not overlap
        ([(0, 10), (10, 20), (10, 30)], 2),
        ([(0, None), (5, None), (7, 8)], 3),  # still in: open-ended
        ([(0, 0)], 1),  # a zero-length visit still counts as someone present
        ([(0, 100), (10, 20), (20, 30), (30, 40)], 2),  # serial rejoins under a host
        ([(5, 15), (0, 10), (12, 13), (11, 14)], 3),  # input order does not matter
    ],
)
def test_max_concurrent(intervals, expected):
    assert max_concurrent(intervals) == expected


@pytest.mark.parametrize(
    ("peer", "closed", "now", "expected_ms"),
    [
        (p("a", 0, 5 * M), None, 99 * M, 5 * M),  # left: now is irrelevant
        (p("a", 0, None), None, 7 * M, 7 * M),  # still in: up to now
        (p("a", 0, None), 3 * M, 99 * M, 3 * M),  # host ended: left then
        (p("a", 0, 9 * M), 3 * M, 99 * M, 3 * M),  # a leave after the end is clipped to it
        (p("a", 5 * M, None), 3 * M, 99 * M, 0),  # joined after the end: nothing
        (p("a", 0, 2 * M), 3 * M, 99 * M, 2 * M),  # left before the end: unchanged
    ],
)
def test_peer_duration(peer, closed, now, expected_ms):
    assert peer_duration_ms(peer, closed, now) == expected_ms


def test_duration_rounds_to_four_decimals_like_the_seed():
    # The seed's example: joined 10:51:08.030, left 10:56:56.612 -> 5.8097 minutes.
    assert to_minutes(348_582) == 5.8097
    assert to_minutes(0) == 0.0


CASES = {
    # name: (facts, peers, now, grace, expected subset)
    "rejoin counts both peers, concurrency 1": (
        SessionFacts(start_event_ms=0),
        [p("a1", 0, 10 * M), p("a2", 12 * M, 20 * M)],
        30 * M,
        M,
        dict(peer_count=2, max_concurrent=1, minutes=18.0, status=ENDED, ended=20 * M, live=0),
    ),
    "overlap": (
        SessionFacts(start_event_ms=0),
        [p("a", 0, 10 * M), p("b", 5 * M, 15 * M)],
        30 * M,
        M,
        dict(max_concurrent=2, minutes=20.0, status=ENDED, ended=15 * M),
    ),
    "live under a controlled clock": (
        SessionFacts(start_event_ms=0),
        [p("a", 0, None), p("b", 2 * M, 5 * M)],
        10 * M,
        M,
        dict(minutes=13.0, status=LIVE, ended=None, live=1),
    ),
    "inside the grace period it is still live": (
        SessionFacts(start_event_ms=0),
        [p("a", 0, 10 * M)],
        10 * M + 59_999,
        M,
        dict(status=LIVE, ended=None, live=0),
    ),
    "exactly the grace period after the last leave: still live": (
        SessionFacts(start_event_ms=0),
        [p("a", 0, 10 * M)],
        11 * M,
        M,
        dict(status=LIVE, ended=None),
    ),
    "more than the grace period: ended at the last leave": (
        SessionFacts(start_event_ms=0),
        [p("a", 0, 10 * M)],
        11 * M + 1,
        M,
        dict(status=ENDED, ended=10 * M),
    ),
    "host ended with peers still in": (
        SessionFacts(start_event_ms=0, end_event_ms=8 * M, end_reason="HOST_ENDED_MEETING"),
        [p("a", 0, None), p("b", M, 3 * M), p("c", 2 * M, None)],
        60 * M,
        M,
        dict(minutes=8 + 2 + 6, status=ENDED, ended=8 * M, live=0, max_concurrent=3),
    ),
    "all participants left: ended at the last leave, not the event": (
        SessionFacts(start_event_ms=0, end_event_ms=11 * M, end_reason="ALL_PARTICIPANTS_LEFT"),
        [p("a", 0, 10 * M)],
        10 * M + 1,
        M,
        dict(status=ENDED, ended=10 * M, minutes=10.0),
    ),
    "superseded by the meeting's next session": (
        SessionFacts(start_event_ms=0, superseded_ms=30 * M),
        [p("a", 0, None)],
        99 * M,
        M,
        dict(status=ENDED, ended=30 * M, minutes=30.0, live=0),
    ),
    "a join before session.started moves the start": (
        SessionFacts(start_event_ms=5 * M),
        [p("a", 3 * M, 9 * M)],
        99 * M,
        M,
        dict(started=3 * M),
    ),
    "no session.started: the first join is the start": (
        SessionFacts(),
        [p("b", 4 * M, 9 * M), p("a", 2 * M, 5 * M)],
        99 * M,
        M,
        dict(started=2 * M, peer_count=2),
    ),
    "empty session ends a grace period after it started": (
        SessionFacts(start_event_ms=0),
        [],
        2 * M,
        M,
        dict(status=ENDED, ended=0, minutes=0.0, max_concurrent=0),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_session_summary_table(name):
    facts, peers, now, grace, expected = CASES[name]
    summary = summarize_session(facts, peers)
    session_status = status(
        summary.closed_ms, summary.open_peers, summary.quiet_since_ms, now, grace
    )
    minutes = to_minutes(
        minutes_consumed_ms(
            summary.closed_peer_ms, summary.open_peers, summary.open_join_sum_ms, now
        )
    )
    got = dict(
        peer_count=summary.peer_count,
        max_concurrent=summary.max_concurrent,
        minutes=minutes,
        status=session_status,
        ended=ended_at_ms(session_status, summary.ended_ms, summary.quiet_since_ms),
        live=summary.open_peers,
        started=summary.started_ms,
    )
    assert {k: got[k] for k in expected} == expected


def test_minutes_of_a_live_session_grow_with_the_clock():
    summary = summarize_session(SessionFacts(start_event_ms=0), [p("a", 0, None), p("b", M, None)])
    def at(now):
        return minutes_consumed_ms(
            summary.closed_peer_ms, summary.open_peers, summary.open_join_sum_ms, now
        )

    assert to_minutes(at(5 * M)) == 9.0
    assert to_minutes(at(6 * M)) == 11.0


def test_parent_stays_live_while_a_breakout_room_has_peers():
    parent = summarize_session(SessionFacts(start_event_ms=0), [p("a", 0, 10 * M)])
    room = summarize_session(SessionFacts(start_event_ms=10 * M), [p("a2", 10 * M, None)])
    tree_open, tree_quiet = tree_aggregate(
        parent.open_peers, parent.quiet_since_ms, [(room.open_peers, room.quiet_since_ms)]
    )
    assert status(parent.closed_ms, parent.open_peers, parent.quiet_since_ms, 30 * M, M) == ENDED
    assert status(parent.closed_ms, tree_open, tree_quiet, 30 * M, M) == LIVE


spans = st.lists(
    st.tuples(st.integers(0, 10_000), st.one_of(st.none(), st.integers(0, 10_000))),
    max_size=12,
)


@given(spans, st.randoms())
def test_summary_does_not_depend_on_peer_order(raw, rnd):
    peers = [
        p(f"p{i}", join, None if leave is None else max(join, leave))
        for i, (join, leave) in enumerate(raw)
    ]
    facts = SessionFacts(start_event_ms=50, end_event_ms=None)
    shuffled = list(peers)
    rnd.shuffle(shuffled)
    assert summarize_session(facts, peers) == summarize_session(facts, shuffled)


@given(spans)
def test_minutes_equal_the_sum_of_peer_durations(raw):
    peers = [
        p(f"p{i}", join, None if leave is None else max(join, leave))
        for i, (join, leave) in enumerate(raw)
    ]
    for closed in (None, 5_000):
        facts = SessionFacts(
            start_event_ms=0,
            end_event_ms=closed,
            end_reason="HOST_ENDED_MEETING" if closed else None,
        )
        summary = summarize_session(facts, peers)
        now = 20_000
        total = minutes_consumed_ms(
            summary.closed_peer_ms, summary.open_peers, summary.open_join_sum_ms, now
        )
        assert total == sum(peer_duration_ms(peer, closed, now) for peer in peers)
