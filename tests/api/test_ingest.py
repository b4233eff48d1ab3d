"""POST /ingest/accounts/{account}/apps/{app}/events: formats, idempotency, validation.

What was stored is always checked through the read API. Size limits and
bodies that cannot be read at all are in ``test_ingest_limits.py``.
"""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from tests.api.support import AppUnderTest
from tests.factories import (
    MIN,
    T0,
    chat_message,
    ended,
    joined,
    left,
    meeting,
    peer_event,
    peer_metadata,
    peer_stats,
    started,
    transcript_segment,
    visit,
)

SCENARIO = [meeting("m1", "Ingested"), started("s1", "m1", T0),
            *visit("s1", "a", T0 + MIN, T0 + 11 * MIN),
            *visit("s1", "b", T0 + 2 * MIN, T0 + 4 * MIN)]
NDJSON = "application/x-ndjson"


def as_json(events: list) -> bytes:
    return json.dumps(events).encode()


def as_ndjson(events: list, newline: str = "\n") -> bytes:
    return (newline.join(json.dumps(e) for e in events) + newline).encode()


def post(app: AppUnderTest, body: bytes, content_type: str | None = None,
         encoding: str | None = None) -> httpx.Response:
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if encoding:
        headers["Content-Encoding"] = encoding
    return app.http.post(app.ingest_path, content=body, headers=headers)


