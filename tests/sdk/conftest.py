"""The real server, started the way a user starts it, loaded over HTTP, for the SDK tests.

``rtk-sessions token create`` (its token is the last line of stdout), then
``rtk-sessions serve --host 127.0.0.1 --port <free>`` as a subprocess (granian,
the default server) over a fresh SQLite file and again over a fresh PostgreSQL
schema, then ``examples/basic`` plus a
live session posted to ``/ingest/...``. The server's output goes to a log file
that is attached to the report of any failing test in this directory.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import CLI, fail_with_log, last_line_token, start_server, stop

from tests.databases import BACKENDS, fresh_database_url

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "basic"
ACCOUNT = "acc-sdk"
APP = "app-sdk"
OTHER_ACCOUNT = "acc-sdk-other"
EMAIL = "sdk-tests@example.com"
START_TIMEOUT_S = 60

LIVE_SESSION = "sdk-live-session-0001"
LIVE_MEETING = "sdk-live-meeting-0001"
LIVE_TITLE = "SDK conformance: live room"
LIVE_PEER = "sdk-peer-stays-0001"  # still in the call
LEFT_PEER = "sdk-peer-left-0002"  # joined and left, 5 minutes
LIVE_USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.6099.144 Safari/537.36"
)

_server_log: Path | None = None  # for the failure report hook below


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def live_events(now: datetime) -> list[dict[str, Any]]:
    """A live session (one peer still in, one gone) with metadata and peer events."""
    t = lambda minutes: _iso(now - timedelta(minutes=minutes))  # noqa: E731
    return [
        {
            "id": "sdk-ev-meeting",
            "type": "meeting.upserted",
            "ts": t(30),
            "meeting_id": LIVE_MEETING,
            "title": LIVE_TITLE,
            "session_type": "meeting",
        },
        {
            "id": "sdk-ev-start",
            "type": "session.started",
            "ts": t(10),
            "session_id": LIVE_SESSION,
            "meeting_id": LIVE_MEETING,
            "meta": {"source": "sdk-conformance", "room": 1},
        },
        {
            "id": "sdk-ev-join-1",
            "type": "peer.joined",
            "ts": t(9),
            "session_id": LIVE_SESSION,
            "meeting_id": LIVE_MEETING,
            "peer_id": LIVE_PEER,
            "user_id": "sdk-user-stays",
            "display_name": "Stella Stays",
            "custom_participant_id": "cpi-stays",
            "preset_name": "group_call_host",
            "preset_view_type": "GROUP_CALL",
            "role": "host",
            "socket_session_id": "sock-stays",
        },
        {
            "id": "sdk-ev-join-2",
            "type": "peer.joined",
            "ts": t(8),
            "session_id": LIVE_SESSION,
            "meeting_id": LIVE_MEETING,
            "peer_id": LEFT_PEER,
            "user_id": "sdk-user-left",
            "display_name": "Leo Left",
            "custom_participant_id": "cpi-left",
            "preset_name": "group_call_participant",
            "preset_view_type": "GROUP_CALL",
            "role": "participant",
            "socket_session_id": "sock-left",
        },
        {
            "id": "sdk-ev-left-2",
            "type": "peer.left",
            "ts": t(3),
            "session_id": LIVE_SESSION,
            "peer_id": LEFT_PEER,
        },
        {
            "id": "sdk-ev-meta-1",
            "type": "peer.metadata",
            "ts": t(9),
            "session_id": LIVE_SESSION,
            "peer_id": LIVE_PEER,
            "user_agent": LIVE_USER_AGENT,
            "device_info": {
                "cpus": 8,
                "memory": 16,
                "is_mobile": False,
                "os": "Mac OS X",
                "os_version": "10.15.7",
            },
            "sdk_name": "web-core",
            "sdk_version": "1.35.0",
            "ip": "8.8.8.8",
            "webgl_support": "webgl2",
            "room_view_type": "GROUP_CALL",
            "precall_network_information": {
                "backend_rtt": 23.5,
                "effective_networktype": "4g",
                "fractional_loss": 0.01,
                "jitter": 2.5,
                "rtt": 40.25,
                "throughput": 12000,
                "reflexive_connectivity": True,
                "relay_connectivity": False,
                "turn_connectivity": True,
            },
        },
        {
            "id": "sdk-ev-peer-event-1",
            "type": "peer.event",
            "ts": t(8.5),
            "session_id": LIVE_SESSION,
            "peer_id": LIVE_PEER,
            "name": "audio_on",
            "metadata": {"device": "MacBook Pro Microphone"},
        },
        {
            "id": "sdk-ev-peer-event-2",
            "type": "peer.event",
            "ts": t(7),
            "session_id": LIVE_SESSION,
            "peer_id": LIVE_PEER,
            "name": "network_quality",
            "metadata": {
                "connection_info": {"r_t_t": 41.5, "jitter": 3, "effective_network_type": "4g"}
            },
        },
    ]


#: quality.md §5's worked example: s after the first sample, received, lost, jitter, concealment
WORKED_EXAMPLE = [
    (0, 0, 0, 0.010, 0),
    (7, 350, 0, 0.012, 0),
    (14, 690, 10, 0.025, 1),
    (21, 1010, 40, 0.040, 4),
    (28, 1010, 40, 0.040, 4),
    (35, 1360, 40, 0.015, 4),
]


LIVE_CHAT = [  # (message id, peer, minutes before now, payload)
    ("sdk-chat-1", LIVE_PEER, 8.5, "Hello from the SDK test, ünïcødé ✨"),
    ("sdk-chat-2", LEFT_PEER, 7.5, "=1+2 (a formula a spreadsheet must not run)"),
    ("sdk-chat-3", LIVE_PEER, 6.5, "two\nlines, \"quoted\", with commas"),
]
LIVE_TRANSCRIPT = [  # (peer, ms from the session start, end ms, text)
    (LIVE_PEER, 61_000, 64_000, "Welcome to the conformance call, let's look at the numbers."),
    (LEFT_PEER, 63_000, 66_500, "I will send the report to everyone by Friday."),
    (LIVE_PEER, 70_000, 74_000, "We decided to keep the current release date."),
    (LEFT_PEER, 80_000, 83_000, "Thanks, that settles it for today."),
]


def live_conversation(now: datetime) -> list[dict[str, Any]]:
    """Chat and transcript of the live session (the downloads' data)."""
    start = now - timedelta(minutes=10)  # the live session's session.started
    events: list[dict[str, Any]] = [
        {
            "id": message_id,
            "type": "chat.message",
            "ts": _iso(now - timedelta(minutes=minutes)),
            "session_id": LIVE_SESSION,
            "message_id": message_id,
            "peer_id": peer,
            "display_name": "Stella Stays" if peer == LIVE_PEER else "Leo Left",
            "payload_type": "TEXT_MESSAGE",
            "payload": payload,
        }
        for message_id, peer, minutes, payload in LIVE_CHAT
    ]
    events += [
        {
            "id": f"sdk-transcript-{i}",
            "type": "transcript.segment",
            "ts": _iso(start + timedelta(milliseconds=end_ms)),
            "session_id": LIVE_SESSION,
            "peer_id": peer,
            "start_ms": start_ms,
            "end_ms": end_ms,
            "text": text,
            "language": "en",
        }
        for i, (peer, start_ms, end_ms, text) in enumerate(LIVE_TRANSCRIPT)
    ]
    return events


def live_stats(now: datetime) -> list[dict[str, Any]]:
    """Raw stats of the peer still in: the worked example as received audio, sent audio,
    and a camera whose encoder is limited by bandwidth, with the transport's candidate pair."""
    first = now - timedelta(minutes=8)
    t = lambda seconds: _iso(first + timedelta(seconds=seconds))  # noqa: E731
    received = [
        {"ts": t(s), "kind": "audio", "direction": "consumer", "ssrc": 7, "mid": "1",
         "track_id": "consumer-7", "packets_received": r, "packets_lost": lost,
         "jitter": jitter, "concealment_events": c}
        for s, r, lost, jitter, c in WORKED_EXAMPLE
    ]
    sent = [
        {"ts": t(s), "kind": "audio", "direction": "producer", "ssrc": 9, "mid": "0",
         "track_id": "producer-9", "packets_sent": 50 * s, "bytes_sent": 4000 * s,
         "packets_lost": s // 7, "jitter": 0.004, "round_trip_time": 0.041}
        for s, *_ in WORKED_EXAMPLE
    ]
    camera = [
        {"ts": t(s), "kind": "video", "direction": "producer", "ssrc": 11, "mid": "2",
         "track_id": "producer-11", "packets_sent": 120 * s, "bytes_sent": 125_000 * s,
         "packets_lost": s // 7, "jitter": 0.006, "round_trip_time": 0.041,
         "frames_encoded": 24 * s, "key_frames_encoded": s // 3, "frame_width": 640 if s < 20 else 320,
         "frame_height": 360 if s < 20 else 180, "frames_per_second": 24.0,
         "pli_count": s // 10, "fir_count": 0,
         "quality_limitation_reason": "none" if s < 20 else "bandwidth",
         "quality_limitation_durations": {"cpu": 0.0, "bandwidth": max(0, s - 14), "none": min(s, 14),
                                          "other": 0.0},
         "quality_limitation_resolution_changes": 0 if s < 20 else 1}
        for s, *_ in WORKED_EXAMPLE
    ]
    sent[0]["candidate_pair"] = {
        "id": "CPabc", "nominated": True, "local_candidate_type": "srflx",
        "local_candidate_protocol": "udp", "local_candidate_address": "203.0.113.9",
        "local_candidate_port": 51000, "remote_candidate_type": "host",
        "remote_candidate_address": "198.51.100.20", "remote_candidate_port": 443,
        "available_outgoing_bitrate": 2_400_000, "current_round_trip_time": 0.041,
        "total_round_trip_time": 1.23, "bytes_sent": 120_000, "packets_sent": 1000,
    }
    samples = received + sent + camera
    return [
        {"id": f"sdk-ev-stats-{i}", "type": "peer.stats", "ts": t(40 + i),
         "session_id": LIVE_SESSION, "peer_id": LIVE_PEER, "samples": samples[i::2]}
        for i in range(2)
    ] + [
        {"id": "sdk-ev-devices", "type": "peer.event", "ts": t(50), "session_id": LIVE_SESSION,
         "peer_id": LIVE_PEER, "name": "audio_devices_updated",
         "metadata": {"added": [{"device_id": "mic-usb", "kind": "audioinput", "label": "USB mic"}],
                      "removed": []}},
        {"id": "sdk-ev-device", "type": "peer.event", "ts": t(52), "session_id": LIVE_SESSION,
         "peer_id": LIVE_PEER, "name": "audio_device_changed",
         "metadata": {"device_id": "mic-usb", "kind": "audioinput", "label": "USB mic"}},
    ]


def plan(expected: dict[str, Any]) -> dict[str, Any]:
    """The ids and values sdk_calls.py uses, chosen from examples/basic/expected.json."""
    sessions = expected["sessions"]
    ended = "751cfcb4-75d4-78b3-3430-89c11a0f4d02"  # 13 peers, two users rejoin
    parent = expected["consolidated"]["session_id"]  # has two breakout rooms
    rooms = sorted(s for s, v in sessions.items() if v["parent_session_id"] == parent)
    peers = sessions[ended]["participants_joinedAt_asc"]
    return {
        "email": EMAIL,
        "other_account": OTHER_ACCOUNT,
        "ended_session": ended,
        "ended_peer": peers[0]["id"],
        "search_user_id": peers[4]["user_id"],  # this user rejoined: two peers
        "parent_session": parent,
        "breakout_room": rooms[0],
        "live_session": LIVE_SESSION,
        "live_meeting": LIVE_MEETING,
        "live_title": LIVE_TITLE,
        "live_peer": LIVE_PEER,
        "left_peer": LEFT_PEER,
        "live_user_agent": LIVE_USER_AGENT,
        "search": "weekly SYNC",  # case-insensitive substring of a title
        "combined_search": "REVIEW",  # with status, participants, times and sort
        "combined_participants": "4:7",
        "combined_start_time": "2025-12-28T00:00:00Z",
        "combined_end_time": "2026-01-03T21:28:17Z",  # a session's start: inclusive
        "associated_id": sessions[ended]["associated_id"],
        "start_time": "2026-01-01T00:00:00+00:00",
        "end_time": "2026-01-05T12:34:44+00:00",  # exactly one session's start: inclusive
        "download_session": LIVE_SESSION,  # has chat and a transcript
        "no_chat_session": ended,  # examples/basic has no chat or transcript
    }


@dataclass(frozen=True)
class SdkServer:
    base_url: str
    token: str
    account: str
    app: str
    ids: dict[str, Any]
    ids_file: Path
    log: Path
    expected: dict[str, Any]
    started: datetime  # "now" the live session's times are relative to


@pytest.fixture(scope="session", params=BACKENDS)
def sdk_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SdkServer]:
    """The server over a new SQLite file, then over a new PostgreSQL schema."""
    work = tmp_path_factory.mktemp(f"sdk-server-{request.param}")
    with fresh_database_url(request.param, work) as url:
        yield from _sdk_server(work, url)


def _sdk_server(work: Path, database_url: str) -> Iterator[SdkServer]:
    global _server_log
    log = work / "server.log"
    _server_log = log
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTK_")}
    env["RTK_DATABASE_URL"] = database_url

    created = subprocess.run(
        [
            str(CLI),
            "token",
            "create",
            "--account",
            ACCOUNT,
            "--scope",
            "read",
            "--scope",
            "ingest",
            "--email",
            EMAIL,
            "--name",
            "sdk-conformance",
        ],
        env=env,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    token = last_line_token(created, "rtk-sessions token create")

    proc, base_url = start_server(env, work, log)
    try:
        now = datetime.now(UTC)
        headers = {"Authorization": f"Bearer {token}"}
        ingest_url = f"{base_url}/ingest/accounts/{ACCOUNT}/apps/{APP}/events"
        with httpx.Client(headers=headers, timeout=120) as http:
            body = (EXAMPLE / "events.ndjson").read_bytes()
            basic = http.post(
                ingest_url, content=body, headers={"Content-Type": "application/x-ndjson"}
            )
            live = live_events(now) + live_stats(now) + live_conversation(now)
            extra = http.post(ingest_url, json=live)
        for name, response, count in (
            ("examples/basic", basic, body.count(b"\n")),
            ("live events", extra, len(live)),
        ):
            if response.status_code != 200:
                fail_with_log(f"ingest of {name}: {response.status_code} {response.text}", log)
            report = response.json()["data"]
            if report["rejected"] or report["accepted"] != count:
                fail_with_log(f"ingest of {name} (expected {count} accepted): {report}", log)

        expected = json.loads((EXAMPLE / "expected.json").read_text(encoding="utf-8"))
        ids = plan(expected)
        ids_file = work / "ids.json"
        ids_file.write_text(json.dumps(ids, indent=1), encoding="utf-8")
        yield SdkServer(
            base_url=base_url,
            token=token,
            account=ACCOUNT,
            app=APP,
            ids=ids,
            ids_file=ids_file,
            log=log,
            expected=expected,
            started=now,
        )
    finally:
        stop(proc)


def _server_logs(item: pytest.Item) -> list[Path]:
    """The logs of the servers a test uses: any fixture value with a ``log`` path
    (``sdk_server`` here, the demo's server in test_sdk_demo.py)."""
    logs: list[Path] = []
    for value in getattr(item, "funcargs", {}).values():
        log = getattr(value, "log", None)
        if isinstance(log, Path) and log not in logs:
            logs.append(log)
    if not logs and _server_log is not None and "sdk_server" in getattr(item, "fixturenames", ()):
        logs.append(_server_log)  # failed while setting sdk_server up
    return logs


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the tail of the server's log to a failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for log in _server_logs(item):
        if log.exists():
            text = log.read_text(errors="replace")
            report.sections.append((f"rtk-sessions serve log (tail): {log}", text[-8000:]))
