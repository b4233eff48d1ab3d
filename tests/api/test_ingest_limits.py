"""Ingest bodies that cannot be taken: too many events or bytes (413), unreadable (400),
and never a 500. The limits run on a server configured with
``ingest_max_events=5`` and ``ingest_max_bytes=2048`` (``small_live``)."""

from __future__ import annotations

import gzip
import itertools
import json
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.api.support import AppUnderTest
from tests.conftest import ACCOUNT, LiveServer
from tests.factories import T0, meeting, started

MAX_EVENTS, MAX_BYTES = 5, 2048
_small_apps = itertools.count(1)
NDJSON = "application/x-ndjson"


@pytest.fixture(scope="module")
def small_http(small_live: LiveServer) -> Iterator[httpx.Client]:
    with small_live.client() as http:
        yield http


@pytest.fixture
def small(small_live: LiveServer, small_http: httpx.Client) -> AppUnderTest:
    """A new, empty app on the server with tiny limits."""
    return AppUnderTest(small_live, f"app-small-{next(_small_apps)}", small_http)


def sessions_of(n: int) -> list[dict]:
    return [started(f"s{i}", f"m{i}", T0 + i) for i in range(n)]


def json_of_size(size: int) -> bytes:
    """A JSON array of one valid event, padded (in an unknown key) to exactly ``size`` bytes."""
    event = meeting("m1", "padded")
    base = len(json.dumps([{**event, "note": ""}]).encode())
    body = json.dumps([{**event, "note": "x" * (size - base)}]).encode()
    assert len(body) == size
    return body


def post(app: AppUnderTest, body, content_type: str | None = None,
         encoding: str | None = None) -> httpx.Response:
    headers = {k: v for k, v in (("Content-Type", content_type),
                                 ("Content-Encoding", encoding)) if v}
    return app.http.post(app.ingest_path, content=body, headers=headers)


def assert_error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == status
    for word in words:
        assert word in body["error"]["message"], body["error"]["message"]
    return body["error"]["message"]


def assert_nothing_stored(app: AppUnderTest) -> None:
    body = app.ok("/sessions")
    assert body["data"]["sessions"] == [] and body["paging"]["total_count"] == 0


@pytest.mark.parametrize("body, content_type", [
    (json.dumps(sessions_of(MAX_EVENTS)).encode(), None),
    ("\n".join(json.dumps(e) for e in sessions_of(MAX_EVENTS)).encode(), NDJSON),
    (json_of_size(MAX_BYTES), None),
])
def test_at_the_limits_is_accepted(small: AppUnderTest, body, content_type) -> None:
    response = post(small, body, content_type)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["rejected"] == []


@pytest.mark.parametrize("body, content_type, encoding, words", [
    (json.dumps(sessions_of(MAX_EVENTS + 1)).encode(), None, None, ["6", "5"]),
    ("\n".join(json.dumps(e) for e in sessions_of(MAX_EVENTS + 1)).encode(), NDJSON, None,
     ["6", "5"]),
    (gzip.compress(json.dumps(sessions_of(MAX_EVENTS + 1)).encode()), None, "gzip", ["5"]),
    (json_of_size(MAX_BYTES + 1), None, None, ["2048"]),
    (gzip.compress(json_of_size(MAX_BYTES + 1)), None, "gzip", ["2048"]),  # inflates past
    (gzip.compress(b"[" + b" " * 1_000_000 + b"]"), None, "gzip", ["2048"]),  # a small bomb
], ids=["events-json", "events-ndjson", "events-gzip", "bytes", "inflated-bytes", "gzip-bomb"])
def test_past_the_limits_is_413(small: AppUnderTest, body, content_type, encoding, words) -> None:
    assert_error(post(small, body, content_type, encoding), 413, *words)
    assert_nothing_stored(small)


def test_gzip_at_the_inflated_limit_is_accepted(small: AppUnderTest) -> None:
    response = post(small, gzip.compress(json_of_size(MAX_BYTES)), None, "gzip")
    assert response.status_code == 200 and response.json()["data"]["accepted"] == 1


def test_a_compressed_body_past_the_byte_limit_is_413(small: AppUnderTest) -> None:
    noise = os.urandom(2000).hex()  # does not compress
    body = gzip.compress(json.dumps([{**meeting("m1", "t"), "note": noise}]).encode())
    assert len(body) > MAX_BYTES
    assert_error(post(small, body, None, "gzip"), 413, "2048")


