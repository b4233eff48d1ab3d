"""Official SDK conformance: four generations of the ``cloudflare`` SDK against the real server.

The server is started as a user starts it (``conftest.sdk_server``). ``sdk_calls.py``
calls every endpoint of the Sessions issue with ``_strict_response_validation=True``,
once with this venv's pinned SDK ("current") and once with ``cloudflare==5.0.0``
("seed", the generation the seed documents) from its own environment;
``node/sdk_calls.mjs`` makes the same calls with the TypeScript SDK 7.x ("ts7") and
6.x ("ts6") and holds every answer against that generation's own ``.d.ts``. A
response a generation cannot parse, can parse only by coercing a value, or that
breaks its declared types (a ``null`` where the type says ``?: string``) fails the
suite; so do wrong numbers, wrong order, a null anywhere, a field we know left out,
and any difference between what the generations read.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from harness import (
    GENERATIONS,
    NESTED_DETAILS,
    PYTHON_GENERATIONS,
    TS_GENERATIONS,
    TWIN,
    Outcome,
    clean_env,
    installed_ts_version,
    interpreter,
    sdk_runner,
)

pytestmark = pytest.mark.sdk


@pytest.fixture(scope="module")
def runs(sdk_server: Any) -> Callable[[str], Outcome]:
    """Runs sdk_calls.py once per generation (cached for the module)."""
    return sdk_runner(sdk_server)


@pytest.fixture(scope="module", params=GENERATIONS)
def generation(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module", params=PYTHON_GENERATIONS)
def python_generation(request: pytest.FixtureRequest) -> str:
    """For what only the Python SDKs can say (pydantic's strict validation)."""
    return request.param


@pytest.fixture(scope="module")
def sdk(runs: Callable[[str], Outcome], generation: str) -> dict[str, Any]:
    return succeeded(runs, generation)


@pytest.fixture(scope="module")
def python_sdk(runs: Callable[[str], Outcome], python_generation: str) -> dict[str, Any]:
    return succeeded(runs, python_generation)


def succeeded(runs: Callable[[str], Outcome], generation: str) -> dict[str, Any]:
    """The output of a run in which every call succeeded."""
    outcome = runs(generation)
    if outcome.returncode != 0 or outcome.output is None:
        pytest.fail(
            f"sdk_calls.py failed with the {generation} SDK ({outcome.python}); "
            f"see test_every_call_parses_strictly[{generation}]",
            pytrace=False,
        )
    version = interpreter(generation)[1]
    if outcome.output["sdk_version"] != version:
        pytest.fail(
            f"{outcome.python} ran cloudflare {outcome.output['sdk_version']}, "
            f"the {generation} generation is {version}",
            pytrace=False,
        )
    return outcome.output


# --------------------------------------------------------------------------
# helpers over examples/basic/expected.json
# --------------------------------------------------------------------------


def top_level(expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {sid: s for sid, s in expected["sessions"].items() if s["parent_session_id"] is None}


def ids_of(rows: list[dict[str, Any]]) -> list[str]:
    return [row["id"] for row in rows]


def when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC)


def is_rounding_tie(want: dict[str, Any]) -> bool:
    """The exact participant-minutes lie halfway between two 4-decimal values (x.xxxx5).

    The reference answers summed floats in arrival order there, so either
    neighbour is a correct rounding of the exact total (as tests/api/test_examples.py).
    """
    total_ms = sum(
        round((when(p["left_at"]) - when(p["joined_at"])).total_seconds() * 1000)
        for p in want["participants_joinedAt_asc"]
    )
    return total_ms % 6 == 3


def session_matches(
    fact: dict[str, Any], want: dict[str, Any], app: str
) -> dict[str, tuple[Any, Any]]:
    """Fields where a session read through the SDK differs from expected.json."""
    minutes = fact.get("minutes_consumed")
    if (
        is_rounding_tie(want)
        and isinstance(minutes, float | int)
        and (abs(minutes - want["minutes_consumed"]) <= 0.0001 + 1e-9)
    ):
        minutes = want["minutes_consumed"]
    fact = {**fact, "minutes_consumed": minutes}
    wanted = {
        "associated_id": want["associated_id"],
        "meeting_display_name": want["meeting_display_name"],
        "status": want["status"],
        "started_at": want["started_at"],
        "created_at": want["started_at"],
        "ended_at": want["ended_at"],
        "minutes_consumed": want["minutes_consumed"],
        "max_concurrent_participants": want["max_concurrent_participants"],
        "live_participants": want["live_participants"],
        "organization_id": app,
        "type": "meeting",
    }
    return {k: (fact.get(k), v) for k, v in wanted.items() if fact.get(k) != v}


def participant_rows(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    keys = ("id", "user_id", "joined_at", "left_at", "duration")
    return [{k: p[k] for k in keys} for p in facts]


# --------------------------------------------------------------------------
# the runs themselves
# --------------------------------------------------------------------------


def test_interpreter_has_the_pinned_sdk(generation: str) -> None:
    python, version = interpreter(generation)
    if generation in TS_GENERATIONS:
        assert installed_ts_version(generation) == version, "npm ci in tests/sdk/node"
        return
    proc = subprocess.run(
        [str(python), "-c", "import cloudflare; print(cloudflare.__version__)"],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert proc.returncode == 0, f"{python} cannot import cloudflare:\n{proc.stderr}"
    assert proc.stdout.strip() == version, (
        f"{python} has cloudflare {proc.stdout.strip()}, the {generation} generation is {version}"
    )


def test_every_call_parses_strictly(runs: Callable[[str], Outcome], generation: str) -> None:
    outcome = runs(generation)
    assert outcome.output is not None, outcome.describe()
    assert outcome.output["failures"] == [], outcome.describe()
    assert outcome.returncode == 0, outcome.describe()
    assert outcome.output["sdk_version"] == interpreter(generation)[1]
    # 5.0.0 and 6.x still have `filters` on participant details; newer ones do not.
    assert outcome.output["generation_features"]["participant_details_filters"] is (
        generation in NESTED_DETAILS
    )


# --------------------------------------------------------------------------
# GET /sessions
# --------------------------------------------------------------------------


def test_sessions_in_created_order_with_paging(sdk: dict[str, Any], sdk_server: Any) -> None:
    expected = sdk_server.expected
    # The live session started minutes ago, after every example session.
    order = [sdk_server.ids["live_session"], *expected["sessions_createdAt_desc"]]
    total = len(order)
    sessions, paging = sdk["facts"]["sessions"], sdk["facts"]["paging"]

    assert ids_of(sessions["sessions_created_desc"]) == order
    assert ids_of(sessions["sessions_created_asc"]) == order[::-1]
    assert ids_of(sessions["sessions_default"]) == order[:20]  # default per_page 20
    assert sdk["facts"]["plain_get_sessions_ids"] == order[:20]
    assert ids_of(sessions["sessions_zero_paging"]) == order[:20]  # 0 means the default
    assert paging["sessions_default"] == {"total_count": total, "start_offset": 1, "end_offset": 20}

    pages = sorted(
        (int(k.rsplit("_", 1)[1]), v) for k, v in sessions.items() if k.startswith("sessions_page_")
    )
    assert [n for n, _ in pages] == list(range(1, len(pages) + 1))
    assert pages[-1][1] == [], "the last page fetched is past the end"
    assert [sid for _, rows in pages for sid in ids_of(rows)] == order
    for n, rows in pages[:-1]:
        assert paging[f"sessions_page_{n}"] == {
            "total_count": total,
            "start_offset": (n - 1) * 10 + 1,
            "end_offset": (n - 1) * 10 + len(rows),
        }
    assert paging[f"sessions_page_{pages[-1][0]}"] == {
        "total_count": total,
        "start_offset": 0,
        "end_offset": 0,
    }
    # The top-level `paging` (5.3+) and `data.paging` (seed style) agree.
    for name, call in sdk["calls"].items():
        if name.startswith("sessions_"):
            response = call["response"]
            assert response["paging"] == response["data"]["paging"], name


def test_every_session_has_the_expected_numbers(sdk: dict[str, Any], sdk_server: Any) -> None:
    expected = top_level(sdk_server.expected)
    read = {s["id"]: s for s in sdk["facts"]["sessions"]["sessions_created_desc"]}
    assert set(read) - {sdk_server.ids["live_session"]} == set(expected)
    wrong = {
        sid: session_matches(read[sid], want, sdk_server.app) for sid, want in expected.items()
    }
    assert {sid: diff for sid, diff in wrong.items() if diff} == {}


def test_sessions_sorted_by_minutes_consumed(sdk: dict[str, Any]) -> None:
    for name, descending in (("sessions_minutes_desc", True), ("sessions_minutes_asc", False)):
        minutes = [s["minutes_consumed"] for s in sdk["facts"]["sessions"][name]]
        assert minutes == sorted(minutes, reverse=descending), name
        assert len(minutes) == len(sdk["facts"]["sessions"]["sessions_created_desc"])


def test_session_filters(sdk: dict[str, Any], sdk_server: Any) -> None:
    expected, ids = top_level(sdk_server.expected), sdk_server.ids
    got = {name: set(ids_of(rows)) for name, rows in sdk["facts"]["sessions"].items()}
    start, end = when(ids["start_time"]), when(ids["end_time"])
    peers = {sid: len(s["participants_joinedAt_asc"]) for sid, s in expected.items()}

    def where(test: Callable[[str, dict[str, Any]], bool]) -> set[str]:
        return {sid for sid, s in expected.items() if test(sid, s)}

    def found(text: str, sid: str, s: dict[str, Any]) -> bool:  # title, meeting id, session id
        return any(
            text.casefold() in v.casefold()
            for v in (s["meeting_display_name"], s["associated_id"], sid)
        )

    assert got["sessions_live"] == {ids["live_session"]}
    assert got["sessions_ended"] == set(expected)
    assert {s["status"] for s in sdk["facts"]["sessions"]["sessions_ended"]} == {"ENDED"}
    assert got["sessions_search"] == where(lambda sid, s: found(ids["search"], sid, s))
    assert len(got["sessions_search"]) == 3
    assert got["sessions_associated"] == where(
        lambda sid, s: s["associated_id"] == ids["associated_id"]
    )
    in_range = where(lambda sid, s: start <= when(s["started_at"]) <= end)
    assert got["sessions_time_range"] == in_range
    assert any(when(expected[sid]["started_at"]) == end for sid in in_range), "end is inclusive"
    assert got["sessions_participants_1_5"] == where(lambda sid, s: 1 <= peers[sid] <= 5) | {
        ids["live_session"]
    }  # 2 peers
    assert got["sessions_participants_exact"] == where(lambda sid, s: peers[sid] == 5)
    assert len(got["sessions_participants_exact"]) == 4

    low, high = (int(n) for n in ids["combined_participants"].split(":"))
    c_start, c_end = when(ids["combined_start_time"]), when(ids["combined_end_time"])
    combined = where(
        lambda sid, s: low <= peers[sid] <= high
        and found(ids["combined_search"], sid, s)
        and c_start <= when(s["started_at"]) <= c_end
    )
    assert len(combined) == 3 and any(
        when(expected[sid]["started_at"]) == c_end for sid in combined
    )
    rows = sdk["facts"]["sessions"]["sessions_combined"]
    assert ids_of(rows) == sorted(combined, key=lambda sid: expected[sid]["minutes_consumed"])


# --------------------------------------------------------------------------
# GET /sessions/{session_id}
# --------------------------------------------------------------------------


def test_session_details(sdk: dict[str, Any], sdk_server: Any, generation: str) -> None:
    expected, ids = sdk_server.expected["sessions"], sdk_server.ids
    details = sdk["facts"]["session"]
    # What each generation types: 5.0.0 and 6.x read data.session, 5.3+ and 7.x the
    # fields of data.
    shape = "nested" if generation in NESTED_DETAILS else "flat"
    assert {d["shape"] for d in details.values()} == {shape}
    for name, key in (
        ("details_ended", "ended_session"),
        ("details_parent", "parent_session"),
        ("details_breakout_room", "breakout_room"),
    ):
        assert session_matches(details[name], expected[ids[key]], sdk_server.app) == {}, name
    # Both places hold the same session.
    for name, call in sdk["calls"].items():
        if name.startswith("details_"):
            data = call["response"]["data"]
            assert {k: v for k, v in data.items() if k != "session"} == data["session"], name


def test_breakout_rooms_only_when_asked(sdk: dict[str, Any], sdk_server: Any) -> None:
    expected, ids = sdk_server.expected["sessions"], sdk_server.ids
    rooms = sorted(
        sid for sid, s in expected.items() if s["parent_session_id"] == ids["parent_session"]
    )
    details = sdk["facts"]["session"]
    assert sorted(details["details_parent_rooms"]["breakout_room_ids"]) == rooms
    assert details["details_parent"]["breakout_room_ids"] == []
    assert details["details_parent_no_rooms"]["breakout_room_ids"] == []
    full = sdk["calls"]["details_parent_rooms"]["response"]["data"]["session"]["breakout_rooms"]
    for room in full:  # full session objects, as the parent's rooms
        assert session_matches(room, expected[room["id"]], sdk_server.app) == {}
        assert room["parent_session_id"] == ids["parent_session"]
    # The list holds top-level sessions only, each with its rooms.
    listed = {s["id"]: s for s in sdk["facts"]["sessions"]["sessions_created_desc"]}
    assert not set(rooms) & set(listed)
    assert sorted(listed[ids["parent_session"]]["breakout_room_ids"]) == rooms


# --------------------------------------------------------------------------
# GET /sessions/{session_id}/participants
# --------------------------------------------------------------------------


def test_participants_of_an_ended_session(sdk: dict[str, Any], sdk_server: Any) -> None:
    ids = sdk_server.ids
    want = sdk_server.expected["sessions"][ids["ended_session"]]["participants_joinedAt_asc"]
    got, paging = sdk["facts"]["participants"], sdk["facts"]["paging"]
    assert participant_rows(got["participants_ended"]) == want
    assert participant_rows(got["participants_ended_default"]) == want  # 13 < 25 per page
    assert paging["participants_ended"] == {
        "total_count": len(want),
        "start_offset": 1,
        "end_offset": len(want),
    }
    assert participant_rows(got["participants_ended_page_2"]) == want[5:10]
    assert paging["participants_ended_page_2"] == {
        "total_count": len(want),
        "start_offset": 6,
        "end_offset": 10,
    }
    by_duration = got["participants_ended_duration_desc"]
    assert sorted(ids_of(by_duration)) == sorted(ids_of(want))
    durations = [p["duration"] for p in by_duration]
    assert durations == sorted(durations, reverse=True)
    rejoined = [p for p in want if p["user_id"] == ids["search_user_id"]]
    assert len(rejoined) == 2
    assert participant_rows(got["participants_ended_search"]) == rejoined
    for participant in sdk["calls"]["participants_ended"]["response"]["data"]["participants"]:
        assert participant["session_id"] == ids["ended_session"]
        assert "peer_events" not in participant
    for row in got["participants_ended_events"]:
        events = row["peer_events"]
        assert [e["event_name"] for e in events] == ["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]
        assert {e["peer_id"] for e in events} == {row["id"]}
        assert {e["session_id"] for e in events} == {ids["ended_session"]}


def test_consolidated_view_sums_breakout_rooms(sdk: dict[str, Any], sdk_server: Any) -> None:
    want = sdk_server.expected["consolidated"]["duration_by_user_id"]
    got = sdk["facts"]["participants"]
    consolidated = got["participants_parent_consolidated"]
    assert {p["user_id"]: p["duration"] for p in consolidated} == want
    assert len(consolidated) == len(want)  # one row per user
    raw = got["participants_parent_raw"]
    assert len(raw) == len(
        sdk_server.expected["sessions"][sdk_server.ids["parent_session"]][
            "participants_joinedAt_asc"
        ]
    )
    top3 = got["participants_parent_consolidated_duration"]
    assert [p["duration"] for p in top3] == sorted(want.values(), reverse=True)[:3]


def test_consolidated_rows_carry_the_events_of_every_peer(
    sdk: dict[str, Any], sdk_server: Any
) -> None:
    """With include_peer_events, a user's consolidated row carries the lifecycle events
    of all the peers it folds (the parent session's and its rooms'), each naming its own
    peer and session, in time order (at one instant, the earlier peer's first)."""
    sessions, parent = sdk_server.expected["sessions"], sdk_server.ids["parent_session"]
    peers = [
        (sid, p)
        for sid, s in sessions.items()
        if sid == parent or s["parent_session_id"] == parent
        for p in s["participants_joinedAt_asc"]
    ]
    peers.sort(key=lambda sp: (when(sp[1]["joined_at"]), sp[1]["id"]))
    want: dict[str, list[tuple[datetime, int, str, str, str]]] = {}
    for order, (sid, p) in enumerate(peers):
        joined, left = when(p["joined_at"]), when(p["left_at"])
        want.setdefault(p["user_id"], []).extend([
            (joined, order, "PEER_CREATED", p["id"], sid),
            (joined, order, "PEER_JOINING", p["id"], sid),
            (left, order, "PEER_LEAVING", p["id"], sid),
        ])
    rows = sdk["facts"]["participants"]["participants_parent_consolidated_events"]
    got = {
        row["user_id"]: [(e["event_name"], e["peer_id"], e["session_id"]) for e in row["peer_events"]]
        for row in rows
    }
    assert got == {user: [e[2:] for e in sorted(events)] for user, events in want.items()}
    assert any(len({peer for _, peer, _ in events}) > 1 for events in got.values())
    raw = sdk["calls"]["participants_parent_consolidated_events"]["response"]["data"]
    for row in raw["participants"]:
        times = [e["created_at"] for e in row["peer_events"]]
        assert times == sorted(times), row["user_id"]


# --------------------------------------------------------------------------
# the live session
# --------------------------------------------------------------------------


def test_live_session_is_live(sdk: dict[str, Any], sdk_server: Any) -> None:
    ids = sdk_server.ids
    live = sdk["facts"]["session"]["details_live"]
    elapsed = (datetime.now(UTC) - sdk_server.started).total_seconds() / 60
    assert live["status"] == "LIVE"
    assert live["ended_at"] is None
    assert live["live_participants"] == 1
    assert live["max_concurrent_participants"] == 2
    assert live["associated_id"] == ids["live_meeting"]
    assert live["meeting_display_name"] == ids["live_title"]
    assert live["meta"] == {"source": "sdk-conformance", "room": 1}
    assert live["breakout_room_ids"] == []
    # 9 minutes (still in, growing) + 5 minutes (left): 14 at ingest time.
    assert 14.0 <= live["minutes_consumed"] <= 14.0 + elapsed + 0.01
    listed = sdk["facts"]["sessions"]["sessions_live"]
    assert [s["status"] for s in listed] == ["LIVE"]

    people = {p["id"]: p for p in sdk["facts"]["participants"]["participants_live"]}
    assert list(people) == [ids["live_peer"], ids["left_peer"]]  # joinedAt ASC
    stays, gone = people[ids["live_peer"]], people[ids["left_peer"]]
    assert stays["left_at"] is None
    assert 9.0 <= stays["duration"] <= 9.0 + elapsed + 0.01
    assert gone["duration"] == 5.0
    assert gone["left_at"] is not None
    assert [e["event_name"] for e in stays["peer_events"]] == ["PEER_CREATED", "PEER_JOINING"]
    assert [e["event_name"] for e in gone["peer_events"]] == [
        "PEER_CREATED",
        "PEER_JOINING",
        "PEER_LEAVING",
    ]
    assert {e["preset_view_type"] for e in stays["peer_events"]} == {"GROUP_CALL"}
    searched = sdk["facts"]["participants"]["participants_live_search"]
    assert ids_of(searched) == [ids["live_peer"]]  # display name, case-insensitive


# --------------------------------------------------------------------------
# GET /sessions/{session_id}/participants/{participant_id}
# --------------------------------------------------------------------------


def test_participant_details(sdk: dict[str, Any], sdk_server: Any) -> None:
    ids = sdk_server.ids
    want = sdk_server.expected["sessions"][ids["ended_session"]]["participants_joinedAt_asc"][0]
    details = sdk["facts"]["participant"]
    assert participant_rows([details["participant_ended"]]) == [want]
    assert details["participant_ended"]["peer_events"] is None
    assert [e["event_name"] for e in details["participant_ended_events"]["peer_events"]] == [
        "PEER_CREATED",
        "PEER_JOINING",
        "PEER_LEAVING",
    ]

    live = details["participant_live"]
    assert live["id"] == ids["live_peer"] and live["left_at"] is None
    assert live["display_name"] == "Stella Stays"
    assert live["custom_participant_id"] == "cpi-stays"
    stats = live["peer_stats"]
    device = stats["device_info"]
    assert (
        device["browser"],
        device["cpus"],
        device["memory"],
        device["os"],
        device["os_version"],
        device["is_mobile"],
        device["sdk_name"],
        device["user_agent"],
    ) == ("Chrome", 8, 16, "Mac OS X", "10.15.7", False, "web-core", ids["live_user_agent"])
    assert stats["ip_information"]["ipv4"] == "8.8.8.8"
    assert stats["ip_information"]["country"] == "US"
    precall = stats["precall_network_information"]
    assert precall["throughtput"] == 12000  # the seed's spelling
    assert (precall["rtt"], precall["jitter"], precall["turn_connectivity"]) == (40.25, 2.5, True)
    assert [e["type"] for e in stats["events"]] == [
        "audio_on",
        "audio_devices_updated",
        "audio_device_changed",
        "network_quality",
    ]
    [quality] = live["quality_stats"]  # received audio: quality.md's worked example
    assert quality["peer_id"] == ids["live_peer"]
    assert [a.get("quality") for a in quality["audio_stats"]] == [1.0, 0.64, 0.07, None, 1.0]
    assert "quality" not in quality["audio_stats"][3]  # not scored: left out, not null
    assert quality["average_quality"] == 0.6775
    assert quality["video_stats"] == []  # the camera is sent, not received
    assert [e["event_name"] for e in details["participant_live_events"]["peer_events"]] == [
        "PEER_CREATED",
        "PEER_JOINING",
    ]
    assert details["participant_left"]["duration"] == 5.0
    assert details["participant_left"]["peer_stats"] == {"events": []}  # no metadata: unknown


def test_participant_details_filters_of_the_older_generations(
    sdk: dict[str, Any], generation: str
) -> None:
    details = sdk["facts"]["participant"]
    if generation not in NESTED_DETAILS:
        assert "participant_live_device_info" not in details  # 5.3+ and 7.x have no `filters`
        return
    device_only = details["participant_live_device_info"]
    assert set(device_only["peer_stats"]) == {"device_info"}  # config, status: never known
    assert device_only["peer_stats"]["device_info"]["browser"] == "Chrome"
    assert device_only["quality_stats"] is None
    quality_only = details["participant_live_quality_stats"]
    assert quality_only["peer_stats"] is None
    assert quality_only["quality_stats"] == details["participant_live"]["quality_stats"]
    events_only = details["participant_live_events_filter"]
    assert set(events_only["peer_stats"]) == {"events"}
    assert events_only["peer_events"] is not None


# --------------------------------------------------------------------------
# GET /sessions/peer-report/{peer_id}
# --------------------------------------------------------------------------

#: api.md: where the seed's generated types say integer for a quantity that is fractional
#: by nature, we serve the true number; these, and only these, fail 5.0.0's strict parse.
SEED_INTEGER_FRACTIONS = {
    "mos_quality",
    "jitter",
    "5_or_greater_event_fraction",
    "10_or_greater_event_fraction",
    "25_or_greater_event_fraction",
    "50_or_greater_event_fraction",
    "fractional_loss",
    "average_quality",
}
SEED_INTEGER_SUMMARIES = {"packet_loss", "quality_mos"}  # their avg/p50/p75/p90


def allowed_seed_failure(error: dict[str, Any]) -> bool:
    *parents, field = error["loc"].split(".")
    if error["type"] != "int_from_float":
        return False
    if field in SEED_INTEGER_FRACTIONS:
        return True
    return field in {"avg", "p50", "p75", "p90"} and parents[-1] in SEED_INTEGER_SUMMARIES


def test_peer_report_parses_strictly_but_for_the_seeds_integer_fractions(
    python_sdk: dict[str, Any], python_generation: str
) -> None:
    """The TypeScript generations type these as `number`: their reports are held
    against the .d.ts with every other answer (test_every_call_parses_strictly)."""
    validation = python_sdk["report_validation"]
    assert {"report_live", "report_left", "report_ended"} <= set(validation)
    if python_generation == "current":
        assert validation == {name: [] for name in validation}
        return
    wrong = [e for errors in validation.values() for e in errors if not allowed_seed_failure(e)]
    assert wrong == []
    # the live peer's scores are fractional: 5.0.0 cannot parse that report strictly
    assert {e["loc"].split(".")[-1] for e in validation["report_live"]} >= {
        "mos_quality", "avg", "p50", "average_quality"}
    assert validation["report_ended"] == []  # no telemetry, nothing fractional


#: What the scenario never tells about its peer still in the call (conftest.live_events and
#: live_stats), by reason. A field a generation declares is in its peer report unless it is
#: here: we leave out what we do not know, and only that.
LIVE_PEER_UNKNOWN = {
    "left_at",  # still in the call
    # typed a string by 5.0.0 and 6.x, a boolean by 5.3+ and 7.x: never served (api.md)
    "peer_report.metadata.browser_metadata.webgl_support",
    # not in its peer.metadata: no SDK type, no native encoders
    "peer_report.metadata.sdk_type",
    "peer_report.metadata.native_metadata",
    "peer_report.metadata.pc_metadata[].sdp",  # events carry no SDP
    # the candidate pair it sent names no candidate ids, URLs, related address or network
    # type, and counts only what was sent
    *(
        f"peer_report.metadata.candidate_pairs.producing_transport[].{name}"
        for name in (
            "local_candidate_id", "remote_candidate_id", "local_candidate_url",
            "remote_candidate_url", "local_candidate_related_address",
            "local_candidate_related_port", "local_candidate_network_type",
            "remote_candidate_protocol", "available_incoming_bitrate", "bytes_received",
            "packets_received", "bytes_discarded_on_send", "packets_discarded_on_send",
            "last_packet_sent_timestamp", "last_packet_received_timestamp",
        )
    ),
    # without RTK_GEOIP_MMDB the offline data has the country and network owner only;
    # no database has an AS's domain, route or type
    *(
        f"peer_report.metadata.ip_information.{name}"
        for name in ("city", "region", "timezone", "asn.asn", "asn.domain", "asn.route", "asn.type")
    ),
    *(
        f"peer_stats.ip_information.{name}"
        for name in ("city", "region", "timezone", "asn", "ip_location")
    ),
    # of its peer events only network_quality has connection_info: r_t_t, jitter, type
    "peer_stats.events[].metadata.connection_info",
    *(
        f"peer_stats.events[].metadata.connection_info.{name}"
        for name in ("backend_r_t_t", "connectivity", "fractional_loss", "ip_details",
                     "location", "throughput", "turn_connectivity")
    ),
    # the audio it receives is quality.md's worked example: packets, loss, jitter and
    # concealment, no bytes, ids or jitter buffer; one interval is not scored
    *(
        f"peer_report.quality.audio_consumer[].{name}"
        for name in ("bytes_received", "jitter_buffer_delay", "jitter_buffer_emitted_count",
                     "peer_id", "producer_id", "mos_quality")
    ),
    "peer_report.quality.audio_consumer_cumulative.jitter_buffer_delay",
    "quality_stats.audio_bandwidth",  # no bytes received: no bitrate
    # it receives no video
    *(
        f"quality_stats.{name}"
        for name in ("video_bandwidth", "total_video_packets", "total_video_packets_lost",
                     "first_video_packet_received", "last_video_packet_received")
    ),
}
#: Kinds and directions the live peer sent no samples of: their summaries are ``{}``.
LIVE_PEER_SILENT = ("video_consumer", "screenshare_audio", "screenshare_video")
#: A peer that sent no telemetry: nothing of its device, network or quality is known.
SILENT_PEER_UNKNOWN_PREFIXES = (
    "peer_report.metadata.",
    "peer_report.quality.",
    "peer_stats.device_info",
    "peer_stats.ip_information",
    "peer_stats.precall_network_information",
    "quality_stats.",
)
#: ``filters`` of each filtered report call: the sections it names (the rest are left out).
REPORT_FILTERS = {
    "report_live_quality": "quality_stats",
    "report_live_device_info": "device_info",
    "report_live_ip_information": "ip_information",
    "report_live_precall": "precall_network_information",
    "report_live_events_filter": "events",
}
STATS_SECTIONS = ("device_info", "ip_information", "precall_network_information", "events")


def unknown_in_scenario(call: str, path: str) -> bool:
    """Whether the report ``call`` may leave out ``path`` (prefix ``$.data.participant.``
    stripped, list indices as ``[]``): the scenario never told it, or it was not asked."""
    if path == "peer_events":
        return call != "report_live_events"  # only when asked for, as everywhere
    named = REPORT_FILTERS.get(call)
    if named is not None:
        left_out = {f"peer_stats.{s}" for s in STATS_SECTIONS if s != named}
        left_out |= {"peer_stats"} if named == "quality_stats" else {
            "peer_report.quality", "quality_stats"}
        if path in left_out:
            return True
    if call in ("report_left", "report_ended"):  # no metadata, no stats
        return path.startswith(SILENT_PEER_UNKNOWN_PREFIXES)
    silent = tuple(f"peer_report.quality.{kind}" for kind in LIVE_PEER_SILENT)
    return path in LIVE_PEER_UNKNOWN or path.startswith(silent)


def test_peer_report_leaves_out_only_what_is_unknown(sdk: dict[str, Any]) -> None:
    """Every field the generation declares is served, but what the scenario never told us;
    and what it never told us is absent (test_every_call_parses_strictly: never null)."""
    absent = {
        call: {
            re.sub(r"\[\d+\]", "[]", path).removeprefix("$.data.participant.")
            for path in paths
        }
        for call, paths in sdk["report_missing"].items()
    }
    assert {"report_live", "report_left", "report_ended"} <= set(absent)
    known_but_absent = {
        call: sorted(p for p in paths if not unknown_in_scenario(call, p))
        for call, paths in absent.items()
    }
    assert {call: paths for call, paths in known_but_absent.items() if paths} == {}
    # ... and what is unknown is indeed left out, not invented
    assert "left_at" in absent["report_live"] and "left_at" not in absent["report_left"]
    assert {"peer_report.metadata.device_info", "peer_report.metadata.ip_information"} <= (
        absent["report_ended"])
    assert "peer_report.metadata.device_info" not in absent["report_live"]
    if "report_live_events" in absent:  # the generations that may ask for peer events
        assert "peer_events" in absent["report_live"]
        assert "peer_events" not in absent["report_live_events"]


def test_peer_report_through_the_sdk(sdk: dict[str, Any], sdk_server: Any, generation: str) -> None:
    ids, reports = sdk_server.ids, sdk["facts"]["peer_report"]
    ended = reports["report_ended"]
    assert (ended["id"], ended["rows"]) == (ids["ended_peer"], dict.fromkeys(ended["rows"], 0))
    if generation == "seed":
        assert "report_live" not in reports  # strict 5.0.0 refuses it (test above)
        return
    live = reports["report_live"]
    assert (live["id"], live["user_id"], live["role"]) == (ids["live_peer"], "sdk-user-stays", "host")
    assert live["audio_consumer_mos_avg"] == 0.6775  # quality.md's worked example
    assert live["rows"] == {"audio_producer": 5, "audio_consumer": 5, "video_producer": 5,
                            "video_consumer": 0}
    assert (live["browser"], live["sdk_name"], live["producing_pairs"]) == ("Chrome", "web-core", 1)
    if "report_live_events" in reports:  # 5.3+ and 7.x may ask for them
        assert reports["report_live_events"]["peer_events"] == 2  # created, joining: still in
    assert reports["report_live_quality"]["rows"] == live["rows"]


def test_both_generations_received_the_same_peer_reports(runs: Callable[[str], Outcome]) -> None:
    digests = {g: runs(g).output["report_digest"] for g in PYTHON_GENERATIONS}  # type: ignore[index]
    for name in ("report_left", "report_ended"):  # not growing with the clock
        assert digests["current"][name] == digests["seed"][name]


def test_api_key_and_email_auth(sdk: dict[str, Any], sdk_server: Any) -> None:
    facts, ids = sdk["facts"], sdk_server.ids
    assert ids_of(facts["sessions"]["key_sessions"]) == [ids["live_session"]]
    assert facts["session"]["key_details_live"]["id"] == ids["live_session"]
    assert ids_of(facts["participants"]["key_participants_live"]) == [
        ids["live_peer"],
        ids["left_peer"],
    ]
    assert facts["participant"]["key_participant_live"]["id"] == ids["live_peer"]


def test_errors_raise_the_sdk_exceptions(sdk: dict[str, Any]) -> None:
    errors = sdk["errors"]
    want = {
        "not_found_session": ("NotFoundError", 404),
        "not_found_participants": ("NotFoundError", 404),
        "not_found_participant": ("NotFoundError", 404),
        "not_found_peer_report": ("NotFoundError", 404),
        "not_found_chat": ("NotFoundError", 404),
        "unauthenticated_sessions": ("AuthenticationError", 401),
        "unauthenticated_details": ("AuthenticationError", 401),
        "unauthenticated_key": ("AuthenticationError", 401),
        "unauthenticated_wrong_email": ("AuthenticationError", 401),
        "forbidden_other_account": ("PermissionDeniedError", 403),
        "bad_participants_range": ("BadRequestError", 400),
        "bad_per_page": ("BadRequestError", 400),
    }
    assert {k: (v["exception"], v["status_code"]) for k, v in errors.items()} == want
    for name in ("unauthenticated_sessions", "forbidden_other_account"):
        assert errors[name]["body"]["errors"] == [
            {"code": 10000, "message": "Authentication error"}
        ]
    for name in ("not_found_session", "bad_per_page"):
        body = errors[name]["body"]
        assert body["success"] is False and body["error"]["code"] == errors[name]["status_code"]
    assert "per_page" in errors["bad_per_page"]["body"]["error"]["message"]


# --------------------------------------------------------------------------
# the two generations read the same data
# --------------------------------------------------------------------------


def without_volatile(value: Any, live: set[str]) -> Any:
    """Drop what grows with the clock: minutes of the live session and of its peer still in."""
    if isinstance(value, list):
        return [without_volatile(v, live) for v in value]
    if not isinstance(value, dict):
        return value
    volatile = value.get("left_at") is None and any(
        value.get(k) in live for k in ("id", "session_id", "peer_id")
    )
    return {
        k: without_volatile(v, live)
        for k, v in value.items()
        if not (volatile and k in ("minutes_consumed", "duration"))
    }


def outputs_of(runs: Callable[[str], Outcome], *generations: str) -> list[dict[str, Any]]:
    found = []
    for generation in generations:
        outcome = runs(generation)
        assert outcome.output is not None and outcome.returncode == 0, outcome.describe()
        found.append(outcome.output)
    return found


#: Download links carry each run's own expiry: compared by the files they serve.
LINKS = {"chat", "transcript_CSV", "transcript_JSON", "transcript_SRT", "transcript_VTT", "summary"}
#: The files every generation fetched (5.0.0 and 6.x have no transcript format).
SHARED_DOWNLOADS = {"chat", "transcript_CSV", "summary"}


def comparable_facts(facts: dict[str, Any], live: set[str], drop: set[str]) -> Any:
    facts = json.loads(json.dumps(facts))
    for detail in facts["session"].values():
        detail.pop("shape")  # nested vs flat: test_session_details
    for name in drop:
        facts["participant"].pop(name, None)
    for detail in facts["participant"].values():
        detail.pop("typed_fields", None)  # what each Python generation declares differs
    facts.pop("peer_report")  # 5.0.0 cannot parse a scored report: compared by digest
    facts["downloads"] = {name: facts["downloads"][name] for name in SHARED_DOWNLOADS}
    return without_volatile(facts, live)


def test_python_generations_agree(runs: Callable[[str], Outcome], sdk_server: Any) -> None:
    live = {sdk_server.ids["live_session"], sdk_server.ids["live_peer"]}
    current, seed = outputs_of(runs, "current", "seed")

    only_seed = set(seed["calls"]) - set(current["calls"])
    assert only_seed == {
        "participant_live_device_info",
        "participant_live_quality_stats",
        "participant_live_events_filter",
    }
    # 5.0.0 has no transcript format parameter and parses no summary-generation response
    only_current = {"transcript_JSON", "transcript_SRT", "transcript_VTT", "summary_generate"}
    assert set(current["calls"]) - set(seed["calls"]) == only_current
    differ = {
        name: (
            without_volatile(current["calls"][name]["response"], live),
            without_volatile(seed["calls"][name]["response"], live),
        )
        for name in set(current["calls"]) - only_current - LINKS
    }
    assert [name for name, (a, b) in differ.items() if a != b] == []
    assert comparable_facts(current["facts"], live, only_seed) == comparable_facts(
        seed["facts"], live, only_seed)
    assert current["errors"] == seed["errors"]


@pytest.mark.parametrize("typescript", TS_GENERATIONS)
def test_each_typescript_generation_reads_what_its_python_twin_reads(
    runs: Callable[[str], Outcome], sdk_server: Any, typescript: str
) -> None:
    """The same calls through 7.x and 5.3+ (6.x and 5.0.0): the same answers, byte for
    byte as JSON, the same facts read, the same errors with the same bodies."""
    live = {sdk_server.ids["live_session"], sdk_server.ids["live_peer"]}
    ts, python = outputs_of(runs, typescript, TWIN[typescript])
    # the Python run keeps its peer reports apart (5.0.0 cannot parse a scored one)
    reports = {name for name in ts["calls"] if name.startswith("report_")}
    assert set(ts["calls"]) - reports == set(python["calls"])
    # the first generation's summary_generate queues the summary; the next finds it made
    differ = [
        name
        for name in set(python["calls"]) - LINKS - {"summary_generate"}
        if without_volatile(ts["calls"][name]["response"], live)
        != without_volatile(python["calls"][name]["response"], live)
    ]
    assert differ == []
    assert comparable_facts(ts["facts"], live, set()) == comparable_facts(
        python["facts"], live, set())
    assert ts["errors"] == python["errors"]
    assert ts["generation_features"] == python["generation_features"]


# --------------------------------------------------------------------------
# downloads: chat, transcript, summary (the live session's conversation)
# --------------------------------------------------------------------------


def test_download_links_parse_and_serve_the_right_files(
    sdk: dict[str, Any], generation: str
) -> None:
    import csv
    import io

    import srt
    import webvtt
    from conftest import LIVE_CHAT, LIVE_TITLE, LIVE_TRANSCRIPT

    found = sdk["facts"]["downloads"]
    assert all(f["status"] == 200 for f in found.values()), {k: f["status"] for k, f in found.items()}
    chat = list(csv.reader(io.StringIO(found["chat"]["text"], newline="")))
    assert [row[0] for row in chat[1:]] == [message_id for message_id, *_ in LIVE_CHAT]
    payloads = [row[8] for row in chat[1:]]
    assert payloads[0] == LIVE_CHAT[0][3] and payloads[2] == LIVE_CHAT[2][3]
    assert payloads[1] == "'" + LIVE_CHAT[1][3]  # a formula, neutralized
    rows = list(csv.DictReader(io.StringIO(found["transcript_CSV"]["text"], newline="")))
    assert [(int(r["Timestamp"]), r["Participant ID"], r["Transcript"]) for r in rows] == [
        (start, peer, text) for peer, start, _, text in LIVE_TRANSCRIPT
    ]
    if generation not in NESTED_DETAILS:  # 5.0.0 and 6.x have no format parameter: CSV
        cues = json.loads(found["transcript_JSON"]["text"])
        assert [c["sentence"] for c in cues] == [text for *_, text in LIVE_TRANSCRIPT]
        subtitles = list(srt.parse(found["transcript_SRT"]["text"]))
        assert [s.content.split(": ", 1)[1] for s in subtitles] == [
            text for *_, text in LIVE_TRANSCRIPT
        ]
        vtt = webvtt.from_buffer(io.StringIO(found["transcript_VTT"]["text"]))
        assert len(vtt) == len(LIVE_TRANSCRIPT)
    summary = found["summary"]["text"]
    assert LIVE_TITLE in summary and "Action Items" in summary
    assert "I will send the report to everyone by Friday." in summary
    assert sdk["errors"]["not_found_chat"]["status_code"] == 404
