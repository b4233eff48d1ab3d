"""GET /sessions/peer-report/{peer_id}: the peer's participant fields, metadata and call quality.

One call's events (a session, two peers, metadata, device and network events,
raw stats with a candidate pair) are ingested shuffled and in several batches.
Quality numbers are quality.md's worked example (§5) and hand computations.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel

from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, assert_bad_request, assert_not_found
from tests.conftest import LiveServer
from tests.factories import MIN, SEC, T0, event, peer_event, peer_metadata, started, visit

CHROME_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
             "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36")
JOIN = T0 + MIN
WORKED = [  # quality.md §5: ts (s after JOIN), packets_received, packets_lost, jitter, concealment
    (0, 0, 0, 0.010, 0), (7, 350, 0, 0.012, 0), (14, 690, 10, 0.025, 1),
    (21, 1010, 40, 0.040, 4), (28, 1010, 40, 0.040, 4), (35, 1360, 40, 0.015, 4),
]
PAIR = {"id": "CP1", "nominated": True, "local_candidate_type": "srflx",
        "local_candidate_protocol": "udp", "local_candidate_address": "203.0.113.7",
        "local_candidate_port": 50123, "remote_candidate_type": "host",
        "remote_candidate_address": "198.51.100.2", "remote_candidate_port": 443,
        "available_outgoing_bitrate": 2_500_000.7, "current_round_trip_time": 0.041,
        "bytes_sent": 10_000, "packets_sent": 90}


def at(seconds: float) -> str:
    return iso_ms(JOIN + int(seconds * SEC))  # type: ignore[return-value]


def stats_samples() -> list[dict[str, Any]]:
    consumer = [{"ts": at(t), "kind": "audio", "direction": "consumer", "ssrc": 7, "mid": "1",
                 "track_id": "consumer-a", "producer_id": "producer-x",
                 "producer_peer_id": "bob", "packets_received": r, "packets_lost": lost,
                 "jitter": j, "concealment_events": c}
                for t, r, lost, j, c in WORKED]
    producer = [{"ts": at(t), "kind": "audio", "direction": "producer", "ssrc": 9, "mid": "0",
                 "track_id": "producer-a", "packets_sent": 50 * t, "bytes_sent": 4000 * t,
                 "packets_lost": lost, "jitter": 0.005, "round_trip_time": 0.05}
                for t, lost in [(0, 0), (7, 0), (14, 35)]]
    later_pair = {**PAIR, "current_round_trip_time": 0.052, "bytes_sent": 20_000}
    producer[0]["candidate_pair"] = PAIR
    producer[2]["candidate_pair"] = later_pair
    consumer[1]["candidate_pair"] = {"local_candidate_id": "L2", "remote_candidate_id": "R2",
                                     "local_candidate_type": "relay",
                                     "last_packet_received_timestamp": 1_767_225_700_123.4}
    return consumer + producer


def call_events() -> list[dict]:
    samples = stats_samples()
    return [
        started("s1", "m1", T0),
        *visit("s1", "ann", JOIN, JOIN + 30 * MIN, user_id="u-ann", role="host"),
        *visit("s1", "bob", JOIN, JOIN + 30 * MIN, user_id="u-bob"),
        peer_metadata("ann", JOIN + SEC, user_agent=CHROME_UA, sdk_name="web-core",
                      sdk_version="1.2.0", sdk_type="web", ip="8.8.8.8", room_view_type="GROUP_CALL",
                      device_info={"cpus": 8, "memory": 16, "is_mobile": False, "os": "Windows",
                                   "os_version": "10"},
                      native_metadata={"audio_encoder": "opus", "video_encoder": "VP8"},
                      precall_network_information={"effective_networktype": "4g",
                                                   "reflexive_connectivity": True,
                                                   "relay_connectivity": False,
                                                   "turn_connectivity": True, "throughput": 2500.6,
                                                   "fractional_loss": 0.01, "rtt": 40}),
        peer_metadata("ann", JOIN + 10 * MIN, precall_network_information={
            "effective_networktype": "3g", "reflexive_connectivity": False}),
        peer_event("ann", JOIN + 2 * MIN, "audio_devices_updated", {
            "added": [{"device_id": "mic-2", "kind": "audioinput", "label": "USB mic"}],
            "removed": []}),
        peer_event("ann", JOIN + 3 * MIN, "audio_device_changed",
                   {"device_id": "mic-2", "label": "USB mic"}),
        peer_event("ann", JOIN + 4 * MIN, "video_devices_updated", {
            "added": [], "removed": [{"device_id": "cam-1", "kind": "videoinput",
                                      "label": "FaceTime HD"}]}),
        peer_event("ann", JOIN + 5 * MIN, "tab_hidden",
                   {"hidden_for_ms": 4000, "nested": {"dropped": True}, "visible": False}),
        peer_event("ann", JOIN + 6 * MIN, "network_quality", {"connection_info": {
            "r_t_t": 41.5, "throughput": 1234.6, "connectivity": {"relay": True},
            "effective_network_type": 4, "vendor": "x"}}),
        # the samples arrive in three batches, the first one last
        event("peer.stats", JOIN + 40 * SEC, peer_id="ann", session_id="s1", samples=samples[6:]),
        event("peer.stats", JOIN + 20 * SEC, peer_id="ann", session_id="s1", samples=samples[3:6]),
        event("peer.stats", JOIN + 10 * SEC, peer_id="ann", session_id="s1", samples=samples[:3]),
    ]


@pytest.fixture(scope="module")
def call(server: LiveServer) -> Iterator[AppUnderTest]:
    with server.client() as http:
        loaded = AppUnderTest(server, "app-peer-report", http)
        events = call_events()
        random.Random(15).shuffle(events)
        loaded.ingest(events[:7])
        loaded.ingest(events[7:])
        yield loaded


@pytest.fixture(autouse=True)
def _later_clock(server: LiveServer) -> None:
    server.clock.now_ms = T0 + 24 * 60 * MIN


def peer_report(app: AppUnderTest, peer_id: str = "ann", **params: Any) -> dict:
    return app.ok(f"/sessions/peer-report/{peer_id}", **params)["data"]["participant"]


def test_participant_fields(call: AppUnderTest) -> None:
    got = peer_report(call)
    listed = {p["id"]: p for p in call.participants("s1")}["ann"]
    assert {k: got[k] for k in listed} == listed
    assert (got["role"], got["user_id"], got["session_id"]) == ("host", "u-ann", "s1")
    assert "peer_events" not in got
    events = peer_report(call, include_peer_events="true")["peer_events"]
    assert [e["event_name"] for e in events] == ["PEER_CREATED", "PEER_JOINING", "PEER_LEAVING"]


def test_quality_is_the_worked_example(call: AppUnderTest) -> None:
    quality = peer_report(call)["peer_report"]["quality"]
    rows = quality["audio_consumer"]
    assert [(r["timestamp"], r.get("mos_quality", "absent")) for r in rows] == [
        (at(7), 1.0), (at(14), 0.64), (at(21), 0.07), (at(28), "absent"), (at(35), 1.0)]
    assert {k: rows[1][k] for k in (
        "consumer_id", "producer_id", "peer_id", "ssrc", "mid", "packets_received",
        "packets_lost", "concealment_events", "jitter")} == {
        "consumer_id": "consumer-a", "producer_id": "producer-x", "peer_id": "bob", "ssrc": 7,
        "mid": "1", "packets_received": 340, "packets_lost": 10, "concealment_events": 1,
        "jitter": 0.025}
    assert quality["audio_consumer_cumulative"]["packet_loss"]["avg"] == 2.8571
    assert quality["audio_consumer_cumulative"]["packet_loss"]["5_or_greater_event_fraction"] == 0.25
    assert quality["audio_consumer_cumulative"]["quality_mos"] == {
        "avg": 0.6775, "p50": 0.82, "p75": 1.0, "p90": 1.0}


def test_producer_rows(call: AppUnderTest) -> None:
    quality = peer_report(call)["peer_report"]["quality"]
    rows = quality["audio_producer"]
    assert [(r["timestamp"], r["packets_sent"], r["bytes_sent"], r["packets_lost"]) for r in rows] == [
        (at(7), 350, 28_000, 0), (at(14), 350, 28_000, 35)]
    # 35 of 350 sent lost = 10 % → 0; jitter 5 ms → 0.3
    assert [r["mos_quality"] for r in rows] == [1.0, 0.3]
    assert [r["bitrate"] for r in rows] == [32_000, 32_000]  # 8 · 28 000 B / 7 s
    assert [r["rtt"] for r in rows] == [0.05, 0.05]
    assert rows[0]["producer_id"] == "producer-a"
    assert quality["audio_producer_cumulative"]["rtt"]["avg"] == 50.0
    for name in ("video_producer", "video_consumer", "screenshare_audio_producer",
                 "screenshare_audio_consumer", "screenshare_video_producer",
                 "screenshare_video_consumer"):
        assert quality[name] == [] and quality[f"{name}_cumulative"] == {}


def test_quality_stats_of_the_report(call: AppUnderTest) -> None:
    stats = peer_report(call)["quality_stats"]
    assert (stats["start"], stats["end"]) == (at(0), at(35))
    assert stats["peer_ids"] == ["ann"]
    assert [a.get("quality", "absent") for a in stats["audio_stats"]] == [
        1.0, 0.64, 0.07, "absent", 1.0]
    assert stats["average_quality"] == 0.6775
    assert (stats["total_audio_packets"], stats["total_audio_packets_lost"]) == (1400, 40)
    assert stats["audio_packet_loss"] == round(100 * 40 / 1400, 4)
    assert (stats["first_audio_packet_received"], stats["last_audio_packet_received"]) == (
        at(7), at(35))
    # no video received: no video totals, loss, bandwidth or packet times (left out)
    assert stats["video_stats"] == []
    assert not {"total_video_packets", "total_video_packets_lost", "video_packet_loss",
                "video_bandwidth", "first_video_packet_received",
                "last_video_packet_received"} & set(stats)


def test_metadata(call: AppUnderTest) -> None:
    meta = peer_report(call)["peer_report"]["metadata"]
    # no webgl_support: the SDK generations disagree on its type, so it is never served
    assert meta["browser_metadata"] == {"browser": "Chrome", "browser_version": "120.0.0.0",
                                        "engine": "Blink", "user_agent": CHROME_UA}
    assert meta["device_info"] == {"cpus": 8, "is_mobile": False, "os": "Windows", "os_version": "10"}
    assert (meta["sdk_name"], meta["sdk_version"], meta["sdk_type"], meta["room_view_type"]) == (
        "web-core", "1.2.0", "web", "GROUP_CALL")
    assert meta["native_metadata"] == {"audio_encoder": "opus", "video_encoder": "VP8"}
    # city, region, timezone and the AS number are not in the bundled data: left out
    assert meta["ip_information"] == {"ipv4": "8.8.8.8", "country": "US", "org": "GOOGLE",
                                      "asn": {"name": "GOOGLE"}}
    # no sdp (events carry none); the second test reported neither relay nor turn
    assert meta["pc_metadata"] == [
        {"effective_network_type": "4g", "reflexive_connectivity": True,
         "relay_connectivity": False, "turn_connectivity": True,
         "timestamp": iso_ms(JOIN + SEC)},
        {"effective_network_type": "3g", "reflexive_connectivity": False,
         "timestamp": iso_ms(JOIN + 10 * MIN)},
    ]


def test_device_updates_and_events(call: AppUnderTest) -> None:
    meta = peer_report(call)["peer_report"]["metadata"]
    usb = {"device_id": "mic-2", "kind": "audioinput", "label": "USB mic"}
    assert meta["audio_devices_updates"] == [
        {"added": [usb], "removed": [], "timestamp": iso_ms(JOIN + 2 * MIN)}]
    assert meta["video_devices_updates"] == [
        {"added": [], "removed": [{"device_id": "cam-1", "kind": "videoinput",
                                   "label": "FaceTime HD"}],
         "timestamp": iso_ms(JOIN + 4 * MIN)}]
    assert meta["speaker_devices_updates"] == []
    # the kind of the chosen device comes from the event's name when not given
    assert meta["selected_device_updates"] == [{"device": usb, "timestamp": iso_ms(JOIN + 3 * MIN)}]
    assert [e["name"] for e in meta["events"]] == [
        "audio_devices_updated", "audio_device_changed", "video_devices_updated", "tab_hidden",
        "network_quality"]
    # the SDK types event metadata as scalar values: nested values are left out
    assert meta["events"][3]["metadata"] == {"hidden_for_ms": 4000, "visible": False}


def test_candidate_pairs_latest_state_per_pair(call: AppUnderTest) -> None:
    pairs = peer_report(call)["peer_report"]["metadata"]["candidate_pairs"]
    [producing] = pairs["producing_transport"]
    assert (producing["current_round_trip_time"], producing["bytes_sent"]) == (0.052, 20_000)
    assert producing["available_outgoing_bitrate"] == 2_500_001  # whole bit/s
    assert (producing["local_candidate_address"], producing["local_candidate_port"]) == (
        "203.0.113.7", 50123)
    # every reported key of the pair but its id; nothing it did not report
    assert producing == {
        "nominated": True, "local_candidate_type": "srflx", "local_candidate_protocol": "udp",
        "local_candidate_address": "203.0.113.7", "local_candidate_port": 50123,
        "remote_candidate_type": "host", "remote_candidate_address": "198.51.100.2",
        "remote_candidate_port": 443, "available_outgoing_bitrate": 2_500_001,
        "current_round_trip_time": 0.052, "bytes_sent": 20_000, "packets_sent": 90}
    [consuming] = pairs["consuming_transport"]
    assert consuming == {"local_candidate_id": "L2", "remote_candidate_id": "R2",
                         "local_candidate_type": "relay",
                         "last_packet_received_timestamp": 1_767_225_700_123}


def test_peer_stats_in_the_report_shape(call: AppUnderTest) -> None:
    stats = peer_report(call)["peer_stats"]
    assert stats["device_info"]["browser"] == "Chrome"
    assert "asn" not in stats["ip_information"]  # the AS number is not in the bundled data
    precall = stats["precall_network_information"]
    assert precall["throughput"] == 2501 and "throughtput" not in precall
    assert precall["effective_networktype"] == "3g"  # the latest test wins field by field
    assert [e["type"] for e in stats["events"]] == [
        "audio_devices_updated", "audio_device_changed", "video_devices_updated", "tab_hidden",
        "network_quality"]
    # connection_info as the seed types it: the keys sent with the declared type, extras
    # kept; an unsent key or one of the wrong type (effective_network_type: 4) is left out
    assert stats["events"][4]["metadata"]["connection_info"] == {
        "r_t_t": 41.5, "throughput": 1235, "vendor": "x", "connectivity": {"relay": True}}
    assert "connection_info" not in stats["events"][3]["metadata"]


@pytest.mark.parametrize(("filters", "sections", "quality"), [
    ("device_info", {"device_info"}, False),
    ("events,ip_information", {"events", "ip_information"}, False),
    ("quality_stats", set(), True),
    ("precall_network_information,quality_stats", {"precall_network_information"}, True),
])
def test_filters(call: AppUnderTest, filters, sections, quality) -> None:
    full = peer_report(call)
    got = peer_report(call, filters=filters)
    assert set(got.get("peer_stats", {})) == sections  # config/status are never known
    assert ("quality_stats" in got) is quality
    assert ("quality" in got["peer_report"]) is quality
    assert got["peer_report"]["metadata"] == full["peer_report"]["metadata"]
    if quality:
        assert got["quality_stats"] == full["quality_stats"]


def test_unknown_filter_is_400(call: AppUnderTest) -> None:
    assert_bad_request(call.get("/sessions/peer-report/ann", filters="quality"), "filters",
                       "quality_stats")


def test_unknown_peers_are_404(call: AppUnderTest, app: AppUnderTest) -> None:
    assert "nobody" in assert_not_found(call.get("/sessions/peer-report/nobody"))
    assert_not_found(app.get("/sessions/peer-report/ann"))  # another app's peer


def test_served_under_the_sdk_prefix(call: AppUnderTest) -> None:
    path = f"/client/v4{call.base}/sessions/peer-report/ann"
    response = call.http.get(path)
    assert response.status_code == 200
    assert response.json()["data"]["participant"] == peer_report(call)


def test_a_peer_without_stats_or_metadata(call: AppUnderTest) -> None:
    got = peer_report(call, "bob")
    quality = got["peer_report"]["quality"]
    assert all(quality[name] == [] for name in quality if not name.endswith("cumulative")
               and name != "skipped_intervals")
    # nothing measured: only the peer's id and empty series
    assert got["quality_stats"] == {"peer_id": "bob", "peer_ids": ["bob"], "audio_stats": [],
                                    "video_stats": []}
    meta = got["peer_report"]["metadata"]
    # no metadata: the objects of which nothing is known are left out
    for section in ("ip_information", "browser_metadata", "device_info", "native_metadata",
                    "room_view_type", "sdk_name", "sdk_type", "sdk_version"):
        assert section not in meta
    assert meta["pc_metadata"] == [] and meta["events"] == []
    assert meta["candidate_pairs"] == {"producing_transport": [], "consuming_transport": []}


def test_participant_details_quality_stats_per_peer_of_the_user(app: AppUnderTest) -> None:
    """Ann dropped and rejoined: her details list both peers' received audio."""
    def audio(peer: str, start: int, lost: int) -> dict:
        at_ = lambda s: iso_ms(start + s * SEC)  # noqa: E731
        return event("peer.stats", start + 20 * SEC, peer_id=peer, samples=[
            {"ts": at_(0), "kind": "audio", "direction": "consumer", "ssrc": 1,
             "packets_received": 0, "packets_lost": 0, "jitter": 0.01, "concealment_events": 0},
            {"ts": at_(7), "kind": "audio", "direction": "consumer", "ssrc": 1,
             "packets_received": 350 - lost, "packets_lost": lost, "jitter": 0.01,
             "concealment_events": 0}])
    app.ingest([started("s1", "m1", T0),
                *visit("s1", "ann-1", T0, T0 + 5 * MIN, user_id="u-ann"),
                *visit("s1", "ann-2", T0 + 6 * MIN, T0 + 9 * MIN, user_id="u-ann"),
                *visit("s1", "carl", T0, T0 + 9 * MIN, user_id="u-carl"),
                audio("ann-2", T0 + 6 * MIN, 35), audio("ann-1", T0, 0), audio("carl", T0, 7)])
    app.clock.now_ms = T0 + 60 * MIN
    got = app.ok("/sessions/s1/participants/ann-2")["data"]["participant"]["quality_stats"]
    assert [(e["peer_id"], e["average_quality"], e["audio_packet_loss"]) for e in got] == [
        ("ann-1", 1.0, 0.0),
        ("ann-2", 0.5, 10.0),  # 10 % loss: Q = 0.2 (no concealment) + 0 + 0.3 (jitter 10 ms)
    ]
    # no byte counters and no video: the bandwidths and video loss are left out
    assert set(got[0]) == {"peer_id", "start", "end", "audio_stats", "video_stats",
                           "average_quality", "audio_packet_loss"}
    [carl] = app.ok("/sessions/s1/participants/carl")["data"]["participant"]["quality_stats"]
    assert carl["audio_stats"][0]["packets_lost"] == 7


