"""Bodies to validated events: splitting, gzip limits, per-item validation."""

from __future__ import annotations

import gzip
import json

import pytest

from rtk_sessions.ingest.normalize import (
    BodyError,
    gunzip_limited,
    maybe_gunzip,
    split_body,
    validate_items,
)

GOOD = {
    "id": "e1",
    "type": "peer.left",
    "ts": "2026-01-01T00:00:00.000Z",
    "session_id": "s",
    "peer_id": "p",
}


def encode(*events) -> list[bytes]:
    return [json.dumps(e).encode() for e in events]


def test_json_array_and_single_object_and_ndjson():
    assert len(split_body(json.dumps([GOOD, GOOD]).encode(), ndjson=False)) == 2
    assert len(split_body(json.dumps(GOOD).encode(), ndjson=False)) == 1
    items = split_body(b"\n".join(encode(GOOD, GOOD)) + b"\n\n", ndjson=True)
    assert len(items) == 2 and all(isinstance(i, bytes) for i in items)


def test_a_bad_ndjson_line_is_one_rejection_not_a_failed_body():
    items = split_body(json.dumps(GOOD).encode() + b"\n{not json\n", ndjson=True)
    batch = validate_items(items)
    assert [e.event_id for e in batch.events] == ["e1"]
    assert batch.rejected[0].index == 1 and "not valid JSON" in batch.rejected[0].error


def test_a_body_that_is_not_an_array_is_a_body_error():
    with pytest.raises(BodyError, match="JSON array"):
        split_body(b"[1, 2", ndjson=False)


def test_gzip_within_and_past_the_limit():
    raw = json.dumps([GOOD] * 50).encode()
    assert maybe_gunzip(gzip.compress(raw), "gzip", len(raw)) == raw
    bomb = gzip.compress(b"0" * 5_000_000)
    assert len(bomb) < 10_000
    with pytest.raises(BodyError) as caught:
        gunzip_limited(bomb, 1_000_000)
    assert caught.value.too_large


@pytest.mark.parametrize("body", [b"not gzip at all", gzip.compress(b"[]")[:-6]])
def test_broken_gzip_is_a_clear_error(body):
    with pytest.raises(BodyError, match="gzip"):
        gunzip_limited(body, 1_000_000)


def test_unsupported_encoding_is_named():
    with pytest.raises(BodyError, match="br"):
        maybe_gunzip(b"x", "br", 100)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "peer.exploded"}, "unknown event type 'peer.exploded'"),
        ({"ts": "2026-01-01T00:00:00"}, "UTC offset"),
        ({"ts": "last tuesday"}, "$.ts"),
        ({"peer_id": 7}, "$.peer_id"),
        ({"id": ""}, "$.id"),
        ({"session_id": None}, "$.session_id"),
    ],
)
def test_each_problem_is_named(change, message):
    batch = validate_items(encode({**GOOD, **change}))
    assert batch.events == [] and message in batch.rejected[0].error
    assert batch.rejected[0].id == {**GOOD, **change}["id"]  # reported even when invalid


def test_missing_type_and_non_objects():
    batch = validate_items(encode({"id": "x", "ts": GOOD["ts"]}, [1, 2], "text"))
    errors = [r.error for r in batch.rejected]
    assert "missing field `type`" in errors[0]
    assert errors[1] == errors[2] == "event must be a JSON object"


def test_the_payload_is_kept_exactly_as_received_with_unknown_keys():
    raw = (
        b'{"id":"e1","type":"peer.left","ts":"2026-01-01T00:00:00Z","session_id":"s",'
        b'"peer_id":"p","x_custom":{"a":[1,2]}}'
    )
    (event,) = validate_items([raw]).events
    assert event.payload == raw.decode() and event.ts_ms == 1_767_225_600_000


def test_duplicates_within_a_batch_count_once():
    batch = validate_items(encode(GOOD, GOOD, {**GOOD, "id": "e2"}))
    assert [e.event_id for e in batch.events] == ["e1", "e2"] and batch.duplicates_in_batch == 1


def test_offsets_are_converted_to_utc():
    (event,) = validate_items(encode({**GOOD, "ts": "2026-01-01T02:00:00+02:00"})).events
    assert event.ts_ms == 1_767_225_600_000


def test_a_session_cannot_be_its_own_breakout_room():
    started = {"id": "e", "type": "session.started", "ts": GOOD["ts"], "session_id": "s",
               "meeting_id": "m", "parent_session_id": "s"}
    (rejection,) = validate_items(encode(started)).rejected
    assert "parent_session_id must name another session" in rejection.error
