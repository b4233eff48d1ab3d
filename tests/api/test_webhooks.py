"""RealtimeKit webhooks over HTTP, on a real server and both databases.

One scenario goes through both doors: as native events to one app, as signed
RealtimeKit deliveries (in several orders) to others; the read API must then
answer the same for every app, field by field. The native events are written by
hand from ``ingest.md`` §1 and §2, not produced by the mapping under test.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from rtk_sessions.clock import iso_ms
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.tables import events
from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key
from tests.api.support import all_reads, running_server
from tests.conftest import ACCOUNT, LiveServer
from tests.factories import MIN, SEC, T0
from tests.rtk_webhooks import (
    delivery,
    meeting,
    meeting_ended,
    meeting_started,
    participant_joined,
    participant_left,
    public_pem,
)

_apps = itertools.count(1)

M1 = meeting("m-weekly", "s-weekly-1", "Weekly sync", T0)
M2 = meeting("m-weekly", "s-weekly-2", "Weekly sync", T0 + 60 * MIN)
ALICE = {  # a user id: it is the user
    "peerId": "p-alice",
    "userId": "u-alice",
    "userDisplayName": "Alice",
    "customParticipantId": "c-alice",
    "presetName": "group_call_host",
    "joinedAt": iso_ms(T0 + 5 * SEC),
}
ALICE_AGAIN = {**ALICE, "peerId": "p-alice-2", "joinedAt": iso_ms(T0 + 21 * MIN)}
BOB = {  # no user id: the client-specific id is the user
    "peerId": "p-bob",
    "clientSpecificId": "cs-bob",
    "userDisplayName": "Bob",
    "customParticipantId": "c-bob",
    "presetName": "group_call_participant",
    "joinedAt": iso_ms(T0 + 1 * MIN),
}
CAROL = {  # only a custom participant id: it is the user
    "peerId": "p-carol",
    "userDisplayName": "Carol",
    "customParticipantId": "c-carol",
    "joinedAt": iso_ms(T0 + 2 * MIN),
}
DAVE = {  # second session, still in the call
    "peerId": "p-dave",
    "userId": "u-dave",
    "userDisplayName": "Dave",
    "presetName": "group_call_participant",
    "joinedAt": iso_ms(T0 + 61 * MIN),
}


def deliveries() -> list[dict]:
    return [
        meeting_started(M1),
        participant_joined(M1, ALICE),
        participant_joined(M1, BOB),
        participant_joined(M1, CAROL),
        participant_left(M1, CAROL, T0 + 10 * MIN),
        participant_left(M1, BOB, T0 + 15 * MIN),
        participant_left(M1, ALICE, T0 + 20 * MIN),
        participant_joined(M1, ALICE_AGAIN),
        participant_left(M1, ALICE_AGAIN, T0 + 30 * MIN),
        meeting_ended(M1, T0 + 30 * MIN, "HOST_ENDED_MEETING"),
        meeting_started(M2),
        participant_joined(M2, DAVE),
    ]


def native_equivalent() -> list[dict]:
    """The same scenario as native events (``ingest.md`` §1), by hand."""

    def event(n: int, kind: str, ts: int, **fields: Any) -> dict:
        return {"id": f"native-{n}", "type": kind, "ts": iso_ms(ts), **fields}

    def joined(n, session, peer, ts, user, name, custom=None, preset=None):
        fields = {"session_id": session, "meeting_id": "m-weekly", "peer_id": peer}
        fields |= {"user_id": user, "display_name": name}
        if custom:
            fields["custom_participant_id"] = custom
        if preset:
            fields["preset_name"] = preset
        return event(n, "peer.joined", ts, **fields)

    def left(n, session, peer, ts):
        return event(n, "peer.left", ts, session_id=session, peer_id=peer)

    s1, s2 = "s-weekly-1", "s-weekly-2"
    host, member = "group_call_host", "group_call_participant"
    return [
        event(1, "meeting.upserted", T0, meeting_id="m-weekly", title="Weekly sync"),
        event(2, "session.started", T0, session_id=s1, meeting_id="m-weekly"),
        joined(3, s1, "p-alice", T0 + 5 * SEC, "u-alice", "Alice", "c-alice", host),
        joined(4, s1, "p-bob", T0 + MIN, "cs-bob", "Bob", "c-bob", member),
        joined(5, s1, "p-carol", T0 + 2 * MIN, "c-carol", "Carol", "c-carol"),
        left(6, s1, "p-carol", T0 + 10 * MIN),
        left(7, s1, "p-bob", T0 + 15 * MIN),
        left(8, s1, "p-alice", T0 + 20 * MIN),
        joined(9, s1, "p-alice-2", T0 + 21 * MIN, "u-alice", "Alice", "c-alice", host),
        left(10, s1, "p-alice-2", T0 + 30 * MIN),
        event(11, "session.ended", T0 + 30 * MIN, session_id=s1, reason="HOST_ENDED_MEETING"),
        event(12, "session.started", T0 + 60 * MIN, session_id=s2, meeting_id="m-weekly"),
        joined(13, s2, "p-dave", T0 + 61 * MIN, "u-dave", "Dave", preset=member),
    ]


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory):
    with running_server(backend, tmp_path_factory.mktemp("hooks"), webhook_max_bytes=4096) as s:
        yield s


@pytest.fixture(scope="module")
def http(server: LiveServer):
    with server.client() as client:
        yield client


def new_app(server: LiveServer, *, key: str | None = "rtk") -> str:
    """A new app id of ACCOUNT, with a webhook key set (the public half of ``key``)."""
    app_id = f"hooks-{next(_apps)}"
    if key is not None:
        pem = public_pem(key)
        set_webhook_key(server.db, WebhookKeyRow(ACCOUNT, app_id, pem, "f" * 64, T0))
    return app_id


def hook_path(app_id: str, account: str = ACCOUNT) -> str:
    return f"/webhooks/rtk/accounts/{account}/apps/{app_id}"


def post(http: httpx.Client, app_id: str, payload: dict | Any, key: str | None = "rtk", **kw):
    sent = payload if hasattr(payload, "body") else delivery(payload)
    headers = sent.headers(key) | kw.pop("headers", {})
    return http.post(hook_path(app_id), content=kw.pop("content", sent.body), headers=headers)


def test_deliveries_in_any_order_answer_as_the_native_events_do(server, http):
    native_app = new_app(server, key=None)
    response = http.post(f"/ingest/accounts/{ACCOUNT}/apps/{native_app}/events",
                         json=native_equivalent())
    assert response.status_code == 200 and response.json()["data"]["rejected"] == []
    expected = all_reads(http, native_app)
    assert len([k for k in expected if "/participants/" in k]) == 5  # every peer was read

    for seed in range(3):
        order = deliveries()
        random.Random(seed).shuffle(order)
        app_id = new_app(server)
        for payload in order:
            answer = post(http, app_id, payload)
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"]["rejected"] == []
        got = all_reads(http, app_id)
        assert got.keys() == expected.keys()
        for path in expected:
            assert _diff(got[path], expected[path]) == [], (seed, path)


def _diff(got: Any, want: Any, at: str = "$") -> list[str]:
    """Where two JSON values differ, as paths with both values (readable failures)."""
    if isinstance(got, dict) and isinstance(want, dict):
        keys = sorted(set(got) | set(want))
        return [d for k in keys for d in _diff(got.get(k), want.get(k), f"{at}.{k}")]
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [d for i, (g, w) in enumerate(zip(got, want, strict=False)) for d in _diff(g, w, f"{at}[{i}]")]
    return [] if got == want else [f"{at}: {got!r} != {want!r}"]


def test_the_mapped_numbers_are_the_scenarios(server, http):
    """Independent of the native door: the scenario's own numbers, by hand."""
    app_id = new_app(server)
    for payload in deliveries():
        assert post(http, app_id, payload).status_code == 200
    base = f"/accounts/{ACCOUNT}/realtime/kit/{app_id}"
    first = http.get(f"{base}/sessions/s-weekly-1").json()["data"]["session"]
    assert first["meeting_display_name"] == "Weekly sync"
    assert first["associated_id"] == "m-weekly"
    assert first["status"] == "ENDED"
    # Alice 19:55 + 9:00, Bob 14:00, Carol 8:00 = 50:55 = 50.9166... minutes
    assert first["minutes_consumed"] == pytest.approx(50 + 55 / 60, abs=0.01)
    peers = http.get(f"{base}/sessions/s-weekly-1/participants", params={"per_page": 50})
    by_user = {p["user_id"]: p for p in peers.json()["data"]["participants"]}
    assert set(by_user) == {"u-alice", "cs-bob", "c-carol"}  # userId, clientSpecificId, custom
    assert by_user["cs-bob"]["display_name"] == "Bob"
    assert by_user["cs-bob"]["custom_participant_id"] == "c-bob"