# --------------------------------------------------------------------------
# every field the current SDK declares is in the answer when known, absent when not
# --------------------------------------------------------------------------


def absent_fields(model: type[BaseModel], value: Any, path: str = "$") -> list[str]:
    """Paths of the fields the SDK's model declares that ``value`` leaves out (recursively,
    into every object, empty ones included, and every element of a list)."""
    problems = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in value:
            problems.append(f"{path}.{key}")
            continue
        inner, annotation = value[key], info.annotation
        for candidate in (annotation, *get_args(annotation)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                assert isinstance(inner, dict), f"{path}.{key} is not an object: {inner!r}"
                problems += absent_fields(candidate, inner, f"{path}.{key}")
            if get_origin(candidate) is list and isinstance(inner, list):
                [item] = get_args(candidate)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    for i, element in enumerate(inner):
                        problems += absent_fields(item, element, f"{path}.{key}[{i}]")
    return problems


def null_paths(value: Any, path: str = "$") -> list[str]:
    """Paths of every ``null`` in ``value`` (api.md: an unknown value is left out)."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [p for key, inner in value.items() for p in null_paths(inner, f"{path}.{key}")]
    if isinstance(value, list):
        return [p for i, inner in enumerate(value) for p in null_paths(inner, f"{path}[{i}]")]
    return []


def unknown_fields_of_ann() -> set[str]:
    """What ann's inputs (``call_events``) leave unknown, worked out by hand from them:
    every other field the SDK declares must be served."""
    from cloudflare.types.realtime_kit import (
        session_get_participant_data_from_peer_id_response as sdk,
    )

    def fields(model: type[BaseModel]) -> list[str]:
        return [info.alias or name for name, info in model.model_fields.items()]

    meta, quality = "$.peer_report.metadata", "$.peer_report.quality"
    unknown = set()
    # her joins carry no socket_session_id
    unknown |= {f"$.peer_events[{i}].socket_session_id" for i in range(3)}
    # the generations disagree on webgl_support's type: never served
    unknown.add(f"{meta}.browser_metadata.webgl_support")
    # a candidate pair knows what its samples reported, nothing else (its "id" is not served)
    pair_fields = fields(sdk.DataParticipantPeerReportMetadataCandidatePairsProducingTransport)
    reported = {direction: set() for direction in ("producer", "consumer")}
    for sample in stats_samples():
        reported[sample["direction"]] |= set(sample.get("candidate_pair", {}))
    producing, consuming = reported["producer"], reported["consumer"]
    assert "local_candidate_address" in producing and "local_candidate_id" in consuming
    unknown |= {f"{meta}.candidate_pairs.producing_transport[0].{f}"
                for f in pair_fields if f not in producing}
    unknown |= {f"{meta}.candidate_pairs.consuming_transport[0].{f}"
                for f in pair_fields if f not in consuming}
    # 8.8.8.8 with the bundled geoip data only (no .mmdb): country and AS org, nothing
    # else; the AS number needs an ASN .mmdb; domain/route/type no offline data has
    unknown |= {f"{meta}.ip_information.{f}" for f in ("city", "region", "timezone")}
    unknown |= {f"{meta}.ip_information.asn.{f}" for f in ("asn", "domain", "route", "type")}
    # pre-call tests carry no SDP; the second one reported only type and reflexivity
    unknown |= {f"{meta}.pc_metadata[{i}].sdp" for i in range(2)}
    unknown |= {f"{meta}.pc_metadata[1].{f}" for f in ("relay_connectivity", "turn_connectivity")}
    # received audio: no byte or jitter-buffer counters in the samples; the 5th interval
    # (28 s) has no packets, so no score
    unknown |= {f"{quality}.audio_consumer[{i}].{f}" for i in range(5)
                for f in ("bytes_received", "jitter_buffer_delay", "jitter_buffer_emitted_count")}
    unknown.add(f"{quality}.audio_consumer[3].mos_quality")
    unknown.add(f"{quality}.audio_consumer_cumulative.jitter_buffer_delay")
    # no samples of any other kind: their cumulatives are {} (quality.md §3)
    for name in ("video_producer", "video_consumer", "screenshare_audio_producer",
                 "screenshare_audio_consumer", "screenshare_video_producer",
                 "screenshare_video_consumer"):
        model = sdk.DataParticipantPeerReportQuality.model_fields[f"{name}_cumulative"]
        [cumulative] = [c for c in get_args(model.annotation) if c is not type(None)]
        unknown |= {f"{quality}.{name}_cumulative.{f}" for f in fields(cumulative)}
    return unknown


def test_every_field_the_current_sdk_declares_is_present_when_known(call: AppUnderTest) -> None:
    from cloudflare.types.realtime_kit.session_get_participant_data_from_peer_id_response import (
        DataParticipant,
    )

    got = peer_report(call, include_peer_events="true")
    assert null_paths(got) == []  # never null: unknown values are left out
    assert sorted(absent_fields(DataParticipant, got)) == sorted(unknown_fields_of_ann())


def test_now_does_not_move_the_report(call: AppUnderTest) -> None:
    first = peer_report(call)
    call.clock.now_ms += int(timedelta(days=3).total_seconds() * 1000)
    assert peer_report(call) == first