def test_a_streamed_body_without_length_is_413(small: AppUnderTest) -> None:
    chunks = iter([b"[", b" " * 1500, b" " * 1500, b"]"])
    assert_error(post(small, chunks), 413, "2048")
    assert_nothing_stored(small)


@pytest.mark.parametrize("body, content_type, encoding", [
    (b"", None, None),
    (b"   \n\t ", None, None),
    (b"", NDJSON, None),
    (b"not json at all", None, None),
    (b"[{\"id\": \"e1\",", None, None),
    (b"\"a string\"", None, None),
    (b"42", None, None),
    (b"null", None, None),
    (json.dumps(sessions_of(1)).encode(), None, "gzip"),  # says gzip, is not
    (gzip.compress(json.dumps(sessions_of(1)).encode())[:20], None, "gzip"),  # truncated
    (b"\x1f\x8b\x08\x00garbage", NDJSON, "gzip"),
], ids=["empty", "blank", "empty-ndjson", "not-json", "truncated-json", "string", "number",
        "null", "not-gzip", "truncated-gzip", "bad-gzip-header"])
def test_unreadable_body_is_400(app: AppUnderTest, body, content_type, encoding) -> None:
    assert_error(post(app, body, content_type, encoding), 400)
    assert_nothing_stored(app)


def test_unsupported_content_encoding_is_a_client_error(app: AppUnderTest) -> None:
    response = post(app, json.dumps(sessions_of(1)).encode(), None, "br")
    assert response.status_code in (400, 415)
    assert "Content-Encoding" in response.json()["error"]["message"]


def test_oversized_event_fields_are_rejected_not_500(app: AppUnderTest) -> None:
    events = [{**started("s1", "m1", T0), "session_id": "s" * 300},
              {**meeting("m1", "t" * 1_001)}]
    response = post(app, json.dumps(events).encode())
    assert response.status_code == 200
    assert [r["index"] for r in response.json()["data"]["rejected"]] == [0, 1]


INVALID_UTF8 = b'{"id": "e1", "type": "meeting.upserted", "ts": "2026-01-01T00:00:00Z", ' \
               b'"meeting_id": "m1", "title": "caf\xe9"}'
INVALID_UTF8_UNKNOWN_KEY = INVALID_UTF8.replace(b'"title"', b'"note"')


@pytest.mark.parametrize("body, content_type", [
    (b"[" + INVALID_UTF8 + b"]", None),
    (b"[" + INVALID_UTF8_UNKNOWN_KEY + b"]", None),
    (INVALID_UTF8 + b"\n", NDJSON),
], ids=["json", "json-unknown-key", "ndjson"])
def test_body_that_is_not_utf8_is_never_500(app: AppUnderTest, body, content_type) -> None:
    response = post(app, body, content_type)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["accepted"] == 0 and len(data["rejected"]) == 1
    assert "not valid UTF-8" in data["rejected"][0]["error"]


@pytest.mark.parametrize("content_type", [None, NDJSON])
def test_deeply_nested_json_is_never_500(app: AppUnderTest, content_type) -> None:
    nested = b'{"a":' * 5000 + b"1" + b"}" * 5000
    body = nested + b"\n" if content_type else b"[" + nested + b"]"
    response = post(app, body, content_type)
    if content_type:  # NDJSON: that line is rejected, the request goes on
        assert response.status_code == 200, response.text
        assert "nested too deeply" in response.json()["data"]["rejected"][0]["error"]
    else:  # a JSON array that cannot be read at all
        assert_error(response, 400)
        assert "nested too deeply" in response.json()["error"]["message"]


def test_multi_member_gzip_loses_no_events(app: AppUnderTest) -> None:
    first, second = sessions_of(2)
    body = gzip.compress(json.dumps(first).encode() + b"\n") + \
        gzip.compress(json.dumps(second).encode() + b"\n")
    response = post(app, body, NDJSON, "gzip")
    assert response.status_code == 200 and response.json()["data"]["accepted"] == 2, response.text
    garbage = gzip.compress(json.dumps(first).encode()) + b"trailing junk"
    assert_error(post(app, garbage, NDJSON, "gzip"), 400)


def test_ingest_on_an_unknown_route_is_404(app: AppUnderTest) -> None:
    response = app.http.post(f"/ingest/accounts/{ACCOUNT}/apps/{app.app_id}/event", json=[])
    assert_error(response, 404)
    response = app.http.get(app.ingest_path)
    assert response.status_code == 405 and response.json()["success"] is False