def test_a_redelivery_is_200_and_changes_nothing(server, http):
    app_id = new_app(server)
    first = delivery(participant_joined(M1, ALICE))
    answer = post(http, app_id, first)
    assert answer.json()["data"] == {"accepted": 2, "duplicates": 0, "rejected": []}
    before = all_reads(http, app_id)
    count_before = _stored_events(server, app_id)

    again = post(http, app_id, first)

    assert again.status_code == 200
    assert again.json()["data"] == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert all_reads(http, app_id) == before
    assert _stored_events(server, app_id) == count_before == 2


def _stored_events(server: LiveServer, app_id: str, **where: str) -> int:
    app_pk = app_key(server.db, ACCOUNT, app_id)
    if app_pk is None:
        return 0
    query = select(func.count()).select_from(events).where(events.c.app_pk == app_pk)
    for column, value in where.items():
        query = query.where(events.c[column] == value)
    with server.db.read() as conn:
        return conn.execute(query).scalar_one()


@pytest.mark.parametrize(
    "event",
    [
        "recording.statusUpdate",
        "livestreaming.statusUpdate",
        "meeting.chatSynced",
        "meeting.transcript",
        "meeting.summary",
        "meeting.somethingNew",
    ],
)
def test_recorded_only_and_unknown_types_are_stored_and_acknowledged(server, http, event):
    app_id = new_app(server)
    payload = {"event": event, "sessionId": "s-x", "meetingId": "m-x", "status": "UPLOADED",
               "chatDownloadUrl": "https://example.invalid/chat.csv", "extra": {"kept": [1, 2]}}
    sent = delivery(payload)
    answer = post(http, app_id, sent)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert _stored_events(server, app_id, type="rtk.webhook", event_id=f"rtk:{sent.uuid}") == 1
    with server.db.read() as conn:
        stored = conn.execute(select(events.c.payload)).all()
    assert any(json.loads(row.payload) == payload for row in stored)  # kept as received
    listed = http.get(f"/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions").json()
    assert listed["data"]["sessions"] == []  # derivation ignores it


