"""Erasing a user through the API: afterwards nothing of them is found through any
endpoint or anywhere in the database, the numbers are what they were, and a late
redelivery of their events cannot bring them back."""

from __future__ import annotations

import time

import httpx
import pytest
from sqlalchemy import MetaData, select

from rtk_sessions.clock import iso_ms
from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key
from tests.api.support import all_reads, running_server
from tests.conftest import ACCOUNT, make_token
from tests.factories import MIN, SEC, T0, chat_message, ended, started, transcript_segment, visit
from tests.rtk_webhooks import delivery, meeting, participant_joined, public_pem

APP = "erase-app"
EVE = {"user_id": "u-eve", "display_name": "Eve Example", "custom_participant_id": "cust-eve"}
BOB = {"user_id": "u-bob", "display_name": "Bob Builder", "custom_participant_id": "cust-bob"}
NEEDLES = ["eve example", "u-eve", "cust-eve", "203.0.113.77", "evebrowser", "198.51.100.23",
           "secret plan", "launch slips"]


def metadata(peer: str, ip: str, agent: str) -> dict:
    return {"id": f"md-{peer}", "type": "peer.metadata", "ts": iso_ms(T0 + SEC), "peer_id": peer,
            "ip": ip, "user_agent": agent}


def stats(peer: str, address: str) -> dict:
    samples = [{"ts": iso_ms(T0 + i * 7 * SEC), "kind": "audio", "direction": "producer",
                "ssrc": 1, "track_id": f"{peer}-a", "packets_sent": 350 * i,
                "bytes_sent": 28_000 * i, "packets_lost": 0, "jitter": 0.01,
                "round_trip_time": 0.05,
                "candidate_pair": {"id": "cp1", "local_candidate_address": address,
                                   "remote_candidate_address": "192.0.2.1",
                                   "local_candidate_type": "host"}}
               for i in range(1, 5)]
    return {"id": f"st-{peer}", "type": "peer.stats", "ts": iso_ms(T0 + 30 * SEC),
            "peer_id": peer, "session_id": "s1", "samples": samples}


def scenario() -> list[dict]:
    events = [started("s1", "m1", T0), started("s2", "m2", T0 + 60 * MIN)]
    events += visit("s1", "p-eve-1", T0, T0 + 10 * MIN, **EVE)
    events += visit("s1", "p-eve-2", T0 + 12 * MIN, T0 + 20 * MIN, **EVE)  # a rejoin
    events += visit("s2", "p-eve-3", T0 + 60 * MIN, T0 + 70 * MIN, **EVE)
    events += visit("s1", "p-bob", T0 + SEC, T0 + 20 * MIN, **BOB)
    events += visit("s2", "p-bob-2", T0 + 60 * MIN, T0 + 65 * MIN, **BOB)
    events += [
        metadata("p-eve-1", "203.0.113.77", "EveBrowser/9.9"),
        metadata("p-bob", "198.51.100.200", "Mozilla/5.0 Firefox/120.0"),
        stats("p-eve-1", "198.51.100.23"),
        chat_message("s1", "p-eve-1", T0 + 2 * SEC, "c-eve", "my secret plan"),
        chat_message("s1", "p-bob", T0 + 3 * SEC, "c-bob", "hi all"),
        transcript_segment("s1", "p-eve-1", T0 + 5 * SEC, 1_000, 4_000, "The launch slips."),
        transcript_segment("s1", "p-bob", T0 + 9 * SEC, 5_000, 8_000, "Noted, thanks."),
        ended("s1", T0 + 20 * MIN),
    ]
    return events


@pytest.fixture(scope="module")
def live(backend, tmp_path_factory):
    with running_server(backend, tmp_path_factory.mktemp("erase"), job_poll_seconds=0.05) as s:
        yield s


@pytest.fixture(scope="module")
def admin(live):
    return make_token(live.db, ACCOUNT, scopes=("read", "ingest", "admin"))


def _everything(http: httpx.Client) -> str:
    """Every answer about the app, downloads included, as one text."""
    base = f"/accounts/{ACCOUNT}/realtime/kit/{APP}"
    seen = [str(all_reads(http, APP))]
    for peer in ("p-eve-1", "p-eve-2", "p-eve-3", "p-bob", "p-bob-2"):
        seen.append(http.get(f"{base}/sessions/peer-report/{peer}").text)
    for sid in ("s1", "s2"):
        seen.append(http.get(f"{base}/sessions/{sid}/participants",
                             params={"view": "consolidated"}).text)
        chat = http.get(f"{base}/sessions/{sid}/chat")
        if chat.status_code == 200:
            seen.append(httpx.get(chat.json()["data"]["chat_download_url"]).text)
        for fmt in ("CSV", "JSON", "SRT", "VTT"):
            got = http.get(f"{base}/sessions/{sid}/transcript", params={"format": fmt})
            if got.status_code == 200:
                seen.append(httpx.get(got.json()["data"]["transcript_download_url"]).text)
        summary = http.get(f"{base}/sessions/{sid}/summary")
        if summary.status_code == 200:
            seen.append(httpx.get(summary.json()["data"]["summaryDownloadUrl"]).text)
    return "\n".join(seen)


