"""GET /sessions/{id} and the lifecycle semantics of ``api.md`` seen through the API.

Status and minutes under a controlled clock (the grace period and its
boundary, a live session's minutes growing), one live session per meeting,
host-ended sessions, breakout rooms, 404s and the ``/client/v4`` prefix.
"""

from __future__ import annotations

import pytest

from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, assert_bad_request, assert_not_found
from tests.factories import MIN, SEC, T0, ended, joined, left, meeting, started, visit

GRACE = 60 * SEC
SESSION_KEYS = {"id", "associated_id", "created_at", "live_participants",
                "max_concurrent_participants", "meeting_display_name", "minutes_consumed",
                "organization_id", "started_at", "status", "type", "updated_at",
                "breakout_rooms", "ended_at", "meta", "parent_session_id"}


def status_of(app: AppUnderTest, session_id: str) -> tuple[str, str | None]:
    """Status and ``ended_at``; None when the session has no ``ended_at`` key (it is
    left out while live, never sent as null)."""
    detail = app.session(session_id)
    assert detail.get("ended_at", "absent") is not None, detail
    assert ("ended_at" in detail) == ("ended_at" in detail["session"])
    return detail["status"], detail.get("ended_at")


def listed(app: AppUnderTest, status: str) -> list[str]:
    return sorted(s["id"] for s in app.sessions(status=status, per_page=100))


def test_session_detail_is_flattened_and_nested_identically(app: AppUnderTest) -> None:
    app.ingest([meeting("m1", "Town hall", session_type="livestream"),
                started("s1", "m1", T0, meta={"room": "blue", "n": 2}),
                *visit("s1", "a", T0 + MIN, T0 + 11 * MIN),
                *visit("s1", "b", T0 + 2 * MIN, T0 + 4 * MIN)])
    app.clock.now_ms = T0 + 30 * MIN
    data = app.session("s1")
    nested = data.pop("session")
    assert data == nested
    assert nested == {
        "id": "s1", "associated_id": "m1", "created_at": iso_ms(T0), "started_at": iso_ms(T0),
        "live_participants": 0, "max_concurrent_participants": 2,
        "meeting_display_name": "Town hall", "minutes_consumed": 12.0,
        "organization_id": app.app_id, "status": "ENDED", "type": "livestream",
        "updated_at": iso_ms(T0 + 11 * MIN), "breakout_rooms": [],
        "ended_at": iso_ms(T0 + 11 * MIN), "meta": {"room": "blue", "n": 2},
    }  # a top-level session has no parent_session_id key
    assert app.sessions()[0] == nested  # the list shows the same session object


@pytest.mark.parametrize("prefix", ["", "/client/v4"])
@pytest.mark.parametrize("suffix", ["/sessions/nope", "/sessions/nope/participants",
                                    "/sessions/nope/participants/a"])
def test_unknown_session_is_404_in_the_realtimekit_envelope(app, prefix, suffix) -> None:
    app.ingest([started("s1", "m1", T0)])
    assert "nope" in assert_not_found(app.http.get(prefix + app.base + suffix))


def test_breakout_rooms_with_and_without_include(app: AppUnderTest) -> None:
    app.ingest([started("p", "m1", T0), *visit("p", "host", T0, T0 + 30 * MIN),
                started("r1", "m1", T0 + 5 * MIN, parent="p"),
                started("r2", "m1", T0 + 6 * MIN, parent="p"),
                *visit("r1", "a", T0 + 5 * MIN, T0 + 15 * MIN),
                *visit("r2", "b", T0 + 6 * MIN, T0 + 9 * MIN),
                *visit("r2", "c", T0 + 7 * MIN, T0 + 10 * MIN)])
    app.clock.now_ms = T0 + 2 * 60 * MIN
    assert app.session("p")["breakout_rooms"] == []
    assert app.session("p", include_breakout_rooms="false")["breakout_rooms"] == []
    detail = app.session("p", include_breakout_rooms="true")
    assert detail["session"]["breakout_rooms"] == detail["breakout_rooms"]
    rooms = {r["id"]: r for r in detail["breakout_rooms"]}
    assert list(rooms) == ["r1", "r2"]
    for room_id, room in rooms.items():
        assert set(room) == SESSION_KEYS
        fetched = app.session(room_id)
        fetched.pop("session")
        assert room == fetched
    assert (rooms["r2"]["minutes_consumed"], rooms["r2"]["max_concurrent_participants"]) == (6.0, 2)
    assert rooms["r1"]["parent_session_id"] == "p" and rooms["r1"]["breakout_rooms"] == []
    assert [s["id"] for s in app.sessions()] == ["p"]
    assert detail["minutes_consumed"] == 30.0  # the parent's own peers only