REFUSALS = {
    "no signature": lambda d: ({**d.headers(None)}, d.body),
    "tampered body": lambda d: (d.headers(), d.body.replace(b"Alice", b"Mallory")),
    "wrong key": lambda d: (d.headers("someone-else"), d.body),
    "not base64": lambda d: (d.headers() | {"rtk-signature": "%%%"}, d.body),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_bad_signature_is_401_and_nothing_is_stored(server, http, case):
    app_id = new_app(server)
    headers, body = REFUSALS[case](delivery(participant_joined(M1, ALICE)))
    answer = http.post(hook_path(app_id), content=body, headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["success"] is False
    assert "signature" in answer.json()["error"]["message"]
    assert _stored_events(server, app_id) == 0


def test_no_key_configured_is_401_and_nothing_is_stored(server, http):
    app_id = new_app(server, key=None)
    answer = post(http, app_id, participant_joined(M1, ALICE))
    assert answer.status_code == 401
    assert "webhook-key set" in answer.json()["error"]["message"]
    assert _stored_events(server, app_id) == 0
    assert app_key(server.db, ACCOUNT, app_id) is None  # not even the app was made


def test_a_key_of_another_app_does_not_verify(server, http):
    other = new_app(server, key="other-app")
    mine = new_app(server)
    answer = post(http, mine, participant_joined(M1, ALICE), key="other-app")
    assert answer.status_code == 401 and _stored_events(server, mine) == 0
    assert post(http, other, participant_joined(M1, ALICE), key="other-app").status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "named"),
    [
        (b"{not json", {}, "not valid JSON"),
        (b"[1, 2]", {}, "JSON object"),
        (b'{"meeting": {}}', {}, "`event`"),
        (b'{"event": "meeting.started"}', {"rtk-uuid": ""}, "rtk-uuid"),
    ],
)
def test_a_signed_but_unreadable_delivery_is_400(server, http, body, headers, named):
    app_id = new_app(server)
    sent = delivery({})
    signed = sent.headers() | {"rtk-signature": _sign(body)} | headers
    answer = http.post(hook_path(app_id), content=body, headers=signed)
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["error"]["message"]
    assert _stored_events(server, app_id) == 0


