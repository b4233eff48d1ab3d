"""Crash safety, as an operator meets it: `serve` and `worker` killed with SIGKILL in the
middle of their work, restarted, and nothing acknowledged lost, nothing done twice.

Real processes on a real database (a SQLite file, a PostgreSQL schema), killed with
their whole process group (granian's workers too) while requests are in flight.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from rtk_sessions.store.database import Database
from rtk_sessions.store.tables import events, jobs, summaries
from tests.conftest import free_port, wait_for_server
from tests.factories import MIN, SEC, T0, ended, started, transcript_segment, visit

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
BATCHES, SESSIONS_PER_BATCH, PEERS = 120, 25, 3


def _env(database_url: str, **settings: str) -> dict[str, str]:
    return {**os.environ, "RTK_DATABASE_URL": database_url, "RTK_CONFIG_FILE": "", **settings}


def _token(env: dict[str, str]) -> str:
    created = subprocess.run(
        [CLI, "token", "create", "--account", "a", "--scope", "read", "--scope", "ingest"],
        env=env, capture_output=True, text=True, check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(
            [CLI, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _kill_group(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=15)


def batch(n: int) -> list[dict]:
    """Batch ``n``: 25 sessions, each started, three visits of 10 minutes, ended."""
    out: list[dict] = []
    for k in range(SESSIONS_PER_BATCH):
        sid, start = f"s-{n}-{k}", T0 + (n * SESSIONS_PER_BATCH + k) * MIN
        out.append(started(sid, f"m-{sid}", start))  # a meeting each: none superseded
        for p in range(PEERS):
            out += visit(sid, f"{sid}-p{p}", start + p * SEC, start + 10 * MIN)
        out.append(ended(sid, start + 10 * MIN))
    return out


def test_serve_killed_mid_ingest_loses_no_acknowledged_event_and_stores_none_twice(
    tmp_path, database_url
):
    env = _env(database_url, RTK_WORKERS="2")
    token = _token(env)
    port = free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    path = f"{base}/ingest/accounts/a/apps/crash/events"
    headers = {"Authorization": f"Bearer {token}"}
    acknowledged: list[int] = []
    sent = threading.Event()

    def client(lane: int) -> None:
        with httpx.Client(headers=headers, timeout=30) as http:
            for n in range(lane, BATCHES, 2):
                try:
                    answer = http.post(path, json=batch(n))
                except httpx.HTTPError:
                    return  # the server died under this request: not acknowledged
                if answer.status_code == 200:
                    assert answer.json()["data"]["rejected"] == []
                    acknowledged.append(n)
                sent.set()

    server = _start(["serve", "--port", str(port)], env, log)
    try:
        wait_for_server(base, server, log, "/healthz", timeout_s=30)
        lanes = [threading.Thread(target=client, args=(lane,)) for lane in (0, 1)]
        for lane in lanes:
            lane.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        _kill_group(server)  # SIGKILL, requests in flight
        for lane in lanes:
            lane.join(timeout=60)
    finally:
        if server.poll() is None:
            _kill_group(server)
    killed_after = sorted(acknowledged)
    assert 10 <= len(killed_after) < BATCHES, "the kill must land mid-ingest"

    db = Database(database_url)
    try:
        with db.read() as conn:
            stored = [row.event_id for row in conn.execute(select(events.c.event_id))]
    finally:
        db.dispose()
    assert len(stored) == len(set(stored))  # none twice
    for n in killed_after:
        assert {e["id"] for e in batch(n)} <= set(stored), f"acknowledged batch {n} lost"

    server = _start(["serve", "--port", str(port)], env, log)  # restart, send everything
    try:
        wait_for_server(base, server, log, "/healthz", timeout_s=30)
        with httpx.Client(headers=headers, timeout=60) as http:
            accepted = duplicates = 0
            for n in range(BATCHES):
                data = http.post(path, json=batch(n)).json()["data"]
                accepted, duplicates = accepted + data["accepted"], duplicates + data["duplicates"]
            total_events = sum(len(batch(n)) for n in range(BATCHES))
            assert duplicates == len(stored) and accepted == total_events - len(stored)
            api = f"{base}/client/v4/accounts/a/realtime/kit/crash/sessions"
            listed = http.get(api, params={"per_page": 1}).json()
            assert listed["paging"]["total_count"] == BATCHES * SESSIONS_PER_BATCH
            for n in (killed_after[0], killed_after[-1], BATCHES - 1):
                session = http.get(f"{api}/s-{n}-7").json()["data"]["session"]
                assert session["minutes_consumed"] == pytest.approx(
                    sum(10 - p / 60 for p in range(PEERS)), abs=0.01
                )  # each peer once: 10 min less its join offset of p seconds
                assert session["max_concurrent_participants"] == PEERS
    finally:
        server.terminate()
        server.wait(timeout=15)


class SlowModel:
    """An OpenAI-compatible summary model on 127.0.0.1 that takes ``delay_s`` to answer,
    counting the requests it got."""

    def __init__(self, delay_s: float) -> None:
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                outer.requests += 1
                self.rfile.read(int(self.headers["content-length"]))
                time.sleep(delay_s)
                body = json.dumps(
                    {"choices": [{"message": {"role": "assistant", "content": "Short summary."}}]}
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the worker that asked was killed

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_a_worker_killed_mid_job_is_replaced_and_the_job_completes_once(tmp_path, database_url):
    model = SlowModel(delay_s=2.0)
    env = _env(
        database_url,
        RTK_SUMMARY_LLM_URL=model.url,
        RTK_SUMMARY_LLM_MODEL="m",
        RTK_JOB_LEASE_SECONDS="1",
        RTK_JOB_POLL_SECONDS="0.1",
    )
    token = _token(env)
    port = free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "crash.log"
    headers = {"Authorization": f"Bearer {token}"}
    call = [started("s1", "m1", T0), *visit("s1", "p1", T0, T0 + MIN, user_id="u1"),
            transcript_segment("s1", "p1", T0 + 5 * SEC, 1_000, 5_000, "We ship on Friday.")]
    server = _start(["serve", "--port", str(port)], env | {"RTK_JOBS_IN_SERVE": "false"}, log)
    worker = _start(["worker"], env, log)
    try:
        wait_for_server(base, server, log, "/healthz", timeout_s=30)
        api = f"{base}/client/v4/accounts/a/realtime/kit/b/sessions/s1/summary"
        with httpx.Client(headers=headers, timeout=30) as http:
            assert http.post(f"{base}/ingest/accounts/a/apps/b/events", json=call).status_code == 200
            assert http.post(api).json()["data"]["status"] == "queued"
            deadline = time.monotonic() + 30
            while model.requests == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert model.requests == 1  # the worker is waiting on the model: mid-job
            _kill_group(worker)
            worker = _start(["worker"], env, log)  # a new worker, after the lease ran out
            deadline = time.monotonic() + 60
            while http.get(api).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            summary_url = http.get(api).json()["data"]["summaryDownloadUrl"]
            assert httpx.get(summary_url).text == "Short summary."
    finally:
        for process in (server, worker):
            if process.poll() is None:
                _kill_group(process)
    db = Database(database_url)
    try:
        with db.read() as conn:
            done = conn.execute(select(jobs.c.status, jobs.c.attempts, jobs.c.error)).all()
            written = conn.execute(select(summaries.c.session_id, summaries.c.job_id)).all()
    finally:
        db.dispose()
    assert [(status, attempts) for status, attempts, _ in done] == [("done", 2)]
    assert "lease expired" in done[0].error  # the first attempt's worker was presumed dead
    assert len(written) == 1 and model.requests == 2
