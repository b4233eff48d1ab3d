"""Hypothesis against every door of a real server: native ingest (JSON and NDJSON),
RealtimeKit webhooks and the read API's query parameters.

Junk is mixed into a valid scenario: wrong types, huge strings and numbers, deep
nesting, invalid UTF-8, unknown types, missing fields, an existing id with another
(invalid) body, and later re-sends of valid ids with other bodies. Every answer must
be a documented status (never a 5xx), every junk item rejected with its index, and
the derived state afterwards exactly the state of the valid events alone (an app fed
only those, compared through every read). The server keeps serving throughout.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.support import all_reads, running_server
from tests.conftest import ACCOUNT, LiveServer
from tests.factories import (
    MIN,
    SEC,
    T0,
    chat_message,
    ended,
    meeting,
    started,
    transcript_segment,
    visit,
)
from tests.rtk_webhooks import delivery, public_pem, sign

_apps = itertools.count(1)
FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: CI stays within minutes, and green
)


def scenario() -> list[dict]:
    events = [
        meeting("m1", "Fuzzed call"),
        started("s1", "m1", T0),
        started("s2", "m1", T0 + 30 * MIN),
    ]
    events += visit("s1", "p1", T0, T0 + 10 * MIN, user_id="u1")
    events += visit("s1", "p2", T0 + SEC, T0 + 12 * MIN, user_id="u2")
    events += visit("s2", "p3", T0 + 30 * MIN, T0 + 40 * MIN, user_id="u1")
    events += [
        ended("s1", T0 + 12 * MIN),
        chat_message("s1", "p1", T0 + 5 * SEC, "c1", "hi"),
        transcript_segment("s1", "p2", T0 + 9 * SEC, 1_000, 9_000, "hello there"),
    ]
    return events


VALID = scenario()
KNOWN_FIELDS = ["ts", "session_id", "peer_id", "meeting_id", "user_id", "type", "id"]

# values that no known field of any event accepts
wrong_values = st.one_of(
    st.integers(min_value=10**19, max_value=10**40),  # past any 64-bit integer
    st.integers(max_value=-1),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.text(min_size=257, max_size=2000).map(lambda s: "x" + s),  # longer than any id
    st.integers(min_value=1, max_value=400).map(lambda d: json.loads("[" * d + "]" * d)),
)


@st.composite
def junk_item(draw) -> bytes:
    """One item that must be rejected, as raw JSON (or not even that)."""
    kind = draw(
        st.sampled_from(
            ["wrong field", "missing", "unknown type", "not json", "not an object", "bad utf-8"]
        )
    )
    base = dict(draw(st.sampled_from(VALID)))  # its id is a valid event's: same id, bad body
    if kind == "wrong field":
        field = draw(st.sampled_from([f for f in KNOWN_FIELDS if f in base]))
        value = draw(wrong_values)
        if field == "type":
            value = draw(st.text(max_size=20).filter(lambda t: "." not in t))
        base[field] = value
    elif kind == "missing":
        del base[draw(st.sampled_from(["id", "ts", "type"]))]
    elif kind == "unknown type":
        base["type"] = "peer." + draw(st.text(alphabet="abcxyz", min_size=1, max_size=8)) + "_x"
    elif kind == "not json":
        return draw(st.sampled_from([b"{", b'{"id": }', b"nul", b'"\\ud800"x']))
    elif kind == "not an object":
        return json.dumps(draw(st.one_of(st.integers(), st.text(max_size=5), st.none()))).encode()
    else:
        return json.dumps(base).encode()[:-1] + b', "x": "\xff\xfe"}'
    return json.dumps(base).encode()


def _reference(http: httpx.Client) -> dict[str, Any]:
    app_id = "fuzz-ref"  # one per server (module)
    answer = http.post(f"/ingest/accounts/{ACCOUNT}/apps/{app_id}/events", json=VALID)
    assert answer.json()["data"] == {"accepted": len(VALID), "duplicates": 0, "rejected": []}
    return all_reads(http, app_id)


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory):
    with running_server(backend, tmp_path_factory.mktemp("fuzz")) as live:
        yield live


@pytest.fixture(scope="module")
def http(server: LiveServer):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def expected(http) -> dict[str, Any]:
    return _reference(http)


@FUZZ
@given(
    junk=st.lists(junk_item(), min_size=1, max_size=8),
    positions=st.lists(st.integers(min_value=0, max_value=len(VALID)), min_size=8, max_size=8),
    ndjson=st.booleans(),
    resend=st.lists(st.sampled_from(range(len(VALID))), max_size=3),
)
def test_junk_among_valid_events_is_rejected_one_by_one_and_changes_nothing(
    http, expected, junk, positions, ndjson, resend
):
    items: list[bytes | None] = [json.dumps(e).encode() for e in VALID]
    for item, position in zip(junk, positions, strict=False):
        items.insert(position, item)
    junk_at = {
        i for i, item in enumerate(items) if item not in {json.dumps(e).encode() for e in VALID}
    }
    app_id = f"fuzz-{next(_apps)}"
    path = f"/ingest/accounts/{ACCOUNT}/apps/{app_id}/events"
    if ndjson:
        answer = http.post(
            path, content=b"\n".join(items), headers={"content-type": "application/x-ndjson"}
        )
    else:
        answer = http.post(path, content=b"[" + b",".join(items) + b"]")
    if not ndjson and any(not _is_json(item) for item in items):
        # a JSON array with a broken element is one unreadable body: 400, nothing stored
        assert answer.status_code == 400, answer.text
        assert (
            http.get(f"/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions").json()["data"][
                "sessions"
            ]
            == []
        )
        return
    assert answer.status_code == 200, answer.text
    report = answer.json()["data"]
    assert {r["index"] for r in report["rejected"]} == junk_at
    assert all(r["error"] for r in report["rejected"])
    assert report["accepted"] == len(VALID)
    # a valid id sent again later with another valid body: the first one stays
    changed = [dict(VALID[i], ts=VALID[i]["ts"].replace("2026", "2027")) for i in resend]
    if changed:
        again = http.post(path, json=changed).json()["data"]
        assert again == {"accepted": 0, "duplicates": len(changed), "rejected": []}
    assert all_reads(http, app_id) == expected


def _is_json(raw: bytes) -> bool:
    """Well-formed JSON, whatever bytes its strings hold (bad UTF-8 inside a string is
    one event's problem, reported with its index, not the body's)."""
    try:
        json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return False
    return True


@FUZZ
@given(
    body=st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "event",
                        "meeting",
                        "participant",
                        "sessionId",
                        "id",
                        "peerId",
                        "joinedAt",
                        "leftAt",
                        "startedAt",
                        "x",
                    ]
                ),
                children,
                max_size=5,
            ),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_signed_webhook_body_is_answered_200_or_400_never_5xx(server, http, body):
    app_id = "fuzz-hooks"
    from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key

    set_webhook_key(server.db, WebhookKeyRow(ACCOUNT, app_id, public_pem(), "f" * 64, T0))
    headers = {"rtk-uuid": delivery({}).uuid, "rtk-signature": sign(body)}
    answer = http.post(
        f"/webhooks/rtk/accounts/{ACCOUNT}/apps/{app_id}", content=body, headers=headers
    )
    assert answer.status_code in (200, 400), answer.text
    assert answer.json()["success"] is (answer.status_code == 200)
    unsigned = http.post(
        f"/webhooks/rtk/accounts/{ACCOUNT}/apps/{app_id}", content=body, headers={"rtk-uuid": "u"}
    )
    assert unsigned.status_code == 401


QUERY_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "1e309",
            "NaN",
            "2026-01-01T00:00:00Z",
            "3:1",
            ":",
            "ASC",
            "DESC",
            "LIVE",
            "minutesConsumed",
            "true",
            "%",
            "_",
            "'",
        ]
    ),
)
LIST_PARAMS = [
    "page_no",
    "per_page",
    "search",
    "status",
    "sort_by",
    "sort_order",
    "start_time",
    "end_time",
    "participants",
    "associated_id",
]


@FUZZ
@given(
    params=st.dictionaries(st.sampled_from(LIST_PARAMS), QUERY_VALUES, max_size=4),
    peer_params=st.dictionaries(
        st.sampled_from(
            ["page_no", "per_page", "view", "sort_by", "sort_order", "include_peer_events"]
        ),
        QUERY_VALUES,
        max_size=3,
    ),
)
def test_any_query_parameters_are_answered_200_or_400_never_5xx(
    http, expected, params, peer_params
):
    app = f"/accounts/{ACCOUNT}/realtime/kit/fuzz-ref"
    for path, query in (
        (f"{app}/sessions", params),
        (f"{app}/sessions/s1/participants", peer_params),
        (f"{app}/sessions/s1", peer_params),
        (f"{app}/sessions/s1/transcript", {"format": params.get("search", "")}),
    ):
        answer = http.get(path, params=query)
        assert answer.status_code in (200, 400), (path, query, answer.text)
        if answer.status_code == 400:
            assert answer.json()["error"]["message"]
    assert http.get("/healthz").status_code == 200