def test_bad_include_breakout_rooms_is_400(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0)])
    assert_bad_request(app.get("/sessions/s1", include_breakout_rooms="maybe"),
                       "include_breakout_rooms")


def test_status_and_grace_period_under_the_clock(app: AppUnderTest) -> None:
    app.ingest([started("quiet", "m1", T0), *visit("quiet", "a", T0 + MIN, T0 + 10 * MIN),
                started("busy", "m2", T0), joined("busy", "b", T0 + MIN),
                started("closed", "m3", T0), *visit("closed", "c", T0 + MIN, T0 + 2 * MIN),
                ended("closed", T0 + 3 * MIN)])
    last_leave = T0 + 10 * MIN
    app.clock.now_ms = last_leave + GRACE - 1
    assert status_of(app, "quiet") == ("LIVE", None)
    assert listed(app, "LIVE") == ["busy", "quiet"] and listed(app, "ENDED") == ["closed"]
    app.clock.now_ms = last_leave + GRACE + 1
    assert status_of(app, "quiet") == ("ENDED", iso_ms(last_leave))
    assert listed(app, "LIVE") == ["busy"] and listed(app, "ENDED") == ["closed", "quiet"]
    assert status_of(app, "closed") == ("ENDED", iso_ms(T0 + 2 * MIN))  # the last leave
    app.clock.now_ms = T0 + 10_000 * MIN
    assert status_of(app, "busy") == ("LIVE", None)  # someone is still in


def test_exactly_at_the_grace_period_the_session_is_still_live(app: AppUnderTest) -> None:
    app.ingest([started("quiet", "m1", T0), *visit("quiet", "a", T0 + MIN, T0 + 10 * MIN)])
    app.clock.now_ms = T0 + 10 * MIN + GRACE
    assert status_of(app, "quiet") == ("LIVE", None)
    assert listed(app, "LIVE") == ["quiet"]


def test_empty_session_ends_a_grace_period_after_it_started(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0)])
    app.clock.now_ms = T0 + GRACE - 1
    assert status_of(app, "s1") == ("LIVE", None)
    app.clock.now_ms = T0 + GRACE + 1
    assert status_of(app, "s1") == ("ENDED", iso_ms(T0))


def test_parent_stays_live_while_peers_are_in_a_breakout_room(app: AppUnderTest) -> None:
    app.ingest([started("p", "m1", T0), *visit("p", "a", T0, T0 + 5 * MIN),
                started("r", "m1", T0 + 5 * MIN, parent="p"), joined("r", "a2", T0 + 5 * MIN)])
    app.clock.now_ms = T0 + 60 * MIN
    assert status_of(app, "p") == ("LIVE", None)
    assert listed(app, "LIVE") == ["p"]
    assert app.session("p")["live_participants"] == 0  # own peers only
    app.ingest([left("r", "a2", T0 + 61 * MIN)])
    app.clock.now_ms = T0 + 61 * MIN + GRACE + 1
    assert status_of(app, "r") == ("ENDED", iso_ms(T0 + 61 * MIN))
    assert status_of(app, "p")[0] == "ENDED"


