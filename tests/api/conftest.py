"""Fixtures of the HTTP API tests: real servers on free ports over real
databases (SQLite and PostgreSQL: each module runs once per backend).

Starting a server costs ~0.4 s, so most modules share one server per module
(``server``) and isolate their tests by giving each its own app id
(``app``): every stored row belongs to one (account, app), so tests cannot
see each other's data. The clock of a shared server is reset before each
test. ``small_live`` is a server with tiny ingest limits (413 tests).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest

from tests.api.support import START_MS, AppUnderTest, running_server
from tests.conftest import LiveServer

_app_ids = itertools.count(1)


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory) -> Iterator[LiveServer]:
    """One server per module and database backend (isolate tests with ``app``)."""
    with running_server(backend, tmp_path_factory.mktemp("server")) as live_server:
        yield live_server


@pytest.fixture(scope="module")
def small_live(backend: str, tmp_path_factory) -> Iterator[LiveServer]:
    """A server that takes at most 5 events and 2048 bytes per ingest request."""
    with running_server(backend, tmp_path_factory.mktemp("small"), ingest_max_events=5,
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
