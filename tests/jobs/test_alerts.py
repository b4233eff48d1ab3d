"""Quality alerts end to end: a real server's job worker scans, raises and delivers
signed alerts to a receiver on 127.0.0.1 that fails the first attempts; each alert is
delivered with one idempotency id, retried with back-off, and given up after the
bounded number of attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rtk_sessions.clock import iso_ms
from rtk_sessions.store.alerts import AlertTarget, set_target
from tests.api.support import START_MS, running_server
from tests.conftest import ACCOUNT
from tests.factories import MIN, SEC, ended, started, visit

SECRET = "alert-secret-5e6f7a8b9c0d"
NOW = START_MS


class Receiver:
    """Answers 500 to the first ``failures`` POSTs of each alert id, then 200."""

    def __init__(self, failures: int) -> None:
        self.got: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.got.append((headers, body))
                tries = sum(1 for h, _ in outer.got if h["rtk-alert-id"] == headers["rtk-alert-id"])
                self.send_response(500 if tries <= failures else 200)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/alerts"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def by_alert(self) -> dict[str, list[tuple[dict, bytes]]]:
        found: dict[str, list] = {}
        for headers, body in self.got:
            found.setdefault(headers["rtk-alert-id"], []).append((headers, body))
        return found


def stats(peer: str, lost: int, start: int) -> dict:
    samples = [{"ts": iso_ms(start + 7 * SEC * i), "kind": "audio", "direction": "consumer",
                "ssrc": 1, "track_id": f"{peer}-c", "packets_received": 350 * i,
                "bytes_received": 28_000 * i, "packets_lost": lost * i,
                "jitter": 0.08 if lost else 0.005, "concealment_events": 20 * i if lost else 0,
                "total_samples_received": 48_000 * 7 * i}
               for i in range(1, 8)]
    return {"id": f"st-{peer}", "type": "peer.stats", "ts": iso_ms(start + 50 * SEC),
            "peer_id": peer, "session_id": "s1", "samples": samples}


def call() -> list[dict]:
    start = NOW - 30 * MIN
    events = [started("s1", "m1", start)]
    events += visit("s1", "p-good", start, NOW - 5 * MIN, user_id="u-good", display_name="Good")
    events += visit("s1", "p-bad", start + MIN, NOW - 5 * MIN, user_id="u-bad",
                    display_name="Bad")
    events += [stats("p-good", 0, start), stats("p-bad", 100, start + MIN),
               ended("s1", NOW - 5 * MIN)]
    return events


def _advance_until(live, done, timeout_s: float = 30) -> None:
    """Move the server's clock on (past each retry back-off) until ``done()``."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "alerts not delivered in time"
        time.sleep(0.25)
        live.clock.now_ms += 3 * SEC


@pytest.fixture
def live(backend, tmp_path):
    with running_server(backend, tmp_path, job_poll_seconds=0.05, alerts_scan_seconds=1) as s:
        yield s


def _register(live, app_id: str, url: str) -> None:
    set_target(live.db, AlertTarget(ACCOUNT, app_id, url, SECRET, 0.5, 3, NOW - 60 * MIN))


def test_alerts_are_signed_retried_and_delivered_once_each(live):
    receiver = Receiver(failures=2)
    _register(live, "alerted", receiver.url)
    with live.client() as http:
        answer = http.post(f"/ingest/accounts/{ACCOUNT}/apps/alerted/events", json=call())
        assert answer.json()["data"]["rejected"] == []
    _advance_until(live, lambda: sum(len(v) for v in receiver.by_alert().values()) >= 6)
    time.sleep(0.5)  # nothing more may come

    deliveries = receiver.by_alert()
    assert sorted(deliveries) == ["peer.low_quality:s1:p-bad", "session.ended:s1"]
    for alert_id, attempts in deliveries.items():
        assert len(attempts) == 3  # two failures, then delivered; none after
        assert {body for _, body in attempts} == {attempts[0][1]}  # the same alert each time
        for headers, body in attempts:
            assert headers["rtk-alert-id"] == alert_id
            t, v1 = (part.split("=", 1)[1] for part in headers["rtk-alert-signature"].split(","))
            expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256)
            assert hmac.compare_digest(v1, expected.hexdigest())
            assert abs(int(t) * 1000 - live.clock.now_ms) < 60_000

    ended_alert = json.loads(deliveries["session.ended:s1"][0][1])
    session = ended_alert["session"]
    assert (ended_alert["type"], session["id"], session["participants"]) == (
        "session.ended", "s1", 2)
    assert session["max_concurrent_participants"] == 2
    assert session["minutes_consumed"] == pytest.approx(25 + 24, abs=0.001)  # 25 + 24 min
    assert [p["peer_id"] for p in ended_alert["worst_peers"]] == ["p-bad", "p-good"]
    assert ended_alert["worst_peers"][0]["average_mos_quality"] < 0.5
    assert ended_alert["worst_peers"][1]["average_mos_quality"] > 0.9

    low = json.loads(deliveries["peer.low_quality:s1:p-bad"][0][1])
    assert (low["peer_id"], low["user_id"], low["intervals"]) == ("p-bad", "u-bad", 3)
    assert len(low["mos_quality"]) == 3 and max(low["mos_quality"]) < 0.5
    assert SECRET not in str(receiver.got[0][0])


def test_a_receiver_that_never_answers_2xx_is_given_up_after_the_attempts(live):
    receiver = Receiver(failures=10**6)
    _register(live, "down", receiver.url)
    with live.client() as http:
        http.post(f"/ingest/accounts/{ACCOUNT}/apps/down/events",
                  json=[e for e in call() if e["type"] != "peer.stats"])
    _advance_until(live, lambda: len(receiver.got) >= 3)
    for _ in range(8):  # well past every back-off: no fourth attempt
        live.clock.now_ms += 10 * SEC
        time.sleep(0.1)
    assert len(receiver.got) == 3
    from sqlalchemy import select

    from rtk_sessions.store.tables import jobs

    with live.db.read() as conn:
        statuses = conn.execute(
            select(jobs.c.status, jobs.c.attempts).where(jobs.c.kind == "alert_delivery")
        ).all()
    assert [tuple(s) for s in statuses] == [("failed", 3)]
