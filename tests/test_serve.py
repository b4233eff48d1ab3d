"""`rtk-sessions serve` as a user starts it, on granian (default) and on uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_server

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "basic" / "events.ndjson"


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_serve_answers_ingest_and_reads(tmp_path, database_url, server):
    env = {
        **os.environ,
        "RTK_DATABASE_URL": database_url,
        "RTK_SERVER": server,
    }
    created = subprocess.run(
        [CLI, "token", "create", "--account", "a", "--scope", "read", "--scope", "ingest"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_server(base, process, log, "/healthz", timeout_s=30)
        headers = {"Authorization": f"Bearer {token}"}
        ingested = httpx.post(
            f"{base}/ingest/accounts/a/apps/b/events",
            headers={**headers, "Content-Type": "application/x-ndjson"},
            content=EXAMPLE.read_bytes(),
        )
        assert ingested.json()["data"]["accepted"] == 764
        listed = httpx.get(
            f"{base}/client/v4/accounts/a/realtime/kit/b/sessions", headers=headers
        ).json()
        assert listed["paging"]["total_count"] == 37
        assert httpx.get(f"{base}/readyz").json()["status"] == "ok"
    finally:
        process.terminate()
        process.wait(timeout=15)
