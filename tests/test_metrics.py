"""GET /metrics of a real `serve` with 2 worker processes, after real traffic, read with
prometheus-client's own parser: totals are summed over the workers, by route template."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import free_port, wait_for_server
from tests.factories import MIN, SEC, T0, started, transcript_segment, visit
from tests.rtk_webhooks import delivery, meeting, participant_joined, public_pem

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
METRICS_TOKEN = "metrics-secret-0f1e2d3c"
LIST = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}/sessions"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_real_traffic_across_two_workers(tmp_path):
    env = {**os.environ, "RTK_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
           "RTK_CONFIG_FILE": "", "RTK_WORKERS": "2", "RTK_METRICS_TOKEN": METRICS_TOKEN,
           "RTK_JOB_POLL_SECONDS": "0.1"}
    token = subprocess.run(
        [CLI, "token", "create", "--account", "a", "--scope", "read", "--scope", "ingest"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    pem = tmp_path / "rtk.pem"
    pem.write_text(public_pem())
    subprocess.run([CLI, "webhook-key", "set", "--account", "a", "--app", "b", str(pem)],
                   env=env, check=True, capture_output=True)
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base, server, log, "/healthz", timeout_s=30)
        bearer = {"Authorization": f"Bearer {token}"}
        events = [started("s1", "m1", T0), *visit("s1", "p1", T0, T0 + MIN),
                  transcript_segment("s1", "p1", T0 + SEC, 0, 900, "We ship Friday.")]
        with httpx.Client(base_url=base, headers=bearer, timeout=30) as http:
            first = http.post("/ingest/accounts/a/apps/b/events", json=[*events, {"id": "x"}])
            assert first.json()["data"]["accepted"] == 4
            again = http.post("/ingest/accounts/a/apps/b/events", json=events[:2])
            assert again.json()["data"]["duplicates"] == 2
            for _ in range(20):  # a connection each: the workers share them out
                listed = httpx.get(base + LIST.format(account_id="a", app_id="b"),
                                   headers=bearer)
                assert listed.status_code == 200
            assert http.get("/nowhere").status_code == 404
            made_up = http.request("BREW", "/nowhere")  # a method nobody uses
            assert http.post("/client/v4/accounts/a/realtime/kit/b/sessions/s1/summary"
                             ).status_code == 200
            deadline = time.monotonic() + 30
            while http.get("/accounts/a/realtime/kit/b/sessions/s1/summary").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        hook = delivery(participant_joined(meeting("m1", "s1", "t", T0), {
            "peerId": "p2", "joinedAt": "2026-01-01T00:00:05.000Z"}))
        path = "/webhooks/rtk/accounts/a/apps/b"
        assert httpx.post(base + path, content=hook.body, headers=hook.headers()).status_code == 200
        assert httpx.post(base + path, content=hook.body, headers=hook.headers()).status_code == 200
        assert httpx.post(base + path, content=hook.body, headers=hook.headers(None)
                          ).status_code == 401

        assert httpx.get(base + "/metrics").status_code == 401
        assert httpx.get(base + "/metrics", headers=bearer).status_code == 401  # API token
        scrapes = [httpx.get(base + "/metrics",
                             headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
                   for _ in range(6)]  # spread over both workers
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert {s.status_code for s in scrapes} == {200}
    assert scrapes[0].headers["content-type"].startswith("text/plain")
    found = samples(scrapes[-1].text)
    assert value(found, "rtk_http_requests_total", method="GET", route=LIST, status="200") == 20
    assert value(found, "rtk_http_request_duration_seconds_count", method="GET",
                 route=LIST) == 20
    assert value(found, "rtk_http_requests_total", method="GET", route="unmatched",
                 status="404") == 1
    assert value(found, "rtk_http_requests_total", method="other", route="unmatched",
                 status=str(made_up.status_code)) == 1
    assert "BREW" not in scrapes[-1].text  # made-up methods do not become labels
    ingest = {"door": "native"}
    assert value(found, "rtk_ingest_events_total", **ingest, type="peer.joined",
                 outcome="accepted") == 1
    assert value(found, "rtk_ingest_events_total", **ingest, type="session.started",
                 outcome="duplicate") == 1
    assert value(found, "rtk_ingest_events_total", **ingest, type="invalid",
                 outcome="rejected") == 1
    hooks = {"event": "meeting.participantJoined"}
    assert value(found, "rtk_webhook_deliveries_total", **hooks, outcome="stored") == 1
    assert value(found, "rtk_webhook_deliveries_total", **hooks, outcome="duplicate") == 1
    assert value(found, "rtk_webhook_deliveries_total", event="other", outcome="refused") == 1
    assert value(found, "rtk_ingest_events_total", door="webhook", type="peer.joined",
                 outcome="accepted") == 1
    assert value(found, "rtk_jobs_total", kind="summary", outcome="done") == 1
    assert value(found, "rtk_jobs_queue_depth", kind="summary", status="queued") == 0
    # the same totals whichever worker answered the scrape
    for scrape in scrapes:
        again = samples(scrape.text)
        assert value(again, "rtk_http_requests_total", method="GET", route=LIST,
                     status="200") == 20
    assert METRICS_TOKEN not in log.read_text()


def test_metrics_are_off_without_their_token(backend, tmp_path):
    from tests.api.support import running_server

    with running_server(backend, tmp_path) as live:
        answer = httpx.get(live.url + "/metrics")
    assert answer.status_code == 404
    assert "RTK_METRICS_TOKEN" in answer.json()["error"]["message"]
