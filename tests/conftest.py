"""Shared fixtures: real databases (a SQLite file or a PostgreSQL schema each), the real app on a real port, a controllable clock."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.store.database import Database
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.tokens import create_token
from tests.databases import BACKENDS, fresh_database_url, leftover_schemas

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ACCOUNT = "acc-1"
APP = "app-1"


class TestClock:
    """A clock the test moves by hand (epoch milliseconds)."""

    __test__ = False

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def wait_for_server(
    base: str, process: subprocess.Popen, log: Path, path: str = "/readyz", timeout_s: float = 60
) -> None:
    """Poll a just-started server subprocess until ``path`` answers 200; fail with its log
    if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()}")
        try:
            if httpx.get(base + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"server did not answer {path}: {log.read_text()}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the run if a PostgreSQL schema it created was not dropped."""
    left = leftover_schemas()
    if left:
        session.config.get_terminal_writer().line(
            f"FAILED: PostgreSQL test schemas left behind: {', '.join(left)}", red=True
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind of the test: every storage test runs on SQLite and PostgreSQL."""
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the test's own: a SQLite file or a PostgreSQL schema."""
    with fresh_database_url(backend, tmp_path) as url:
        yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    upgrade(db)
    yield db
    db.dispose()


def make_token(
    db: Database,
    account: str = ACCOUNT,
    apps: list[str] | None = None,
    scopes: tuple[str, ...] = ("read", "ingest"),
    email: str | None = None,
) -> str:
    with db.write() as conn:
        _, secret = create_token(
            conn,
            account_id=account,
            app_ids=apps,
            scopes=list(scopes),
            email=email,
            name="test",
            now_ms=0,
        )
    return secret


@dataclass
class LiveServer:
    """The app served by uvicorn on 127.0.0.1 in a thread of the test process."""

    url: str
    db: Database
    clock: TestClock
    token: str

    @property
    def backend(self) -> str:
        return "sqlite" if self.db.is_sqlite else "postgres"

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def api(self, account: str = ACCOUNT, app: str = APP) -> str:
        return f"/accounts/{account}/realtime/kit/{app}"

    def ingest(
        self, events: list[dict] | bytes, account: str = ACCOUNT, app: str = APP, **kwargs
    ) -> httpx.Response:
        with self.client() as client:
            path = f"/ingest/accounts/{account}/apps/{app}/events"
            if isinstance(events, bytes):
                return client.post(path, content=events, **kwargs)
            return client.post(path, json=events, **kwargs)


def serve_in_thread(app, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    return server, thread


@pytest.fixture
def clock() -> TestClock:
    return TestClock(1_767_225_600_000)  # 2026-01-01T00:00:00Z


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, session_grace_seconds=60)


@pytest.fixture
def live(database: Database, settings: Settings, clock: TestClock) -> Iterator[LiveServer]:
    port = free_port()
    server, thread = serve_in_thread(create_app(settings, database=database, clock=clock), port)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", database, clock, make_token(database))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
