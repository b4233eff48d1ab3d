"""Helpers of the HTTP API tests: a server, an app under test, the error-envelope checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.store.database import database_for
from rtk_sessions.store.migrate import upgrade
from tests.conftest import (
    ACCOUNT,
    LiveServer,
    TestClock,
    free_port,
    make_token,
    serve_in_thread,
)
from tests.databases import fresh_database_url
from tests.factories import T0

START_MS = T0  # 2026-01-01T00:00:00Z, the clock of every test unless it moves it


@contextmanager
def running_server(backend: str, directory: Path, **settings: Any) -> Iterator[LiveServer]:
    """A new migrated database of ``backend`` (a SQLite file in ``directory`` or a
    PostgreSQL schema), served by uvicorn, with a read+ingest token."""
    with fresh_database_url(backend, directory) as url:
        with _serving(url, **settings) as server:
            yield server


@contextmanager
def _serving(url: str, **settings: Any) -> Iterator[LiveServer]:
    config = Settings(database_url=url, session_grace_seconds=60, **settings)
    db = database_for(config)  # the settings' pool and busy timeout
    upgrade(db)
    clock = TestClock(START_MS)
    port = free_port()
    app = create_app(config, database=db, clock=clock)
    server, thread = serve_in_thread(app, port)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", db, clock, make_token(db))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()


@dataclass
class AppUnderTest:
    """One fresh app (of account ``acc-1``) on a shared server, with an open client."""

    server: LiveServer
    app_id: str
    http: httpx.Client

    @property
    def clock(self) -> TestClock:
        return self.server.clock

    @property
    def base(self) -> str:
        """``/accounts/acc-1/realtime/kit/<app id>``."""
        return self.server.api(ACCOUNT, self.app_id)

    @property
    def ingest_path(self) -> str:
        return f"/ingest/accounts/{ACCOUNT}/apps/{self.app_id}/events"

    def ingest(self, events: list[dict]) -> dict:
        """Ingest events that must all be valid; returns the ingest report."""
        response = self.http.post(self.ingest_path, json=events)
        assert response.status_code == 200, response.text
        report = response.json()["data"]
        assert report["rejected"] == [], report
        return report

    def get(self, suffix: str, **params: Any) -> httpx.Response:
        return self.http.get(self.base + suffix, params=params)

    def ok(self, suffix: str, **params: Any) -> dict:
        """The JSON body of a GET that must succeed."""
        response = self.get(suffix, **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["success"] is True
        return body

    def sessions(self, **params: Any) -> list[dict]:
        return self.ok("/sessions", **params)["data"]["sessions"]

    def session(self, session_id: str, **params: Any) -> dict:
        return self.ok(f"/sessions/{session_id}", **params)["data"]

    def participants(self, session_id: str, **params: Any) -> list[dict]:
        params.setdefault("per_page", 200)
        return self.ok(f"/sessions/{session_id}/participants", **params)["data"]["participants"]


def all_reads(http: httpx.Client, app_id: str, account: str = ACCOUNT) -> dict[str, Any]:
    """Every read the API offers about an app's sessions (list, each session, both
    participant views, each participant's details), by path, with the app id itself
    replaced so that two apps' answers compare equal when their data is."""
    base = f"/accounts/{account}/realtime/kit/{app_id}"
    seen: dict[str, Any] = {}

    def read(path: str, **params: Any) -> dict:
        response = http.get(base + path, params=params)
        assert response.status_code == 200, (path, response.text)
        seen[f"{path}?{sorted(params.items())}"] = json.loads(
            response.text.replace(json.dumps(app_id), '"<app>"')
        )
        return response.json()

    for session in read("/sessions", per_page=100)["data"]["sessions"]:
        sid = session["id"]
        read(f"/sessions/{sid}", include_breakout_rooms="true")
        read(f"/sessions/{sid}/participants", per_page=100, view="raw")
        peers = read(f"/sessions/{sid}/participants", per_page=100)["data"]["participants"]
        for peer in peers:
            read(f"/sessions/{sid}/participants/{peer['id']}")
    return seen


def assert_bad_request(response: httpx.Response, *names: str) -> str:
    """A 400 in RealtimeKit's envelope whose message names each of ``names``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == 400
    message = body["error"]["message"]
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"
    return message


def assert_not_found(response: httpx.Response) -> str:
    assert response.status_code == 404, response.text
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    assert body["error"]["code"] == 404
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]