def test_live_session_minutes_grow_with_the_clock(app: AppUnderTest) -> None:
    app.ingest([started("live", "m1", T0), joined("live", "a", T0 + MIN),
                joined("live", "b", T0 + 2 * MIN), left("live", "b", T0 + 4 * MIN),
                started("done", "m2", T0), *visit("done", "c", T0, T0 + 20 * MIN)])
    expected = {11 * MIN: 12.0, 16 * MIN: 17.0, 30 * MIN + 30 * SEC: 31.5}
    for elapsed, minutes in expected.items():
        app.clock.now_ms = T0 + elapsed
        detail = app.session("live")
        assert (detail["minutes_consumed"], detail["live_participants"]) == (minutes, 1)
        assert detail["status"] == "LIVE" and "ended_at" not in detail
        assert "ended_at" not in detail["session"]
        assert {s["id"]: s["minutes_consumed"] for s in app.sessions()}["live"] == minutes
    # sorting by minutes uses the minutes as of now: "live" overtakes "done" (20.0)
    app.clock.now_ms = T0 + 15 * MIN
    assert [s["id"] for s in app.sessions(sort_by="minutesConsumed")] == ["done", "live"]
    app.clock.now_ms = T0 + 25 * MIN
    assert [s["id"] for s in app.sessions(sort_by="minutesConsumed")] == ["live", "done"]


@pytest.mark.parametrize("order", ["older first", "newer first"])
def test_one_live_session_per_meeting(app: AppUnderTest, order: str) -> None:
    older = [started("s1", "m1", T0), joined("s1", "a", T0 + MIN),
             *visit("s1", "b", T0 + 2 * MIN, T0 + 5 * MIN)]
    newer = [started("s2", "m1", T0 + 30 * MIN), joined("s2", "c", T0 + 31 * MIN)]
    app.ingest(older + newer if order == "older first" else newer + older)
    app.clock.now_ms = T0 + 40 * MIN
    first = app.session("s1")
    assert (first["status"], first["ended_at"], first["live_participants"]) == (
        "ENDED", iso_ms(T0 + 30 * MIN), 0)
    assert first["minutes_consumed"] == 29.0 + 3.0
    assert status_of(app, "s2") == ("LIVE", None)
    assert listed(app, "LIVE") == ["s2"] and listed(app, "ENDED") == ["s1"]
    still_in = {p["id"]: p for p in app.participants("s1")}["a"]
    assert (still_in["left_at"], still_in["duration"]) == (iso_ms(T0 + 30 * MIN), 29.0)


def test_host_ended_session_counts_peers_until_the_end(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0), joined("s1", "a", T0 + MIN),
                *visit("s1", "b", T0 + 2 * MIN, T0 + 5 * MIN), joined("s1", "c", T0 + 3 * MIN)])
    app.clock.now_ms = T0 + 8 * MIN
    before = app.session("s1")
    assert (before["status"], before["live_participants"], before["minutes_consumed"]) == (
        "LIVE", 2, 7.0 + 3.0 + 5.0)
    app.ingest([ended("s1", T0 + 10 * MIN, reason="HOST_ENDED_MEETING"),
                left("s1", "c", T0 + 15 * MIN)])  # a leave after the end is clipped to it
    app.clock.now_ms = T0 + 60 * MIN
    after = app.session("s1")
    assert (after["status"], after["ended_at"], after["live_participants"]) == (
        "ENDED", iso_ms(T0 + 10 * MIN), 0)
    assert after["minutes_consumed"] == 9.0 + 3.0 + 7.0
    assert after["max_concurrent_participants"] == 3
    peers = {p["id"]: (p["left_at"], p["duration"]) for p in app.participants("s1")}
    assert peers == {"a": (iso_ms(T0 + 10 * MIN), 9.0), "b": (iso_ms(T0 + 5 * MIN), 3.0),
                     "c": (iso_ms(T0 + 10 * MIN), 7.0)}


