"""GET /sessions/{id}/participants: raw and consolidated views, search, sorts, paging,
peer events and live peers. Participant details are in ``test_participant_details.py``.

The module's crew (ingested once): session s1 with a rejoin and equal
join times/durations (to see the tie-breaks), its breakout room r1, and an
unrelated session s-other.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, assert_bad_request
from tests.conftest import LiveServer
from tests.factories import MIN, SEC, T0, ended, joined, left, meeting, started, visit

LATER = T0 + 24 * 60 * MIN


def at(minute: float) -> int:
    return T0 + int(minute * MIN)


# peer id: (session, user id, display name, joined minute, left minute)
CREW = {
    "p-a1": ("s1", "u-alice", "Alice Ärger", 1, 11),
    "p-b1": ("s1", "u-bob", "Bob", 2, 7),
    "p-c1": ("s1", "u-carol", "Carol", 2, 32),
    "p-a2": ("s1", "u-alice", "Alice Ärger", 20, 25),
    "p-a3": ("r1", "u-alice", "Alice Ärger", 12, 18),
    "p-d1": ("r1", "u-dave", "Dave", 12, 14),
    "p-z1": ("s-other", "u-zed", "Zed", 3, 4),
}


def crew_events() -> list[dict]:
    events = [meeting("m1", "Crew"), started("s1", "m1", T0), started("r1", "m1", at(12), "s1"),
              started("s-other", "m2", T0)]
    for peer_id, (session_id, user_id, name, start, end) in CREW.items():
        events += visit(session_id, peer_id, at(start), at(end), user_id=user_id,
                        display_name=name, custom_participant_id=f"cpi-{user_id[2:]}",
                        socket_session_id=f"sock-{peer_id}")
    return events


@pytest.fixture(scope="module")
def crew(server: LiveServer) -> Iterator[AppUnderTest]:
    with server.client() as http:
        loaded = AppUnderTest(server, "app-crew", http)
        loaded.ingest(crew_events()[::-1])
        yield loaded


@pytest.fixture(autouse=True)
def _later_clock(server: LiveServer) -> None:
    server.clock.now_ms = LATER


def peer_ids(app: AppUnderTest, session_id: str = "s1", **params) -> list[str]:
    return [p["id"] for p in app.participants(session_id, **params)]


def test_raw_view_rows(crew: AppUnderTest) -> None:
    body = crew.ok("/sessions/s1/participants")
    rows = body["data"]["participants"]
    assert body["paging"] == body["data"]["paging"] == {
        "total_count": 4, "start_offset": 1, "end_offset": 4}
    assert rows[0] == {
        "id": "p-a1", "session_id": "s1", "user_id": "u-alice", "display_name": "Alice Ärger",
        "custom_participant_id": "cpi-alice", "preset_name": "group_call_host",
        "joined_at": iso_ms(at(1)), "left_at": iso_ms(at(11)), "duration": 10.0,
        "created_at": iso_ms(at(1)), "updated_at": iso_ms(at(11)),
    }
    assert [(p["id"], p["duration"]) for p in rows] == [
        ("p-a1", 10.0), ("p-b1", 5.0), ("p-c1", 30.0), ("p-a2", 5.0)]
    assert peer_ids(crew, "r1") == ["p-a3", "p-d1"]  # a room's own peers
    assert peer_ids(crew, view="raw") == ["p-a1", "p-b1", "p-c1", "p-a2"]


@pytest.mark.parametrize("session_id, expected", [
    # one row per user over s1 and r1: first peer's id, earliest join, latest leave, summed minutes
    ("s1", [("p-a1", "u-alice", 1, 25, 21.0), ("p-b1", "u-bob", 2, 7, 5.0),
            ("p-c1", "u-carol", 2, 32, 30.0), ("p-d1", "u-dave", 12, 14, 2.0)]),
    ("r1", [("p-a3", "u-alice", 12, 18, 6.0), ("p-d1", "u-dave", 12, 14, 2.0)]),
    ("s-other", [("p-z1", "u-zed", 3, 4, 1.0)]),
])
def test_consolidated_view(crew: AppUnderTest, session_id, expected) -> None:
    body = crew.ok(f"/sessions/{session_id}/participants", view="consolidated")
    rows = body["data"]["participants"]
    got = [(r["id"], r["user_id"], r["joined_at"], r["left_at"], r["duration"]) for r in rows]
    assert got == [(peer, user, iso_ms(at(start)), iso_ms(at(end)), minutes)
                   for peer, user, start, end, minutes in expected]
    assert {r["session_id"] for r in rows} == {session_id}
    assert body["paging"]["total_count"] == len(expected)


@pytest.mark.parametrize("view, sort_by, sort_order, expected", [
    ("raw", "joinedAt", "ASC", ["p-a1", "p-b1", "p-c1", "p-a2"]),  # b1/c1 join together
    ("raw", "joinedAt", "DESC", ["p-a2", "p-c1", "p-b1", "p-a1"]),
    ("raw", "duration", "ASC", ["p-a2", "p-b1", "p-a1", "p-c1"]),  # a2/b1: 5 min each
    ("raw", "duration", "DESC", ["p-c1", "p-a1", "p-b1", "p-a2"]),
    ("consolidated", "joinedAt", "ASC", ["p-a1", "p-b1", "p-c1", "p-d1"]),
    ("consolidated", "joinedAt", "DESC", ["p-d1", "p-c1", "p-b1", "p-a1"]),
    ("consolidated", "duration", "ASC", ["p-d1", "p-b1", "p-a1", "p-c1"]),
    ("consolidated", "duration", "DESC", ["p-c1", "p-a1", "p-b1", "p-d1"]),
])
def test_sorts_with_ties_by_peer_id(crew, view, sort_by, sort_order, expected) -> None:
    assert peer_ids(crew, view=view, sort_by=sort_by, sort_order=sort_order) == expected
    paged = [p["id"] for page in (1, 2, 3)
             for p in crew.participants("s1", view=view, sort_by=sort_by, sort_order=sort_order,
                                        per_page=2, page_no=page)]
    assert paged == expected


def test_default_sort_is_joined_at_ascending(crew: AppUnderTest) -> None:
    assert peer_ids(crew) == peer_ids(crew, sort_by="joinedAt", sort_order="ASC")
    assert peer_ids(crew, sort_by="duration") == ["p-a2", "p-b1", "p-a1", "p-c1"]


@pytest.mark.parametrize("view, search, expected", [
    ("raw", "alice", ["p-a1", "p-a2"]),  # display name
    ("raw", "ÄRGER", ["p-a1", "p-a2"]),  # case-insensitive, non-ASCII
    ("raw", "u-bob", ["p-b1"]),  # user id
    ("raw", "CPI-CAROL", ["p-c1"]),  # custom participant id
    ("raw", "p-a2", ["p-a2"]),  # peer id
    ("raw", "P-", ["p-a1", "p-b1", "p-c1", "p-a2"]),
    ("raw", "dave", []),  # only in the breakout room
    ("raw", "%", []),
    ("raw", "_", []),  # literal, not a wildcard
    ("raw", "zed", []),  # another session's peer
    ("consolidated", "dave", ["p-d1"]),
    ("consolidated", "P-A3", ["p-a1"]),  # a later peer of the user finds the user's row
    ("consolidated", "cpi-", ["p-a1", "p-b1", "p-c1", "p-d1"]),
    ("consolidated", "nobody", []),
])
def test_search(crew: AppUnderTest, view, search, expected) -> None:
    body = crew.ok("/sessions/s1/participants", view=view, search=search)
    assert [p["id"] for p in body["data"]["participants"]] == expected
    assert body["paging"]["total_count"] == len(expected)


def test_peer_events(crew: AppUnderTest) -> None:
    rows = crew.participants("s1", include_peer_events="true")
    by_id = {p["id"]: p for p in rows}
    events = by_id["p-b1"]["peer_events"]
    assert [e["event_name"] for e in events] == ["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]
    assert [(e["created_at"], e["updated_at"]) for e in events] == [
        (iso_ms(at(2)), iso_ms(at(2)))] * 2 + [(iso_ms(at(7)), iso_ms(at(7)))]
    assert [e["minutes_consumed"] for e in events] == [0.0, 0.0, by_id["p-b1"]["duration"]]
    for event in events:
        assert {k: event[k] for k in ("participant_id", "peer_id", "preset_view_type",
                                      "session_id", "socket_session_id")} == {
            "participant_id": "u-bob", "peer_id": "p-b1", "preset_view_type": "GROUP_CALL",
            "session_id": "s1", "socket_session_id": "sock-p-b1"}
    all_ids = [e["id"] for p in rows for e in p["peer_events"]]
    assert len(set(all_ids)) == len(all_ids) == 12
    again = crew.participants("s1", include_peer_events="true")
    assert [e["id"] for p in again for e in p["peer_events"]] == all_ids  # stable ids


def test_consolidated_peer_events_are_those_of_every_peer_of_the_user(app: AppUnderTest) -> None:
    # u-x is in the parent s1 from minute 1 to 10 and, from a second tab, in its breakout
    # room r1 from minute 3 to 8; u-y has one peer, in s1 only
    app.ingest([
        started("s1", "m1", T0), started("r1", "m1", at(2), "s1"),
        *visit("s1", "p-x1", at(1), at(10), user_id="u-x", socket_session_id="sock-x1"),
        *visit("r1", "p-x2", at(3), at(8), user_id="u-x", socket_session_id="sock-x2"),
        *visit("s1", "p-y1", at(2), at(4), user_id="u-y", socket_session_id="sock-y1"),
    ])
    rows = app.participants("s1", view="consolidated", include_peer_events="true")
    assert [(r["id"], r["user_id"], r["duration"]) for r in rows] == [
        ("p-x1", "u-x", 14.0), ("p-y1", "u-y", 2.0)]  # 9 + 5 minutes; 2 minutes
    fields = ("event_name", "created_at", "updated_at", "minutes_consumed", "participant_id",
              "peer_id", "preset_view_type", "session_id", "socket_session_id")

    def expected(name, minute, minutes, user, peer, session) -> dict:
        return {"event_name": name, "created_at": iso_ms(at(minute)),
                "updated_at": iso_ms(at(minute)), "minutes_consumed": minutes,
                "participant_id": user, "peer_id": peer, "preset_view_type": "GROUP_CALL",
                "session_id": session, "socket_session_id": f"sock-{peer[2:]}"}

    # both peers' events, each naming its own peer and session, merged in time order
    # (the room peer's leave at 8 comes before the parent peer's at 10)
    x, y = rows
    assert [{k: e[k] for k in fields} for e in x["peer_events"]] == [
        expected("PEER_CREATED", 1, 0.0, "u-x", "p-x1", "s1"),
        expected("PEER_JOINING", 1, 0.0, "u-x", "p-x1", "s1"),
        expected("PEER_CREATED", 3, 0.0, "u-x", "p-x2", "r1"),
        expected("PEER_JOINING", 3, 0.0, "u-x", "p-x2", "r1"),
        expected("PEER_LEAVING", 8, 5.0, "u-x", "p-x2", "r1"),
        expected("PEER_LEAVING", 10, 9.0, "u-x", "p-x1", "s1"),
    ]
    assert [{k: e[k] for k in fields} for e in y["peer_events"]] == [
        expected("PEER_CREATED", 2, 0.0, "u-y", "p-y1", "s1"),
        expected("PEER_JOINING", 2, 0.0, "u-y", "p-y1", "s1"),
        expected("PEER_LEAVING", 4, 2.0, "u-y", "p-y1", "s1"),
    ]
    # each event is the one its peer's own row carries, with the same id
    raw = {p["id"]: p["peer_events"]
           for session_id in ("s1", "r1")
           for p in app.participants(session_id, include_peer_events="true")}
    assert sorted(e["id"] for e in x["peer_events"]) == sorted(
        e["id"] for e in raw["p-x1"] + raw["p-x2"])
    assert y["peer_events"] == raw["p-y1"]
    assert len({e["id"] for e in x["peer_events"]}) == 6


@pytest.mark.parametrize("params", [{}, {"include_peer_events": "false"}])
def test_no_peer_events_unless_asked(crew: AppUnderTest, params) -> None:
    assert all("peer_events" not in p for p in crew.participants("s1", **params))


def test_live_peer(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0), joined("s1", "here", at(1)),
                *visit("s1", "gone", at(2), at(14))])
    for minute, duration in [(11, 10.0), (16, 15.0), (20.5, 19.5)]:
        app.clock.now_ms = at(minute)
        rows = {p["id"]: p for p in app.participants("s1", include_peer_events="true")}
        here = rows["here"]
        assert "left_at" not in here and here["duration"] == duration  # still in the call
        assert here["updated_at"] == iso_ms(at(1))
        assert [e["event_name"] for e in here["peer_events"]] == ["PEER_CREATED", "PEER_JOINING"]
        detail = app.ok("/sessions/s1/participants/here")["data"]["participant"]
        assert "left_at" not in detail and detail["duration"] == duration
    # sorted by duration as of now: "here" passes "gone" (12 min) as the clock moves
    app.clock.now_ms = at(12)
    assert [p["id"] for p in app.participants("s1", sort_by="duration")] == ["here", "gone"]
    app.clock.now_ms = at(14)
    assert [p["id"] for p in app.participants("s1", sort_by="duration")] == ["gone", "here"]
    consolidated = app.participants("s1", view="consolidated")
    assert [(p["id"], p.get("left_at", "absent")) for p in consolidated] == [
        ("here", "absent"), ("gone", iso_ms(at(14)))]


@pytest.mark.parametrize("closing", ["host ended", "superseded"])
def test_durations_of_a_closed_session_stop_at_the_close(app: AppUnderTest, closing) -> None:
    close = [ended("s1", at(10), "HOST_ENDED_MEETING")] if closing == "host ended" else [
        started("s2", "m1", at(10))]
    app.ingest([started("s1", "m1", T0), joined("s1", "x", at(5)),
                *visit("s1", "y", at(1), at(9)), *close])
    app.clock.now_ms = LATER
    rows = app.participants("s1", sort_by="duration")
    assert [(p["id"], p["left_at"], p["duration"]) for p in rows] == [
        ("x", iso_ms(at(10)), 5.0), ("y", iso_ms(at(9)), 8.0)]
    leaving = app.participants("s1", include_peer_events="true")[1]["peer_events"][-1]
    assert (leaving["event_name"], leaving["created_at"], leaving["minutes_consumed"]) == (
        "PEER_LEAVING", iso_ms(at(10)), 5.0)


def test_stray_leave_is_not_a_participant(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0), *visit("s1", "a", at(1), at(2)),
                left("s1", "ghost", at(3))])
    assert peer_ids(app) == ["a"]
    assert app.ok("/sessions/s1/participants")["paging"]["total_count"] == 1


def test_paging_edges(app: AppUnderTest) -> None:
    events = [started("s1", "m1", T0)]
    for i in range(205):
        events += visit("s1", f"p{i:03d}", T0 + i * SEC, T0 + 10 * MIN)
    app.ingest(events)
    app.clock.now_ms = LATER
    everyone = [f"p{i:03d}" for i in range(205)]
    body = app.ok("/sessions/s1/participants")  # default 25
    assert [p["id"] for p in body["data"]["participants"]] == everyone[:25]
    assert body["paging"] == {"total_count": 205, "start_offset": 1, "end_offset": 25}
    assert peer_ids(app, per_page=0) == everyone[:25]
    assert peer_ids(app, per_page=1, page_no=3) == everyone[2:3]
    assert peer_ids(app, per_page=200) == everyone[:200]
    body = app.ok("/sessions/s1/participants", per_page="200.0", page_no="2.0")
    assert [p["id"] for p in body["data"]["participants"]] == everyone[200:]
    assert body["data"]["paging"] == {"total_count": 205, "start_offset": 201, "end_offset": 205}
    past = app.ok("/sessions/s1/participants", per_page=200, page_no=3)
    assert past["data"]["participants"] == [] and past["paging"]["total_count"] == 205
    assert peer_ids(app, page_no=0, per_page=5) == everyone[:5]


@pytest.mark.parametrize("name, value, allowed", [
    ("per_page", "201", []), ("per_page", "-1", []), ("per_page", "2.5", []),
    ("page_no", "-1", []), ("page_no", "x", []), ("page_no", "1.5", []),
    ("sort_by", "joined_at", ["joinedAt", "duration"]),
    ("sort_order", "desc", ["ASC", "DESC"]),
    ("view", "flat", ["raw", "consolidated"]),
    ("include_peer_events", "yes please", []),
])
def test_bad_parameters_are_400(crew: AppUnderTest, name, value, allowed) -> None:
    assert_bad_request(crew.get("/sessions/s1/participants", **{name: value}), name, *allowed)


def test_huge_page_no_of_the_consolidated_view_is_400(crew: AppUnderTest) -> None:
    response = crew.get("/sessions/s1/participants", page_no="1e18", view="consolidated")
    assert_bad_request(response, "page_no")


def test_huge_page_no_of_the_raw_view_is_400(crew: AppUnderTest) -> None:
    assert_bad_request(crew.get("/sessions/s1/participants", page_no="1e18"), "page_no")
    page = crew.ok("/sessions/s1/participants", page_no="1000000000")  # the largest allowed
    assert page["data"]["participants"] == [] and page["paging"]["total_count"] == 4
