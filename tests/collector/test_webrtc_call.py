"""A real WebRTC call in headless Chromium (fake camera and microphone), the JS collector
on both ends posting cross-origin with an ingest-only token, then the API's answers:
the session, both peers with the call's length, and each peer report scored from what
Chromium measured. Expected values come from the call itself (its length as the page
timed it, the machine's CPU count), and from what a clean loopback call must be: no loss,
MOS near 1."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.api.support import running_server
from tests.collector.call import CHROMIUM, page_origin, run_call
from tests.conftest import LiveServer, make_token

if not CHROMIUM.exists():
    reason = f"no Chromium at {CHROMIUM} (apt-get install -y chromium chromium-driver)"
    if os.environ.get("RTK_TEST_REQUIRE_BROWSER"):
        raise RuntimeError(reason + "; RTK_TEST_REQUIRE_BROWSER is set")
    pytest.skip(reason, allow_module_level=True)

CALL_SECONDS = 30
APP = "webrtc"


@pytest.fixture(scope="module")
def call(tmp_path_factory) -> Iterator[tuple[LiveServer, dict, int, int]]:
    """(server, what the page reported, call start and end in epoch ms as the test saw them)."""
    with page_origin() as origin:
        with running_server(
            "sqlite", tmp_path_factory.mktemp("webrtc"), ingest_cors_origins=origin
        ) as server:
            token = make_token(server.db, "acc-1", scopes=("ingest",))  # what a browser holds
            ingest = f"{server.url}/ingest/accounts/acc-1/apps/{APP}/events"
            before = int(time.time() * 1000)
            result = run_call(origin, ingest, token, "call-1", CALL_SECONDS)
            after = int(time.time() * 1000)
            server.clock.now_ms = after + 120_000  # past the grace period: the call has ended
            yield server, result, before, after


def test_the_collectors_ran_without_errors(call) -> None:
    _, result, _, _ = call
    assert result["errors"] == [], result
    assert [e for e in result["console"] if "favicon" not in e and "404" not in e] == []
    for cost in result["costs"]:
        assert cost["samples"] >= CALL_SECONDS // 7  # one every 7 s, and one at the end


def test_the_session_and_both_peers_with_the_calls_length(call) -> None:
    server, _, before, after = call
    with server.client() as http:
        base = server.api("acc-1", APP)
        (session,) = http.get(f"{base}/sessions").json()["data"]["sessions"]
        assert session["id"] == "call-1" and session["status"] == "ENDED"
        assert session["max_concurrent_participants"] == 2
        peers = http.get(f"{base}/sessions/call-1/participants").json()["data"]["participants"]
    assert sorted(p["id"] for p in peers) == ["peer-a", "peer-b"]
    assert sorted(p["user_id"] for p in peers) == ["user-peer-a", "user-peer-b"]
    for peer in peers:
        seconds = peer["duration"] * 60
        assert CALL_SECONDS - 1 <= seconds <= CALL_SECONDS + 5, peer
        joined = _ms(peer["joined_at"])
        assert before <= joined <= before + 15_000  # after the media and the negotiation
    assert session["minutes_consumed"] == pytest.approx(sum(p["duration"] for p in peers), abs=0.01)


@pytest.mark.parametrize("peer_id", ["peer-a", "peer-b"])
def test_each_peer_report_has_audio_and_video_both_ways_scored_near_one(call, peer_id) -> None:
    server, _, _, _ = call
    with server.client() as http:
        answer = http.get(f"{server.api('acc-1', APP)}/sessions/peer-report/{peer_id}")
    participant = answer.json()["data"]["participant"]
    quality = participant["peer_report"]["quality"]
    for kind in ("audio", "video"):
        for direction in ("producer", "consumer"):
            rows = quality[f"{kind}_{direction}"]
            assert len(rows) >= 3, (kind, direction)
            bitrates = [r["bitrate"] for r in rows[1:]]  # the first interval holds the ramp-up
            low, high = (8_000, 200_000) if kind == "audio" else (100_000, 5_000_000)
            assert all(low <= b <= high for b in bitrates), (kind, direction, bitrates)
            cumulative = quality[f"{kind}_{direction}_cumulative"]
            assert cumulative["quality_mos"]["avg"] >= 0.9, (kind, direction, cumulative)
            assert cumulative["packet_loss"]["avg"] < 1.0
    assert participant["peer_stats"]["device_info"]["cpus"] == os.cpu_count()
    browser = participant["peer_report"]["metadata"]["browser_metadata"]["browser"]
    assert browser in ("Chrome", "Chromium", "HeadlessChrome", "Chrome Headless")


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