def test_all_participants_left_ends_at_the_last_leave_not_the_event(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0), *visit("s1", "a", T0, T0 + 10 * MIN),
                ended("s1", T0 + 12 * MIN, reason="ALL_PARTICIPANTS_LEFT")])
    app.clock.now_ms = T0 + 12 * MIN + 1  # inside what would be the grace period
    assert status_of(app, "s1") == ("ENDED", iso_ms(T0 + 10 * MIN))


@pytest.mark.parametrize("joins, expected", [
    ([(0, 10), (10, 20)], 1),  # a leave at the millisecond of a join does not overlap it
    ([(0, 10), (9, 20)], 2),
    ([(0, 30), (5, 10), (10, 15), (12, 14)], 3),
    ([(0, None), (1, None), (2, 3), (4, None)], 3),
])
def test_max_concurrent_participants(app: AppUnderTest, joins, expected) -> None:
    events = [started("s1", "m1", T0)]
    for i, (start, end) in enumerate(joins):
        events += visit("s1", f"p{i}", T0 + start * MIN, None if end is None else T0 + end * MIN)
    app.ingest(events[::-1])  # arrival order does not matter
    app.clock.now_ms = T0 + 60 * MIN
    assert app.session("s1")["max_concurrent_participants"] == expected


def test_meeting_title_given_after_the_session_is_applied(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0)])
    assert app.session("s1")["meeting_display_name"] == ""
    app.ingest([meeting("m1", "Renamed later", ts=T0 + MIN)])
    assert app.session("s1")["meeting_display_name"] == "Renamed later"
    assert [s["id"] for s in app.sessions(search="renamed")] == ["s1"]


@pytest.mark.parametrize("suffix, params", [
    ("/sessions/s1", {}),
    ("/sessions/p", {"include_breakout_rooms": "true"}),
    ("/sessions", {"status": "LIVE"}),
    ("/sessions/s1/participants", {"include_peer_events": "true"}),
    ("/sessions/p/participants", {"view": "consolidated"}),
    ("/sessions/s1/participants/a", {}),
])
def test_client_v4_prefix_answers_identically(app: AppUnderTest, suffix, params) -> None:
    app.ingest([started("s1", "m1", T0), *visit("s1", "a", T0, T0 + 3 * MIN),
                joined("s1", "b", T0 + MIN), started("p", "m2", T0),
                started("r", "m2", T0 + MIN, parent="p"), *visit("r", "c", T0 + MIN, None)])
    app.clock.now_ms = T0 + 10 * MIN
    plain = app.http.get(app.base + suffix, params=params)
    prefixed = app.http.get("/client/v4" + app.base + suffix, params=params)
    assert plain.status_code == prefixed.status_code == 200
    assert plain.json() == prefixed.json()


def test_meeting_title_reaches_every_session_of_the_meeting(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0), *visit("s1", "a", T0, T0 + MIN)])
    app.ingest([meeting("m1", "Board meeting", ts=T0 + 2 * MIN)])
    app.ingest([started("s2", "m1", T0 + 30 * MIN)])
    app.clock.now_ms = T0 + 40 * MIN
    assert {s["id"]: s["meeting_display_name"] for s in app.sessions()} == {
        "s1": "Board meeting", "s2": "Board meeting"}
    assert sorted(s["id"] for s in app.sessions(search="board")) == ["s1", "s2"]


def test_meeting_title_in_the_same_batch_as_the_next_session(app: AppUnderTest) -> None:
    # Regression: the earlier session, loaded only while deriving the new one, kept its old title.
    app.ingest([started("s1", "m1", T0), *visit("s1", "a", T0, T0 + MIN)])
    app.ingest([meeting("m1", "Board meeting", ts=T0 + 2 * MIN),
                started("s2", "m1", T0 + 30 * MIN)])
    app.clock.now_ms = T0 + 40 * MIN
    assert app.session("s1")["meeting_display_name"] == "Board meeting"
    assert sorted(s["id"] for s in app.sessions(search="board")) == ["s1", "s2"]