def _sign(body: bytes) -> str:
    from tests.rtk_webhooks import sign

    return sign(body)


def test_a_delivery_whose_mapping_misses_a_field_is_stored_and_says_what(server, http):
    app_id = new_app(server)
    no_peer = {k: v for k, v in ALICE.items() if k != "peerId"}
    answer = post(http, app_id, participant_joined(M1, no_peer))
    assert answer.status_code == 200  # a retry would not help: RealtimeKit must not resend
    data = answer.json()["data"]
    assert data["accepted"] == 1  # the delivery itself
    assert len(data["rejected"]) == 1 and "peer_id" in data["rejected"][0]["error"]


def test_an_oversized_delivery_is_413(server, http):
    app_id = new_app(server)
    big = participant_joined(M1, {**ALICE, "userDisplayName": "x" * 5000})
    answer = post(http, app_id, big)
    assert answer.status_code == 413
    assert "RTK_WEBHOOK_MAX_BYTES" in answer.json()["error"]["message"]
    assert _stored_events(server, app_id) == 0


def test_another_accounts_url_needs_that_accounts_key(server, http):
    app_id = new_app(server)  # key set for ACCOUNT only
    sent = delivery(participant_joined(M1, ALICE))
    answer = http.post(hook_path(app_id, account="acc-other"), content=sent.body,
                       headers=sent.headers())
    assert answer.status_code == 401
    assert app_key(server.db, "acc-other", app_id) is None


def test_unsigned_deliveries_only_with_the_unsafe_setting_and_no_key(backend, tmp_path):
    with running_server(backend, tmp_path, webhooks_allow_unsigned=True) as unsafe:
        with unsafe.client() as client:
            keyless = f"hooks-{next(_apps)}"
            assert post(client, keyless, participant_joined(M1, ALICE), key=None).status_code == 200
            keyed = new_app(unsafe)  # a key set: a signature is required all the same
            assert post(client, keyed, participant_joined(M1, ALICE), key=None).status_code == 401


def test_a_locked_database_is_503_with_retry_after_and_the_retry_stores_once(backend, tmp_path):
    """RealtimeKit retries only 5xx: our own failure to store must be one, and the
    redelivery after it must store everything exactly once."""
    with running_server(backend, tmp_path, db_busy_timeout_ms=300) as live:
        app_id = new_app(live)
        sent = delivery(participant_joined(M1, ALICE))
        with live.client() as client, _write_lock(live):
            blocked = post(client, app_id, sent)
        assert blocked.status_code == 503, blocked.text
        assert blocked.headers["retry-after"] == "5"
        assert _stored_events(live, app_id) == 0
        with live.client() as client:
            retried = post(client, app_id, sent)
        assert retried.json()["data"] == {"accepted": 2, "duplicates": 0, "rejected": []}
        assert _stored_events(live, app_id) == 2


class _write_lock:
    """Another connection holding the database's write lock (SQLite) or the events table
    (PostgreSQL) until the block ends."""

    def __init__(self, live: LiveServer) -> None:
        self.live = live

    def __enter__(self):
        self.conn = self.live.db.engine.connect()
        self.conn = self.conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self.conn.begin()
        if not self.live.db.is_sqlite:
            self.conn.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
        return self

    def __exit__(self, *exc):
        self.conn.rollback()
        self.conn.close()
