"""GET /sessions/{id}/participants/{participant_id}: participant fields, peer_stats built
from ingested peer.metadata / peer.event, ``filters`` subsets, 404s."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, assert_bad_request, assert_not_found
from tests.conftest import LiveServer
from tests.factories import MIN, SEC, T0, event, peer_event, peer_metadata, started, visit

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
PRECALL = {"backend_rtt": 41.5, "effective_networktype": "4g", "fractional_loss": 0.01,
           "jitter": 3.2, "rtt": 80, "throughput": 2500.5, "reflexive_connectivity": True,
           "relay_connectivity": False, "turn_connectivity": True}
ALL_SECTIONS = ("device_info", "ip_information", "precall_network_information", "events")


def people_events() -> list[dict]:
    return [
        started("s1", "m1", T0), started("s2", "m1", T0 + 60 * MIN),
        *visit("s1", "ann", T0 + MIN, T0 + 11 * MIN, user_id="u-ann"),
        *visit("s1", "bare", T0 + 2 * MIN, T0 + 3 * MIN),
        *visit("s2", "other", T0 + 61 * MIN, T0 + 62 * MIN),
        # the metadata arrives in pieces and out of order; the later value wins
        peer_metadata("ann", T0 + 2 * MIN, user_agent=CHROME_UA, sdk_name="web-core",
                 sdk_version="1.0.0", ip="10.0.0.1", precall_network_information=PRECALL),
        peer_metadata("ann", T0 + MIN, device_info={"cpus": 8, "memory": 16, "is_mobile": False,
                                               "os": "Windows", "os_version": "10"},
                 sdk_version="0.9.0", webgl_support="webgl2"),
        peer_metadata("ann", T0 + 3 * MIN, ip="8.8.8.8", sdk_version="1.2.0"),
        peer_event("ann", T0 + 5 * MIN, "network_changed", {"to": "wifi"}),
        peer_event("ann", T0 + 4 * MIN, "tab_hidden"),
        peer_event("ann", T0 + 6 * MIN + 500, "audio_device_changed", {"device": "USB mic"}),
        # received audio: 7 s with 3.5 % loss, then 7 s without
        event("peer.stats", T0 + 3 * MIN, peer_id="ann", samples=[
            {"ts": iso_ms(T0 + 2 * MIN + 7 * SEC * i), "kind": "audio", "direction": "consumer",
             "ssrc": 5, "packets_received": received, "packets_lost": lost, "jitter": 0.01,
             "concealment_events": 0, "bytes_received": 7000 * i}
            for i, (received, lost) in enumerate([(0, 0), (386, 14), (786, 14)])]),
    ]


@pytest.fixture(scope="module")
def people(server: LiveServer) -> Iterator[AppUnderTest]:
    with server.client() as http:
        loaded = AppUnderTest(server, "app-people", http)
        loaded.ingest(people_events()[::-1])
        yield loaded


@pytest.fixture(autouse=True)
def _later_clock(server: LiveServer) -> None:
    server.clock.now_ms = T0 + 24 * 60 * MIN


def detail(app: AppUnderTest, peer_id: str = "ann", session_id: str = "s1", **params) -> dict:
    return app.ok(f"/sessions/{session_id}/participants/{peer_id}", **params)["data"]["participant"]


def test_participant_fields_match_the_list(people: AppUnderTest) -> None:
    got = detail(people)
    listed = {p["id"]: p for p in people.participants("s1")}["ann"]
    assert {k: got[k] for k in listed} == listed
    assert (got["joined_at"], got["left_at"], got["duration"]) == (
        iso_ms(T0 + MIN), iso_ms(T0 + 11 * MIN), 10.0)


def test_peer_stats_from_metadata_and_events(people: AppUnderTest) -> None:
    got = detail(people)
    stats = got["peer_stats"]
    # config and status are never known: left out, never null
    assert set(stats) == set(ALL_SECTIONS)
    assert stats["device_info"] == {
        "browser": "Chrome", "browser_version": "120.0.0.0", "cpus": 8, "engine": "Blink",
        "is_mobile": False, "memory": 16, "os": "Windows", "os_version": "10",
        "sdk_name": "web-core", "sdk_version": "1.2.0", "user_agent": CHROME_UA,
        "webgl_support": "webgl2"}
    # city, ip_location, portal, region and timezone are unknown: left out, never invented
    assert stats["ip_information"] == {
        "ipv4": "8.8.8.8", "ip": "8.8.8.8", "country": "US", "org": "GOOGLE"}
    assert stats["precall_network_information"] == {
        "backend_rtt": 41.5, "effective_networktype": "4g", "fractional_loss": 0.01,
        "jitter": 3.2, "reflexive_connectivity": True, "relay_connectivity": False, "rtt": 80,
        "throughtput": 2500.5, "turn_connectivity": True}
    assert stats["events"] == [
        {"timestamp": iso_ms(T0 + 4 * MIN), "type": "tab_hidden", "metadata": {}},
        {"timestamp": iso_ms(T0 + 5 * MIN), "type": "network_changed", "metadata": {"to": "wifi"}},
        {"timestamp": iso_ms(T0 + 6 * MIN + 500), "type": "audio_device_changed",
         "metadata": {"device": "USB mic"}},
    ]
    # 14 of 400 lost = 3.5 % → Q = 0.2 + 0.5 · 0.65 + 0.3 = 0.825 → 0.83 (half up)
    [quality] = got["quality_stats"]
    assert quality["peer_id"] == "ann"
    assert (quality["start"], quality["end"]) == (iso_ms(T0 + 2 * MIN), iso_ms(T0 + 2 * MIN + 14 * SEC))
    assert [(a["quality"], a["packets_lost"]) for a in quality["audio_stats"]] == [(0.83, 14), (1.0, 0)]
    assert quality["audio_packet_loss"] == round(100 * 14 / 800, 4)
    assert quality["audio_bandwidth"] == 8000  # 8 · 7000 B / 7 s
    # no video received: no video loss or bandwidth (left out)
    assert quality["video_stats"] == []
    assert "video_packet_loss" not in quality and "video_bandwidth" not in quality


def test_a_peer_without_stats_has_no_quality_entry(people: AppUnderTest) -> None:
    assert detail(people, "bare")["quality_stats"] == []


def test_peer_without_metadata_leaves_its_sections_out(people: AppUnderTest) -> None:
    stats = detail(people, "bare")["peer_stats"]
    assert stats == {"events": []}


@pytest.mark.parametrize("filters, sections, quality", [
    ("device_info", {"device_info"}, False),
    ("ip_information", {"ip_information"}, False),
    ("precall_network_information", {"precall_network_information"}, False),
    ("events", {"events"}, False),
    ("events,ip_information", {"events", "ip_information"}, False),
    (" device_info , quality_stats ", {"device_info"}, True),
    ("quality_stats", set(), True),
    (",".join(ALL_SECTIONS), set(ALL_SECTIONS), False),
    ("", set(ALL_SECTIONS), True),  # no filter = everything
])
def test_filters_name_the_sections_served(people: AppUnderTest, filters, sections, quality) -> None:
    full = detail(people)["peer_stats"]
    got = detail(people, filters=filters)
    stats = got.get("peer_stats", {})
    assert set(stats) == sections  # every section of ann is known; config/status never are
    assert {k: stats[k] for k in sections} == {k: full[k] for k in sections}
    assert ("quality_stats" in got) is quality
    if quality:
        assert got["quality_stats"] == detail(people)["quality_stats"]


@pytest.mark.parametrize("filters", ["device", "events,bogus", "quality", "peer_stats"])
def test_unknown_filter_is_400_listing_the_allowed(people: AppUnderTest, filters) -> None:
    message = assert_bad_request(people.get("/sessions/s1/participants/ann", filters=filters),
                                 "filters", "device_info", "ip_information",
                                 "precall_network_information", "events", "quality_stats")
    assert filters.split(",")[-1] in message


def test_include_peer_events_on_details(people: AppUnderTest) -> None:
    assert "peer_events" not in detail(people)
    events = detail(people, include_peer_events="true")["peer_events"]
    assert [(e["event_name"], e["minutes_consumed"]) for e in events] == [
        ("PEER_CREATED", 0.0), ("PEER_JOINING", 0.0), ("PEER_LEAVING", 10.0)]
    listed = {p["id"]: p for p in people.participants("s1", include_peer_events="true")}
    assert listed["ann"]["peer_events"] == events


@pytest.mark.parametrize("session_id, peer_id", [
    ("s1", "nobody"),  # unknown participant
    ("s1", "other"),  # a participant of another session
    ("s2", "ann"),
    ("s-unknown", "ann"),  # unknown session
])
def test_not_found(people: AppUnderTest, session_id, peer_id) -> None:
    response = people.get(f"/sessions/{session_id}/participants/{peer_id}")
    assert assert_not_found(response)


def test_peer_ids_of_another_app_never_mix(people: AppUnderTest, app: AppUnderTest) -> None:
    # same session and peer ids in another app, with its own metadata
    app.ingest([started("s1", "m1", T0), *visit("s1", "ann", T0, T0 + MIN),
                peer_metadata("ann", T0 + SEC, ip="1.1.1.1", sdk_name="other-sdk")])
    mine = detail(app)["peer_stats"]
    assert mine["ip_information"]["ip"] == "1.1.1.1"
    assert mine["device_info"]["sdk_name"] == "other-sdk" and mine["events"] == []
    theirs = detail(people)["peer_stats"]
    assert theirs["ip_information"]["ip"] == "8.8.8.8"
    assert theirs["device_info"]["sdk_name"] == "web-core"


def test_metadata_before_the_join_is_used(app: AppUnderTest) -> None:
    app.ingest([peer_metadata("late", T0, ip="1.1.1.1", device_info={"os": "Linux"})])
    assert_not_found(app.get("/sessions/s1/participants/late"))
    app.ingest([started("s1", "m1", T0), *visit("s1", "late", T0 + MIN, None)])
    app.clock.now_ms = T0 + 3 * MIN
    got = detail(app, "late")
    assert "left_at" not in got and got["duration"] == 2.0  # still in the call
    assert got["peer_stats"]["device_info"]["os"] == "Linux"
    assert got["peer_stats"]["ip_information"]["country"] == "AU"
