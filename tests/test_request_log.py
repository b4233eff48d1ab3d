"""`serve` logs one line per request with its request id (also sent back as a header),
as text or as JSON, and never a query string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for_server

CLI = str(Path(sys.executable).with_name("rtk-sessions"))


def _serve(tmp_path: Path, log_format: str):
    env = {**os.environ, "RTK_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
           "RTK_CONFIG_FILE": "", "RTK_LOG_FORMAT": log_format}
    token = subprocess.run(
        [CLI, "token", "create", "--account", "a", "--scope", "read", "--scope", "ingest"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.strip().splitlines()[-1]
    port, log = free_port(), tmp_path / f"serve-{log_format}.log"
    with log.open("w") as out:
        server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    wait_for_server(f"http://127.0.0.1:{port}", server, log, "/healthz", timeout_s=30)
    return server, f"http://127.0.0.1:{port}", token, log


def _traffic(base: str, token: str) -> dict[str, httpx.Response]:
    api = f"{base}/client/v4/accounts/a/realtime/kit/b/sessions"
    bearer = {"Authorization": f"Bearer {token}"}
    return {
        "given id": httpx.get(api, headers={**bearer, "X-Request-ID": "lb-7f3a.2"}),
        "unusable id": httpx.get(api, headers={**bearer, "X-Request-ID": "has spaces, and more"}),
        "no token": httpx.get(api),
        "no route": httpx.get(f"{base}/nowhere", headers=bearer),
        "signed link": httpx.get(f"{base}/downloads/abc?exp=1&sig=SECRETSIG"),
    }


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_one_line_per_request_with_its_id_in_the_header_and_no_query(tmp_path, log_format):
    server, base, token, log = _serve(tmp_path, log_format)
    try:
        answers = _traffic(base, token)
    finally:
        server.terminate()
        server.wait(timeout=15)
    ids = {name: answer.headers["x-request-id"] for name, answer in answers.items()}
    assert ids["given id"] == "lb-7f3a.2"
    assert ids["unusable id"] != "has spaces, and more" and len(ids["unusable id"]) == 32
    assert len(set(ids.values())) == len(ids)
    text = log.read_text()
    assert "SECRETSIG" not in text and "exp=1" not in text
    expected = {
        "given id": ("/client/v4/accounts/a/realtime/kit/b/sessions", 200),
        "unusable id": ("/client/v4/accounts/a/realtime/kit/b/sessions", 200),
        "no token": ("/client/v4/accounts/a/realtime/kit/b/sessions", 401),
        "no route": ("/nowhere", 404),
        "signed link": ("/downloads/abc", 403),
    }
    if log_format == "json":
        lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        requests = [r for r in lines if r["logger"] == "rtk_sessions.requests"]
        by_id = {r["request_id"]: r for r in requests}
        assert len(requests) == len(by_id) == len(expected)  # one line each
        for name, (path, status) in expected.items():
            line = by_id[ids[name]]
            assert (line["method"], line["path"], line["status"]) == ("GET", path, status)
            assert line["duration_ms"] >= 0 and line["level"] == "INFO" and line["time"]
        assert answers["no token"].status_code == 401
        # other lines of the same request carry its id too (the auth refusal's)
        refusal = [r for r in lines if r["logger"] == "rtk_sessions.api"]
        assert any(r["request_id"] == ids["no token"] for r in refusal)
    else:
        for name, (path, status) in expected.items():
            matching = [line for line in text.splitlines() if f"[{ids[name]}]" in line
                        and "rtk_sessions.requests" in line]
            assert len(matching) == 1, (name, text)
            assert f"GET {path} {status} " in matching[0]
