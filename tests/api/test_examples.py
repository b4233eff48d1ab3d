"""The reference data set: examples/basic/events.ndjson answers as examples/basic/expected.json.

764 shuffled native events of one app (37 top-level sessions, two breakout
rooms, rejoins, host-ended and all-left sessions) are ingested once as NDJSON
with the clock long after the last event; every number the API serves for
them is compared with the reference answers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import pytest

from tests.api.support import AppUnderTest
from tests.conftest import EXAMPLES, LiveServer

EVENTS = EXAMPLES / "basic" / "events.ndjson"
EXPECTED = json.loads((EXAMPLES / "basic" / "expected.json").read_text())
SESSIONS: dict[str, dict] = EXPECTED["sessions"]
AFTER_EVERYTHING_MS = 1_772_323_200_000  # 2026-03-01T00:00:00Z, weeks after the last event
SESSION_FIELDS = ("associated_id", "meeting_display_name", "status", "started_at", "ended_at",
                  "max_concurrent_participants", "live_participants")
PARTICIPANT_FIELDS = ("id", "user_id", "joined_at", "left_at", "duration")


def _known(obj: dict, fields: tuple[str, ...]) -> dict:
    """The ``fields`` of ``obj`` that are known. expected.json writes an unknown value
    as null; the API leaves it out (api.md), so both compare as the same dict."""
    return {f: obj[f] for f in fields if obj.get(f) is not None}


def _served(got: dict, fields: tuple[str, ...]) -> dict:
    """The ``fields`` the API served, none of them null (an unknown one is absent)."""
    assert all(got[f] is not None for f in fields if f in got), got
    return {f: got[f] for f in fields if f in got}


def _ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _exact_total_ms(session: dict) -> int:
    """Participant-milliseconds of a session, from the reference's own participant times."""
    peers = session["participants_joinedAt_asc"]
    return sum(_ms(p["left_at"]) - _ms(p["joined_at"]) for p in peers)


def _is_tie(session: dict) -> bool:
    """True when the exact minutes lie halfway between two 4-decimal values (x.xxxx5).

    The reference computed those by float summation in arrival order, so
    either neighbour is a correct rounding of the exact total.
    """
    return _exact_total_ms(session) % 6 == 3


TIES = sorted(s for s, v in SESSIONS.items() if _is_tie(v))
NOT_TIES = sorted(s for s in SESSIONS if s not in TIES)


@pytest.fixture(scope="module")
def example(server: LiveServer) -> Iterator[AppUnderTest]:
    server.clock.now_ms = AFTER_EVERYTHING_MS
    with server.client() as http:
        loaded = AppUnderTest(server, "app-examples", http)
        response = http.post(loaded.ingest_path, content=EVENTS.read_bytes(),
                             headers={"Content-Type": "application/x-ndjson"})
        assert response.status_code == 200, response.text
        report = response.json()["data"]
        assert report == {"accepted": 764, "duplicates": 0, "rejected": []}
        yield loaded


@pytest.fixture(autouse=True)
def _clock_after_everything(server: LiveServer) -> None:
    server.clock.now_ms = AFTER_EVERYTHING_MS


def test_the_reference_classifies_its_sessions() -> None:
    # Guards the tie rule itself: both kinds exist, and the two breakout rooms are there.
    assert len(SESSIONS) == 39 and len(EXPECTED["sessions_createdAt_desc"]) == 37
    assert TIES and NOT_TIES
    rooms = [s for s, v in SESSIONS.items() if v["parent_session_id"]]
    assert len(rooms) == 2


def test_sessions_list_order_is_created_at_desc(example: AppUnderTest) -> None:
    body = example.ok("/sessions", per_page=100)
    assert [s["id"] for s in body["data"]["sessions"]] == EXPECTED["sessions_createdAt_desc"]
    assert body["paging"] == {"total_count": 37, "start_offset": 1, "end_offset": 37}


def test_sessions_list_paged_by_ten_gives_the_same_order(example: AppUnderTest) -> None:
    ids = [s["id"] for page in range(1, 5)
           for s in example.sessions(per_page=10, page_no=page)]
    assert ids == EXPECTED["sessions_createdAt_desc"]


@pytest.mark.parametrize("session_id", sorted(SESSIONS))
def test_session_fields(example: AppUnderTest, session_id: str) -> None:
    expected = SESSIONS[session_id]
    got = example.session(session_id)
    assert _served(got, SESSION_FIELDS) == _known(expected, SESSION_FIELDS)
    assert got["id"] == session_id
    if expected["parent_session_id"] is None:  # a top-level session: no parent key at all
        assert "parent_session_id" not in got
    else:
        assert got["parent_session_id"] == expected["parent_session_id"]
    assert got["created_at"] == expected["started_at"]


@pytest.mark.parametrize("session_id", NOT_TIES)
def test_minutes_consumed_exact(example: AppUnderTest, session_id: str) -> None:
    got = example.session(session_id)["minutes_consumed"]
    assert got == SESSIONS[session_id]["minutes_consumed"]


@pytest.mark.parametrize("session_id", TIES)
def test_minutes_consumed_of_a_rounding_tie(example: AppUnderTest, session_id: str) -> None:
    expected = SESSIONS[session_id]
    exact = _exact_total_ms(expected) / 60_000
    got = example.session(session_id)["minutes_consumed"]
    assert abs(got - expected["minutes_consumed"]) <= 0.0001 + 1e-9
    assert abs(got - exact) <= 0.00005 + 1e-9  # one of the two neighbours of the exact value


@pytest.mark.parametrize("session_id", sorted(SESSIONS))
def test_participants_raw_view(example: AppUnderTest, session_id: str) -> None:
    body = example.ok(f"/sessions/{session_id}/participants", per_page=200)
    got = [_served(p, PARTICIPANT_FIELDS) for p in body["data"]["participants"]]
    expected = SESSIONS[session_id]["participants_joinedAt_asc"]
    assert got == [_known(p, PARTICIPANT_FIELDS) for p in expected]
    assert body["data"]["paging"]["total_count"] == len(got)
    assert all(p["session_id"] == session_id for p in body["data"]["participants"])


def test_list_sessions_carry_the_same_numbers_as_details(example: AppUnderTest) -> None:
    for listed in example.sessions(per_page=100):
        expected = SESSIONS[listed["id"]]
        assert _served(listed, SESSION_FIELDS) == _known(expected, SESSION_FIELDS)
        assert "parent_session_id" not in listed  # the list holds top-level sessions only


def test_breakout_rooms_listed_in_their_parent(example: AppUnderTest) -> None:
    rooms = {s: v["parent_session_id"] for s, v in SESSIONS.items() if v["parent_session_id"]}
    parent = next(iter(set(rooms.values())))
    listed = {s["id"] for s in example.sessions(per_page=100)}
    assert not set(rooms) & listed and parent in listed
    detail = example.session(parent, include_breakout_rooms="true")
    assert sorted(r["id"] for r in detail["breakout_rooms"]) == sorted(rooms)
    for room in detail["breakout_rooms"]:
        expected = SESSIONS[room["id"]]
        assert _served(room, SESSION_FIELDS) == _known(expected, SESSION_FIELDS)
        assert room["parent_session_id"] == expected["parent_session_id"] == parent


def test_consolidated_view(example: AppUnderTest) -> None:
    session_id = EXPECTED["consolidated"]["session_id"]
    rows = example.participants(session_id, view="consolidated")
    assert {r["user_id"]: r["duration"] for r in rows} == \
        EXPECTED["consolidated"]["duration_by_user_id"]
    assert len(rows) == len(EXPECTED["consolidated"]["duration_by_user_id"])
