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


def test_healthz_answered_before_the_framework_is_the_framework_answer(database_url):
    """serve answers GET /healthz ahead of Litestar (rtk_sessions.asgi): the same status,
    body and content type as the framework's own route, which the app alone still
    serves; other methods and paths still reach the framework."""
    import asyncio

    from rtk_sessions.api.health import liveness_first
    from rtk_sessions.app import create_app
    from rtk_sessions.config import Settings

    framework = create_app(Settings(database_url=database_url, jobs_in_serve=False))
    reached: list[tuple[str, str]] = []

    async def counted(scope, receive, send) -> None:
        reached.append((scope["method"], scope["path"]))
        await framework(scope, receive, send)

    fronted = liveness_first(counted)

    async def call(app, method: str, path: str) -> tuple[int, dict, bytes]:
        sent: list[dict] = []
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": b"", "root_path": "", "headers": [(b"host", b"t")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        }

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        headers = {k.decode(): v.decode() for k, v in sent[0]["headers"]}
        return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])

    for method, path in (("GET", "/healthz"), ("POST", "/healthz"), ("GET", "/nowhere")):
        ours = asyncio.run(call(fronted, method, path))
        theirs = asyncio.run(call(framework, method, path))
        assert ours[0] == theirs[0], (method, path)
        assert ours[2] == theirs[2], (method, path)
        assert ours[1]["content-type"] == theirs[1]["content-type"], (method, path)
    assert reached == [("POST", "/healthz"), ("GET", "/nowhere")]  # GET /healthz did not
