"""`rtk-sessions backup` of a live SQLite database while `serve` keeps ingesting: the
copy is consistent (whole batches only) and serves as a database of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_server
from tests.factories import MIN, SEC, T0, ended, started, visit

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
PEERS = 3


def batch(n: int) -> list[dict]:
    """Batch n: 20 sessions of 3 visits each (one request: stored whole or not at all)."""
    out: list[dict] = []
    for k in range(20):
        sid, start = f"s-{n}-{k}", T0 + (n * 20 + k) * MIN
        out.append(started(sid, f"m-{sid}", start))
        for p in range(PEERS):
            out += visit(sid, f"{sid}-p{p}", start + p * SEC, start + 5 * MIN)
        out.append(ended(sid, start + 5 * MIN))
    return out


def _serve(env: dict, port: int, log: Path) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT)


def test_a_backup_taken_during_ingest_is_whole_and_serves(tmp_path):
    live_db, copy = tmp_path / "live.db", tmp_path / "backups" / "copy.db"
    env = {**os.environ, "RTK_DATABASE_URL": f"sqlite:///{live_db}", "RTK_CONFIG_FILE": ""}
    token = subprocess.run(
        [CLI, "token", "create", "--account", "a", "--scope", "read", "--scope", "ingest"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    port, log = free_port(), tmp_path / "serve.log"
    server = _serve(env, port, log)
    acknowledged: list[int] = []
    stop = threading.Event()

    def ingest() -> None:
        with httpx.Client(headers=headers, timeout=60) as http:
            n = 0
            while not stop.is_set():
                answer = http.post(f"http://127.0.0.1:{port}/ingest/accounts/a/apps/b/events",
                                   json=batch(n))
                assert answer.status_code == 200
                acknowledged.append(n)
                n += 1

    try:
        wait_for_server(f"http://127.0.0.1:{port}", server, log, "/healthz", timeout_s=30)
        writer = threading.Thread(target=ingest)
        writer.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 5 and writer.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        before = len(acknowledged)
        made = subprocess.run([CLI, "backup", str(copy)], env=env, capture_output=True,
                              text=True, timeout=120)
        after = len(acknowledged)
        stop.set()
        writer.join(timeout=60)
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert made.returncode == 0, made.stderr
    assert "integrity ok" in made.stderr
    assert after > before, "ingest went on during the backup"

    copy_env = {**env, "RTK_DATABASE_URL": f"sqlite:///{copy}"}
    port = free_port()
    server = _serve(copy_env, port, log)
    try:
        wait_for_server(f"http://127.0.0.1:{port}", server, log, "/healthz", timeout_s=30)
        api = f"http://127.0.0.1:{port}/client/v4/accounts/a/realtime/kit/b/sessions"
        with httpx.Client(headers=headers, timeout=30) as http:  # the token is in the copy
            total = http.get(api, params={"per_page": 1}).json()["paging"]["total_count"]
            assert before * 20 <= total <= (after + 1) * 20
            assert total % 20 == 0  # whole batches only
            last = total // 20 - 1
            for sid in ("s-0-0", f"s-{last}-19"):
                session = http.get(f"{api}/{sid}").json()["data"]["session"]
                assert session["max_concurrent_participants"] == PEERS
                assert session["minutes_consumed"] == pytest.approx(
                    sum(5 - p / 60 for p in range(PEERS)), abs=0.01)
            assert http.get(f"{api}/s-{last + 1}-0").status_code == 404
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_backup_refuses_to_overwrite_and_explains_postgresql(tmp_path):
    target = tmp_path / "exists.db"
    target.write_text("keep me")
    env = {**os.environ, "RTK_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
           "RTK_CONFIG_FILE": ""}
    subprocess.run([CLI, "migrate"], env=env, check=True, capture_output=True)
    refused = subprocess.run([CLI, "backup", str(target)], env=env, capture_output=True,
                             text=True)
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert target.read_text() == "keep me"
    pg = {**env, "RTK_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    told = subprocess.run([CLI, "backup", str(tmp_path / "x.db")], env=pg,
                          capture_output=True, text=True)
    assert told.returncode == 2 and "pg_dump" in told.stderr
