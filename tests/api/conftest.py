"""Fixtures of the HTTP API tests: real servers on free ports over real SQLite files.

Starting a server costs ~0.4 s, so most modules share one server per module
(``server``) and isolate their tests by giving each its own app id
(``app``): every stored row belongs to one (account, app), so tests cannot
see each other's data. The clock of a shared server is reset before each
test. ``small_live`` is a server with tiny ingest limits (413 tests).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.store.database import Database
from rtk_sessions.store.migrate import upgrade
from tests.api.support import AppUnderTest
from tests.conftest import LiveServer, TestClock, free_port, make_token, serve_in_thread
from tests.factories import T0

START_MS = T0  # 2026-01-01T00:00:00Z, the clock of every test unless it moves it
_app_ids = itertools.count(1)


@contextmanager
def running_server(directory: Path, **settings: Any) -> Iterator[LiveServer]:
    """A migrated SQLite file in ``directory``, served by uvicorn, with a read+ingest token."""
    url = f"sqlite:///{directory / 'rtk.db'}"
    db = Database(url)
    upgrade(db)
    clock = TestClock(START_MS)
    port = free_port()
    app = create_app(Settings(database_url=url, session_grace_seconds=60, **settings),
                     database=db, clock=clock)
    server, thread = serve_in_thread(app, port)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", db, clock, make_token(db))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One server for the whole module (isolate tests with ``app``)."""
    with running_server(tmp_path_factory.mktemp("server")) as live_server:
        yield live_server


@pytest.fixture(scope="module")
def small_live(tmp_path_factory) -> Iterator[LiveServer]:
    """A server that takes at most 5 events and 2048 bytes per ingest request."""
    with running_server(tmp_path_factory.mktemp("small"), ingest_max_events=5,
                        ingest_max_bytes=2048) as live_server:
        yield live_server


@pytest.fixture(scope="module")
def server_http(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the module's server with its read+ingest token (opening one costs ~40 ms)."""
    with server.client() as http:
        yield http


@pytest.fixture
def app(server: LiveServer, server_http: httpx.Client) -> Iterator[AppUnderTest]:
    """A new, empty app on the module's server; the clock starts at ``START_MS``."""
    server.clock.now_ms = START_MS
    yield AppUnderTest(server, f"app-{next(_app_ids)}", server_http)
    server.clock.now_ms = START_MS