def _database_text(live) -> str:
    tables = MetaData()
    tables.reflect(live.db.engine)
    rows = []
    with live.db.read() as conn:
        for table in tables.sorted_tables:
            rows += [str(tuple(row)) for row in conn.execute(select(table))]
    return "\n".join(rows)


def _numbers(http: httpx.Client) -> dict:
    base = f"/accounts/{ACCOUNT}/realtime/kit/{APP}"
    listed = http.get(f"{base}/sessions").json()["data"]["sessions"]
    numbers = {s["id"]: (s["minutes_consumed"], s["max_concurrent_participants"]) for s in listed}
    for sid in ("s1", "s2"):
        for view in ("raw", "consolidated"):
            rows = http.get(f"{base}/sessions/{sid}/participants",
                            params={"view": view}).json()["data"]["participants"]
            numbers[(sid, view)] = sorted(round(r["duration"], 4) for r in rows)
    return numbers


def test_after_erasure_nothing_of_the_user_is_found_and_the_numbers_stay(live, admin):
    with live.client(admin) as http:
        assert http.post(f"/ingest/accounts/{ACCOUNT}/apps/{APP}/events",
                         json=scenario()).json()["data"]["rejected"] == []
        set_webhook_key(live.db, WebhookKeyRow(ACCOUNT, APP, public_pem(), "f" * 64, T0))
        hook = delivery(participant_joined(meeting("m1", "s1", "Weekly", T0), {
            "peerId": "p-eve-1", "userId": "u-eve", "userDisplayName": "Eve Example",
            "joinedAt": iso_ms(T0)}))
        assert http.post(f"/webhooks/rtk/accounts/{ACCOUNT}/apps/{APP}", content=hook.body,
                         headers=hook.headers()).status_code == 200
        summary = f"/accounts/{ACCOUNT}/realtime/kit/{APP}/sessions/s1/summary"
        assert http.post(summary).status_code == 200
        deadline = time.monotonic() + 30
        while http.get(summary).status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        before = _everything(http).casefold()
        assert all(needle in before + _database_text(live).casefold() for needle in NEEDLES)
        numbers = _numbers(http)

        erased = http.post(f"/admin/accounts/{ACCOUNT}/apps/{APP}/users/u-eve/erasure")
        assert erased.status_code == 200, erased.text
        report = erased.json()["data"]
        assert (report["peers"], report["sessions"], report["summaries_deleted"]) == (3, 2, 1)
        assert report["events_erased"] == 3  # a chat message, a segment, a delivery

        after = _everything(http).casefold()
        stored = _database_text(live).casefold()
        for needle in NEEDLES:
            assert needle not in after, needle
            assert needle not in stored, needle
        assert "hi all" in after and "noted, thanks" in after and "bob builder" in after
        assert "198.51.100.200" in stored  # Bob's IP is his own business
        assert _numbers(http) == numbers  # minutes, concurrency, durations, consolidation

        # a late redelivery of the erased chat message is a duplicate, not a comeback
        again = http.post(f"/ingest/accounts/{ACCOUNT}/apps/{APP}/events",
                          json=[e for e in scenario() if e.get("message_id") == "c-eve"])
        assert again.json()["data"] == {"accepted": 0, "duplicates": 1, "rejected": []}
        assert "secret plan" not in _everything(http).casefold()
        gone = http.post(f"/admin/accounts/{ACCOUNT}/apps/{APP}/users/u-eve/erasure")
        assert gone.status_code == 404


def test_erasure_needs_the_admin_scope_of_the_same_account(live):
    path = f"/admin/accounts/{ACCOUNT}/apps/{APP}/users/u-bob/erasure"
    for token in (live.token, make_token(live.db, "other-account", scopes=("admin",)),
                  make_token(live.db, ACCOUNT, apps=["another-app"], scopes=("admin",))):
        with live.client(token) as http:
            assert http.post(path).status_code == 403
    assert httpx.post(live.url + path).status_code == 401
