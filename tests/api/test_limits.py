"""Abuse limits on a real server: a per-token request rate (429 + Retry-After), the
search length cap, harmless SQL in a search, and clients too slow to send a body or
their headers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.api.support import running_server
from tests.conftest import ACCOUNT, free_port, make_token, wait_for_server
from tests.factories import MIN, T0, meeting, started, visit

CLI = str(Path(sys.executable).with_name("rtk-sessions"))


def test_a_token_past_its_rate_gets_429_with_retry_after_and_others_go_on(backend, tmp_path):
    with running_server(backend, tmp_path, rate_limit_per_minute=5) as live:
        other = make_token(live.db, ACCOUNT)
        path = live.api() + "/sessions"
        with live.client() as http, live.client(other) as second:
            answers = [http.get(path) for _ in range(6)]
            assert [a.status_code for a in answers] == [200] * 5 + [429]
            refused = answers[-1]
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            assert refused.headers["ratelimit-limit"] == "5"
            assert refused.json()["success"] is False
            assert "RTK_RATE_LIMIT_PER_MINUTE" in refused.json()["error"]["message"]
            assert second.get(path).status_code == 200  # counted per token
            assert http.post(live.api() + "/sessions/x/summary").status_code == 429  # any route
            assert all(http.get("/healthz").status_code == 200 for _ in range(10))  # probes


def test_without_the_setting_there_is_no_limit(backend, tmp_path):
    with running_server(backend, tmp_path) as live, live.client() as http:
        assert {http.get(live.api() + "/sessions").status_code for _ in range(50)} == {200}


@pytest.fixture(scope="module")
def catalog(backend: str, tmp_path_factory):
    with running_server(backend, tmp_path_factory.mktemp("limits"),
                        body_read_timeout_seconds=1) as live:
        with live.client() as http:
            events = [meeting("m1", "Robert'); DROP TABLE sessions;--"), started("s1", "m1", T0),
                      *visit("s1", "p1", T0, T0 + MIN)]
            assert http.post(f"/ingest/accounts/{ACCOUNT}/apps/app-1/events",
                             json=events).status_code == 200
        yield live


def test_a_search_longer_than_200_characters_is_a_400(catalog):
    with catalog.client() as http:
        path = catalog.api() + "/sessions"
        assert http.get(path, params={"search": "x" * 200}).status_code == 200
        refused = http.get(path, params={"search": "x" * 201})
    assert refused.status_code == 400
    assert "search" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("needle", "found"),
    [
        ("'); DROP TABLE sessions;--", ["s1"]),  # literal text of the title
        ("' OR '1'='1", []),
        ('" OR 1=1 --', []),
        ("\\", []),
        ("%%", []),
        ("_x_", []),
    ],
)
def test_sql_and_like_metacharacters_in_a_search_are_literal(catalog, needle, found):
    with catalog.client() as http:
        answer = http.get(catalog.api() + "/sessions", params={"search": needle})
        assert answer.status_code == 200
        assert [s["id"] for s in answer.json()["data"]["sessions"]] == found
        everything = http.get(catalog.api() + "/sessions").json()["data"]["sessions"]
    assert [s["id"] for s in everything] == ["s1"]  # nothing dropped or changed


def _raw_request(port: int, head: bytes, body: bytes, wait_s: float) -> bytes:
    """Send ``head`` and part of a body, stall ``wait_s``, return what the server said."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s + 10) as sock:
        sock.sendall(head + body)
        time.sleep(wait_s)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b'"success"' in b"".join(chunks):
                break
        return b"".join(chunks)


def test_a_client_too_slow_to_send_its_body_gets_408(catalog):
    port = int(catalog.url.rsplit(":", 1)[1])
    head = (
        f"POST /ingest/accounts/{ACCOUNT}/apps/app-1/events HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {catalog.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: 1000\r\n\r\n"
    ).encode()
    said = _raw_request(port, head, b'[{"id": "slow"', wait_s=2)
    assert said.startswith(b"HTTP/1.1 408"), said[:200]
    assert b"RTK_BODY_READ_TIMEOUT_SECONDS" in said


def test_serve_closes_a_connection_whose_headers_never_finish(tmp_path, database_url):
    env = {"RTK_DATABASE_URL": database_url, "RTK_CONFIG_FILE": "",
           "RTK_HEADER_READ_TIMEOUT_SECONDS": "1", "PATH": "/usr/bin:/bin"}
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for_server(f"http://127.0.0.1:{port}", server, log, "/healthz", timeout_s=30)
        started_at = time.monotonic()
        said = _raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"", wait_s=3)
        assert b"200 OK" not in said  # never answered as if the request were whole
        assert time.monotonic() - started_at < 8  # and the connection did not hang on
    finally:
        server.terminate()
        server.wait(timeout=15)