def report(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


def assert_scenario_stored(app: AppUnderTest) -> None:
    app.clock.now_ms = T0 + 60 * MIN
    session = app.session("s1")
    assert (session["meeting_display_name"], session["minutes_consumed"], session["status"]) == (
        "Ingested", 12.0, "ENDED")
    assert [p["id"] for p in app.participants("s1")] == ["a", "b"]


@pytest.mark.parametrize("body, content_type, encoding", [
    (as_json(SCENARIO), "application/json", None),
    (as_json(SCENARIO), None, None),  # JSON is the default
    (as_ndjson(SCENARIO), NDJSON, None),
    (as_ndjson(SCENARIO), "application/x-ndjson; charset=utf-8", None),
    (as_ndjson(SCENARIO, "\r\n"), NDJSON, None),
    (as_ndjson(SCENARIO).rstrip(b"\n"), NDJSON, None),
    (gzip.compress(as_json(SCENARIO)), "application/json", "gzip"),
    (gzip.compress(as_ndjson(SCENARIO)), NDJSON, "gzip"),
], ids=["json", "json-default", "ndjson", "ndjson-charset", "ndjson-crlf",
        "ndjson-no-final-newline", "json-gzip", "ndjson-gzip"])
def test_formats(app: AppUnderTest, body, content_type, encoding) -> None:
    got = report(post(app, body, content_type, encoding))
    assert got == {"accepted": len(SCENARIO), "duplicates": 0, "rejected": []}
    assert_scenario_stored(app)


def snapshot(app: AppUnderTest) -> list:
    return [app.ok("/sessions"), app.ok("/sessions/s1"),
            app.ok("/sessions/s1/participants", include_peer_events="true")]


@pytest.mark.parametrize("again", ["json", "ndjson-gzip"])
def test_resending_a_batch_changes_nothing(app: AppUnderTest, again: str) -> None:
    report(post(app, as_json(SCENARIO)))
    app.clock.now_ms = T0 + 60 * MIN
    before = snapshot(app)
    if again == "json":
        resent = post(app, as_json(SCENARIO))
    else:
        resent = post(app, gzip.compress(as_ndjson(SCENARIO[::-1])), NDJSON, "gzip")
    assert report(resent) == {"accepted": 0, "duplicates": len(SCENARIO), "rejected": []}
    assert snapshot(app) == before


def test_duplicate_ids_inside_one_batch(app: AppUnderTest) -> None:
    first = joined("s1", "a", T0 + MIN, display_name="First")
    second = {**first, "display_name": "Second", "ts": "2026-01-01T00:05:00.000Z"}
    got = report(post(app, as_json([started("s1", "m1", T0), first, first, second])))
    assert got == {"accepted": 2, "duplicates": 2, "rejected": []}
    assert [(p["display_name"], p["joined_at"]) for p in app.participants("s1")] == [
        ("First", "2026-01-01T00:01:00.000Z")]


def test_partially_valid_batch_stores_the_valid_events(app: AppUnderTest) -> None:
    bad_end = {**ended("s1", T0 + 5 * MIN), "reason": "BORED"}
    bad_join = {**joined("s1", "c", T0 + 3 * MIN), "peer_id": 42}
    batch = [*SCENARIO[:4], bad_end, *SCENARIO[4:], bad_join, "not an event"]
    got = report(post(app, as_json(batch)))
    assert got["accepted"] == len(SCENARIO) and got["duplicates"] == 0
    assert [(r["index"], r["id"]) for r in got["rejected"]] == [
        (4, bad_end["id"]), (7, bad_join["id"]), (8, None)]
    assert "reason" in got["rejected"][0]["error"] and "peer_id" in got["rejected"][1]["error"]
    assert_scenario_stored(app)
    app.clock.now_ms = T0 + 3 * MIN  # the rejected end never ended the session
    assert app.session("s1")["status"] == "LIVE"


def test_nul_characters_are_rejected_on_every_database(app: AppUnderTest) -> None:
    """PostgreSQL cannot store U+0000 in text; SQLite could, but the same event must get
    the same answer on both. A backslash followed by ``u0000`` is just text."""
    nul_name = joined("s1", "a", T0 + MIN, display_name="Ann\x00")
    nul_key = {**peer_event("b", T0, "tab_hidden"), "metadata": {"x": ["ok", "bad\x00"]}}
    literal = joined("s1", "b", T0 + 2 * MIN, display_name="C:\\u0000")
    got = report(post(app, as_json([started("s1", "m1", T0), nul_name, nul_key, literal])))
    assert got["accepted"] == 2
    assert [(r["index"], r["error"]) for r in got["rejected"]] == [
        (1, "text must not contain NUL (\\u0000) characters - at `$.display_name`"),
        (2, "text must not contain NUL (\\u0000) characters - at `$.metadata.x[1]`"),
    ]
    assert [p["display_name"] for p in app.participants("s1")] == ["C:\\u0000"]


def test_rejections_in_ndjson_carry_the_line_index(app: AppUnderTest) -> None:
    lines = [json.dumps(SCENARIO[0]).encode(), b"{not json", json.dumps(SCENARIO[1]).encode(),
             b"[1, 2]"]
    got = report(post(app, b"\n".join(lines), NDJSON))
    assert got["accepted"] == 2
    assert [(r["index"], r["id"]) for r in got["rejected"]] == [(1, None), (3, None)]
    assert all(r["error"] for r in got["rejected"])


VALID = {
    "meeting.upserted": meeting("m1", "All types", session_type="participant"),
    "session.started": started("s1", "m1", T0, meta={"k": "v"}),
    "session.ended": ended("s1", T0 + 5 * MIN, "HOST_ENDED_MEETING"),
    "peer.joined": joined("s1", "p1", T0 + MIN, socket_session_id="sock-1"),
    "peer.left": left("s1", "p1", T0 + 2 * MIN),
    "peer.metadata": peer_metadata(
        "p1", T0 + MIN, session_id="s1", user_agent="Mozilla/5.0", sdk_name="web-core",
        sdk_version="1.0", ip="8.8.8.8", room_view_type="grid", webgl_support="webgl2",
        device_info={"cpus": 4, "memory": 8.5, "is_mobile": True, "os": "iOS", "os_version": "17"},
        precall_network_information={"backend_rtt": 1, "effective_networktype": "4g",
                                     "fractional_loss": 0, "jitter": 1.5, "rtt": 20,
                                     "throughput": 900, "reflexive_connectivity": True,
                                     "relay_connectivity": True, "turn_connectivity": False}),
    "peer.event": peer_event("p1", T0 + MIN, "network_changed", {"to": "wifi"}),
    "peer.stats": peer_stats("p1", T0 + MIN),
    "chat.message": chat_message("s1", "p1", T0 + MIN, "msg-1", "hello"),
    "transcript.segment": transcript_segment("s1", "p1", T0 + MIN, 0, 1_500, "hello there"),
}


@pytest.mark.parametrize("kind", list(VALID))
def test_every_event_type_is_accepted(app: AppUnderTest, kind: str) -> None:
    assert report(post(app, as_json([VALID[kind]]))) == {
        "accepted": 1, "duplicates": 0, "rejected": []}


def test_all_types_together_derive_the_session(app: AppUnderTest) -> None:
    report(post(app, as_ndjson(list(VALID.values())[::-1]), NDJSON))
    app.clock.now_ms = T0 + 60 * MIN
    session = app.session("s1")
    assert (session["type"], session["meta"], session["ended_at"], session["minutes_consumed"]) == (
        "participant", {"k": "v"}, "2026-01-01T00:05:00.000Z", 1.0)
    peer = app.ok("/sessions/s1/participants/p1")["data"]["participant"]
    assert peer["peer_stats"]["device_info"]["os"] == "iOS"
    assert [e["type"] for e in peer["peer_stats"]["events"]] == ["network_changed"]


@pytest.mark.parametrize("kind, field, value, named", [
    ("meeting.upserted", "title", 5, "$.title"),
    ("meeting.upserted", "session_type", "webinar", "$.session_type"),
    ("session.started", "meeting_id", 5, "$.meeting_id"),
    ("session.started", "meta", [1], "$.meta"),
    ("session.started", "parent_session_id", {"id": "p"}, "$.parent_session_id"),
    ("session.ended", "reason", "BORED", "$.reason"),
    ("peer.joined", "peer_id", 5, "$.peer_id"),
    ("peer.joined", "preset_view_type", "GRID", "$.preset_view_type"),
    ("peer.left", "session_id", None, "$.session_id"),
    ("peer.metadata", "device_info", {"cpus": "eight"}, "$.device_info.cpus"),
    ("peer.metadata", "ip", 5, "$.ip"),
    ("peer.metadata", "precall_network_information", {"rtt": "fast"},
     "$.precall_network_information.rtt"),
    ("peer.event", "name", 5, "$.name"),
    ("peer.event", "metadata", "x", "$.metadata"),
    ("peer.stats", "samples", "x", "$.samples"),
    ("peer.stats", "samples", [{"ts": "2026-01-01T00:00:00Z", "kind": "data",
                                "direction": "producer"}], "$.samples[0].kind"),
    ("peer.stats", "samples", [{"ts": "2026-01-01T00:00:00Z", "kind": "video",
                                "direction": "producer", "quality_limitation_reason": "slow"}],
     "$.samples[0].quality_limitation_reason"),
    ("peer.stats", "samples", [{"ts": "2026-01-01T00:00:00Z", "kind": "video",
                                "direction": "producer", "pli_count": -1}], "$.samples[0].pli_count"),
    ("peer.stats", "samples", [{"ts": "2026-01-01T00:00:00Z", "kind": "audio",
                                "direction": "producer",
                                "candidate_pair": {"local_candidate_port": 70000}}],
     "$.samples[0].candidate_pair.local_candidate_port"),
    ("peer.stats", "samples", [{"ts": "2026-01-01T00:00:00Z", "kind": "video",
                                "direction": "producer",
                                "quality_limitation_durations": {"cpu": "long"}}],
     "$.samples[0].quality_limitation_durations.cpu"),
    ("chat.message", "pinned", "yes", "$.pinned"),
    ("chat.message", "payload_type", "VOICE", "$.payload_type"),
    ("transcript.segment", "start_ms", -1, "$.start_ms"),
    ("transcript.segment", "text", 5, "$.text"),
    ("meeting.upserted", "ts", "yesterday", "$.ts"),
    ("peer.left", "ts", 1_767_225_600_000, "$.ts"),
    ("session.started", "id", "", "$.id"),
])
def test_a_wrong_typed_field_is_rejected_naming_it(app: AppUnderTest, kind, field, value,
                                                   named) -> None:
    bad = {**VALID[kind], field: value}
    got = report(post(app, as_json([VALID["meeting.upserted"], bad])))
    assert got["accepted"] == 1 and len(got["rejected"]) == 1
    rejection = got["rejected"][0]
    assert rejection["index"] == 1
    assert rejection["id"] == bad["id"]
    assert named in rejection["error"]


@pytest.mark.parametrize("kind, missing", [("session.started", "session_id"),
                                           ("peer.joined", "peer_id"),
                                           ("chat.message", "message_id"),
                                           ("meeting.upserted", "ts")])
def test_a_missing_field_is_rejected_naming_it(app: AppUnderTest, kind, missing) -> None:
    bad = {k: v for k, v in VALID[kind].items() if k != missing}
    rejected = report(post(app, as_json([bad])))["rejected"]
    assert len(rejected) == 1 and missing in rejected[0]["error"]


@pytest.mark.parametrize("event", [
    {**meeting("m1", "naive"), "ts": "2026-01-01T00:00:00"},
    {**meeting("m1", "naive"), "ts": "2026-01-01T00:00:00.123"},
    peer_stats("p1", T0, [{"ts": "2026-01-01T00:00:00", "kind": "audio", "direction": "consumer"}]),
])
def test_naive_timestamps_are_rejected(app: AppUnderTest, event) -> None:
    rejected = report(post(app, as_json([event])))["rejected"]
    assert len(rejected) == 1 and "ts" in rejected[0]["error"]
    assert "offset" in rejected[0]["error"]


def test_timestamps_with_offsets_are_read_as_utc(app: AppUnderTest) -> None:
    report(post(app, as_json([
        {**started("s1", "m1", T0), "ts": "2026-01-01T02:00:00+02:00"},
        {**joined("s1", "a", T0), "ts": "2025-12-31T19:01:00-05:00"},
        {**left("s1", "a", T0), "ts": "2026-01-01T00:03:30.250Z"}])))
    app.clock.now_ms = T0 + 60 * MIN
    assert app.session("s1")["started_at"] == "2026-01-01T00:00:00.000Z"
    [peer] = app.participants("s1")
    assert (peer["joined_at"], peer["left_at"], peer["duration"]) == (
        "2026-01-01T00:01:00.000Z", "2026-01-01T00:03:30.250Z", 2.5042)


@pytest.mark.parametrize("item, named", [
    ({"id": "e1", "type": "peer.danced", "ts": "2026-01-01T00:00:00Z"}, "peer.danced"),
    ({"id": "e1", "ts": "2026-01-01T00:00:00Z", "meeting_id": "m1"}, "type"),
    (5, "object"), ("meeting.upserted", "object"), (None, "object"), ([], "object"),
    (True, "object"),
])
def test_unknown_type_and_non_objects_are_rejected(app: AppUnderTest, item, named) -> None:
    got = report(post(app, as_json([item, VALID["meeting.upserted"]])))
    assert got["accepted"] == 1
    [rejection] = got["rejected"]
    assert rejection["index"] == 0 and named in rejection["error"]


def test_unknown_keys_are_kept_not_rejected(app: AppUnderTest) -> None:
    event = {**VALID["session.started"], "future_field": {"x": 1}}
    assert report(post(app, as_json([event])))["accepted"] == 1
    assert app.session("s1")["meta"] == {"k": "v"}


def test_a_single_event_object_is_a_batch_of_one(app: AppUnderTest) -> None:
    got = report(post(app, json.dumps(VALID["session.started"]).encode()))
    assert got == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert app.session("s1")["associated_id"] == "m1"


def test_empty_array_is_an_empty_batch(app: AppUnderTest) -> None:
    assert report(post(app, b"[]")) == {"accepted": 0, "duplicates": 0, "rejected": []}
