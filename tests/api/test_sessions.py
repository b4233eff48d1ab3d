"""GET /sessions: filters, sorts, paging and parameter validation.

One catalog app is ingested once per module (every session ENDED under the
clock); tests that move the clock or need more sessions get a fresh app.
Detail, lifecycle and status are in ``test_sessions_lifecycle.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, assert_bad_request
from tests.conftest import LiveServer
from tests.factories import MIN, SEC, T0, meeting, started, visit

H = 60 * MIN
LATER = T0 + 48 * H  # every catalog session ended long before


def _peers(session_id: str, start: int, minutes: list[int]) -> list[dict]:
    """One peer per entry, joining a minute apart, staying that many minutes."""
    events: list[dict] = []
    for i, length in enumerate(minutes):
        join = start + (i + 1) * MIN
        events += visit(session_id, f"{session_id}-p{i}", join, join + length * MIN)
    return events


# session id: (meeting id, start, peers' minutes); peer count = len(minutes)
CATALOG = {
    "s-uni-1": ("m-uni", T0 + 1 * H, [10, 20, 30]),
    "s-pct": ("m-pct", T0 + 2 * H, [5]),
    "s-q1000": ("m-q1000", T0 + 3 * H, [1, 2, 3, 4]),
    "s-under": ("m-under", T0 + 4 * H, [20, 20]),
    "s-x": ("m-x", T0 + 5 * H, []),
    "s-uni-2": ("m-uni", T0 + 6 * H, [7, 8]),
    "s-tie-a": ("m-tie-a", T0 + 7 * H, [25]),
    "s-tie-b": ("m-tie-b", T0 + 7 * H, [25]),
}
MINUTES = {s: float(sum(m)) for s, (_, _, m) in CATALOG.items()}
PEERS = {s: len(m) for s, (_, _, m) in CATALOG.items()}
TITLES = {"m-uni": "Weekly Sync — Ünïcode Team", "m-pct": "Budget 100% review",
          "m-q1000": "Q1000 plan", "m-under": "team_standup", "m-x": "teamxstandup"}
BY_CREATED = sorted(CATALOG, key=lambda s: (CATALOG[s][1], s))
BY_MINUTES = sorted(CATALOG, key=lambda s: (MINUTES[s], s))


def catalog_events() -> list[dict]:
    events = [meeting(m, title) for m, title in TITLES.items()]
    for session_id, (meeting_id, start, minutes) in CATALOG.items():
        events += [started(session_id, meeting_id, start), *_peers(session_id, start, minutes)]
    # a breakout room of s-under: never in the list, never counted
    events += [started("s-under-room", "m-under", T0 + 4 * H + 5 * MIN, parent="s-under"),
               *visit("s-under-room", "room-p", T0 + 4 * H + 6 * MIN, T0 + 4 * H + 9 * MIN)]
    return events


@pytest.fixture(scope="module")
def catalog(server: LiveServer) -> Iterator[AppUnderTest]:
    with server.client() as http:
        loaded = AppUnderTest(server, "app-catalog", http)
        loaded.ingest(catalog_events())
        yield loaded


@pytest.fixture(autouse=True)
def _later_clock(server: LiveServer) -> None:
    server.clock.now_ms = LATER


def ids(app: AppUnderTest, **params) -> list[str]:
    return [s["id"] for s in app.sessions(per_page=100, **params)]


def test_default_list_is_created_at_desc_with_every_top_level_session(catalog) -> None:
    body = catalog.ok("/sessions")
    assert [s["id"] for s in body["data"]["sessions"]] == BY_CREATED[::-1]
    assert body["paging"] == body["data"]["paging"] == {
        "total_count": 8, "start_offset": 1, "end_offset": 8}
    listed = {s["id"]: s for s in body["data"]["sessions"]}
    assert {s: listed[s]["minutes_consumed"] for s in listed} == MINUTES
    assert {s["status"] for s in listed.values()} == {"ENDED"}


def test_breakout_room_is_not_listed_but_is_in_its_parent(catalog) -> None:
    listed = {s["id"]: s for s in catalog.sessions(per_page=100)}
    assert "s-under-room" not in listed
    assert [r["id"] for r in listed["s-under"]["breakout_rooms"]] == ["s-under-room"]
    assert listed["s-under"]["breakout_rooms"][0]["parent_session_id"] == "s-under"
    assert all(s["breakout_rooms"] == [] for k, s in listed.items() if k != "s-under")


@pytest.mark.parametrize("params, expected", [
    ({"associated_id": "m-uni"}, ["s-uni-2", "s-uni-1"]),
    ({"associated_id": "m-pct"}, ["s-pct"]),
    ({"associated_id": "m-nope"}, []),
    # start/end bound started_at inclusively, and accept any offset
    ({"start_time": iso_ms(T0 + 6 * H)}, ["s-tie-b", "s-tie-a", "s-uni-2"]),
    ({"start_time": iso_ms(T0 + 6 * H + 1)}, ["s-tie-b", "s-tie-a"]),
    ({"end_time": iso_ms(T0 + 2 * H)}, ["s-pct", "s-uni-1"]),
    ({"end_time": iso_ms(T0 + 2 * H - 1)}, ["s-uni-1"]),
    ({"start_time": "2026-01-01T04:00:00+02:00", "end_time": "2026-01-01T05:00:00+02:00"},
     ["s-q1000", "s-pct"]),
    ({"start_time": "2026-01-01T03:00:00.000Z", "end_time": "2026-01-01T03:00:00Z"},
     ["s-q1000"]),
    ({"start_time": "2026-01-01T01:00:00-05:00"}, ["s-tie-b", "s-tie-a", "s-uni-2"]),
    ({"end_time": "2025-12-31T22:00:00-05:00"}, ["s-q1000", "s-pct", "s-uni-1"]),
    ({"start_time": "2026-01-01T02:00:00.001Z", "end_time": "2026-01-01T02:59:59.999Z"}, []),
    # participants: peers who ever joined (rooms' peers not counted)
    ({"participants": "2"}, ["s-uni-2", "s-under"]),
    ({"participants": "0"}, ["s-x"]),
    ({"participants": "1:2"}, ["s-tie-b", "s-tie-a", "s-uni-2", "s-under", "s-pct"]),
    ({"participants": "3:"}, ["s-q1000", "s-uni-1"]),
    ({"participants": ":1"}, ["s-tie-b", "s-tie-a", "s-x", "s-pct"]),
    ({"participants": "4:4"}, ["s-q1000"]),
    ({"participants": "5:"}, []),
    # search: title (case-insensitive, non-ASCII), meeting id, session id; % and _ literal
    ({"search": "ünï"}, ["s-uni-2", "s-uni-1"]),
    ({"search": "ÜNÏCODE TEAM"}, ["s-uni-2", "s-uni-1"]),
    ({"search": "weekly sync —"}, ["s-uni-2", "s-uni-1"]),
    ({"search": "BUDGET"}, ["s-pct"]),
    ({"search": "m-q1000"}, ["s-q1000"]),
    ({"search": "s-tie-b"}, ["s-tie-b"]),
    ({"search": "TIE"}, ["s-tie-b", "s-tie-a"]),
    ({"search": "100%"}, ["s-pct"]),
    ({"search": "%"}, ["s-pct"]),
    ({"search": "m_s"}, ["s-under"]),
    ({"search": "_"}, ["s-under"]),
    ({"search": "room"}, []),
    ({"search": "nothing like it"}, []),
    # filters combine
    ({"associated_id": "m-uni", "participants": "3"}, ["s-uni-1"]),
    ({"search": "s-", "start_time": iso_ms(T0 + 3 * H), "participants": ":2"},
     ["s-tie-b", "s-tie-a", "s-uni-2", "s-x", "s-under"]),
    ({"status": "ENDED"}, BY_CREATED[::-1]),
    ({"status": "LIVE"}, []),
])
def test_filters(catalog, params, expected) -> None:
    body = catalog.ok("/sessions", per_page=100, **params)
    assert [s["id"] for s in body["data"]["sessions"]] == expected
    assert body["paging"]["total_count"] == len(expected)
    assert body["data"]["paging"] == body["paging"]


@pytest.mark.parametrize("sort_by, sort_order, expected", [
    ("createdAt", "ASC", BY_CREATED),
    ("createdAt", "DESC", BY_CREATED[::-1]),
    ("minutesConsumed", "ASC", BY_MINUTES),
    ("minutesConsumed", "DESC", BY_MINUTES[::-1]),
])
def test_sorts_break_ties_by_id(catalog, sort_by, sort_order, expected) -> None:
    # s-tie-a and s-tie-b have the same start and the same minutes
    assert ids(catalog, sort_by=sort_by, sort_order=sort_order) == expected
    paged = [s["id"] for page in (1, 2, 3)
             for s in catalog.sessions(sort_by=sort_by, sort_order=sort_order,
                                       per_page=3, page_no=page)]
    assert paged == expected


def test_default_sort_is_created_at_desc(catalog) -> None:
    assert ids(catalog) == ids(catalog, sort_by="createdAt", sort_order="DESC")
    assert ids(catalog, sort_by="minutesConsumed") == BY_MINUTES[::-1]
    assert ids(catalog, sort_order="ASC") == BY_CREATED


@pytest.mark.parametrize("page_no, per_page, shown, start, end", [
    (1, 3, 3, 1, 3),
    (2, 3, 3, 4, 6),
    (3, 3, 2, 7, 8),
    (1, 8, 8, 1, 8),
    (2, 7, 1, 8, 8),
    ("2.0", "3.0", 3, 4, 6),
    (0, 3, 3, 1, 3),  # page_no=0 means the default, page 1
])
def test_paging_offsets(catalog, page_no, per_page, shown, start, end) -> None:
    body = catalog.ok("/sessions", page_no=page_no, per_page=per_page)
    assert len(body["data"]["sessions"]) == shown
    assert body["paging"] == body["data"]["paging"] == {
        "total_count": 8, "start_offset": start, "end_offset": end}
    assert [s["id"] for s in body["data"]["sessions"]] == BY_CREATED[::-1][start - 1:end]


@pytest.mark.parametrize("params, total", [({}, 8), ({"associated_id": "m-uni"}, 2),
                                           ({"search": "tie"}, 2)])
def test_page_past_the_end_is_empty_with_the_total(catalog, params, total) -> None:
    body = catalog.ok("/sessions", page_no=5, per_page=3, **params)
    assert body["data"]["sessions"] == []
    assert body["paging"]["total_count"] == body["data"]["paging"]["total_count"] == total


def test_filtered_total_counts_all_matches_not_the_page(catalog) -> None:
    body = catalog.ok("/sessions", search="s-", per_page=2, page_no=2)
    assert [s["id"] for s in body["data"]["sessions"]] == BY_CREATED[::-1][2:4]
    assert body["paging"] == {"total_count": 8, "start_offset": 3, "end_offset": 4}


def test_kept_total_equals_the_counted_total(catalog) -> None:
    # the unfiltered total is a kept counter; a match-all filter counts the rows
    unfiltered = catalog.ok("/sessions", per_page=1)["paging"]["total_count"]
    counted = catalog.ok("/sessions", per_page=1, participants="0:")["paging"]["total_count"]
    assert unfiltered == counted == len(CATALOG)


def test_late_parent_link_takes_a_room_out_of_the_list(app: AppUnderTest) -> None:
    app.ingest([started("p", "m1", T0), *visit("r", "a", T0 + MIN, T0 + 2 * MIN, meeting_id="m1")])
    assert sorted(s["id"] for s in app.sessions()) == ["p", "r"]  # r looks top-level so far
    app.ingest([started("r", "m1", T0 + MIN, parent="p")])
    body = app.ok("/sessions")
    assert [s["id"] for s in body["data"]["sessions"]] == ["p"]
    assert body["paging"]["total_count"] == 1
    assert [r["id"] for r in body["data"]["sessions"][0]["breakout_rooms"]] == ["r"]
    app.clock.now_ms = T0 + 10 * MIN  # p ends with its room's last leave, not superseded by r
    assert (app.session("p")["status"], app.session("p")["ended_at"]) == (
        "ENDED", iso_ms(T0 + 2 * MIN))


def test_per_page_bounds(app: AppUnderTest) -> None:
    app.ingest([started(f"s-{i:02d}", f"m-{i:02d}", T0 + i * MIN) for i in range(105)])
    app.clock.now_ms = T0 + 10 * H
    newest_first = [f"s-{i:02d}" for i in range(104, -1, -1)]
    assert [s["id"] for s in app.sessions(per_page=0)] == newest_first[:20]  # 0 → default 20
    assert [s["id"] for s in app.sessions()] == newest_first[:20]
    assert [s["id"] for s in app.sessions(per_page=1)] == newest_first[:1]
    body = app.ok("/sessions", per_page=100)
    assert [s["id"] for s in body["data"]["sessions"]] == newest_first[:100]
    assert body["paging"] == {"total_count": 105, "start_offset": 1, "end_offset": 100}
    assert [s["id"] for s in app.sessions(per_page=100, page_no=2)] == newest_first[100:]
    assert [s["id"] for s in app.sessions(per_page="25.0", page_no="2.0")] == newest_first[25:50]


@pytest.mark.parametrize("name, value", [
    ("per_page", "101"), ("per_page", "-1"), ("per_page", "1.5"), ("per_page", "ten"),
    ("page_no", "-1"), ("page_no", "1.5"), ("page_no", "abc"),
])
def test_bad_paging_is_400_naming_the_parameter(catalog, name, value) -> None:
    assert_bad_request(catalog.get("/sessions", **{name: value}), name)


@pytest.mark.parametrize("name, value, allowed", [
    ("status", "RUNNING", ["LIVE", "ENDED"]),
    ("status", "live", ["LIVE", "ENDED"]),
    ("sort_by", "duration", ["createdAt", "minutesConsumed"]),
    ("sort_order", "UP", ["ASC", "DESC"]),
    ("start_time", "yesterday", []),
    ("end_time", "2026-13-01T00:00:00Z", []),
    ("participants", "two", []),
    ("participants", "3:1", []),
    ("participants", "-1", []),
])
def test_bad_values_are_400_naming_the_parameter(catalog, name, value, allowed) -> None:
    assert_bad_request(catalog.get("/sessions", **{name: value}), name, *allowed)


def test_unknown_app_of_the_account_lists_nothing(catalog) -> None:
    body = catalog.http.get("/accounts/acc-1/realtime/kit/app-never-ingested/sessions").json()
    assert body["data"]["sessions"] == [] and body["paging"]["total_count"] == 0


def test_list_and_client_v4_prefix_answer_identically(catalog) -> None:
    params = {"search": "s-", "sort_by": "minutesConsumed", "per_page": 4, "page_no": 2}
    plain = catalog.http.get(catalog.base + "/sessions", params=params)
    prefixed = catalog.http.get("/client/v4" + catalog.base + "/sessions", params=params)
    assert plain.status_code == prefixed.status_code == 200
    assert plain.json() == prefixed.json()
    bad = catalog.http.get("/client/v4" + catalog.base + "/sessions", params={"per_page": 101})
    assert_bad_request(bad, "per_page")


def test_started_at_is_the_earliest_of_start_event_and_first_join(app: AppUnderTest) -> None:
    app.ingest([started("s1", "m1", T0 + 10 * MIN), *visit("s1", "p", T0 + 5 * MIN, T0 + 20 * MIN),
                *visit("s2", "q", T0 + 30 * SEC, T0 + MIN, meeting_id="m2")])
    app.clock.now_ms = T0 + H
    listed = {s["id"]: s for s in app.sessions()}
    assert listed["s1"]["started_at"] == listed["s1"]["created_at"] == iso_ms(T0 + 5 * MIN)
    assert listed["s2"]["started_at"] == iso_ms(T0 + 30 * SEC)  # no session.started at all
    assert listed["s2"]["associated_id"] == "m2"
    assert [s["id"] for s in app.sessions(start_time=iso_ms(T0 + 5 * MIN))] == ["s1"]


@pytest.mark.parametrize("name, value", [
    ("page_no", "1e18"), ("page_no", "1e308"), ("participants", "99999999999999999999999"),
    ("participants", "1:99999999999999999999999")])
def test_huge_numbers_are_400(catalog, name, value) -> None:
    assert_bad_request(catalog.get("/sessions", **{name: value}), name)


@pytest.mark.parametrize("name", ["start_time", "end_time"])
def test_a_time_without_offset_is_400(catalog, name) -> None:
    assert_bad_request(catalog.get("/sessions", **{name: "2026-01-01T03:00:00"}), name)
