"""How the store's connections are made: the engine for a URL, SQLite's pragmas and its
``BEGIN IMMEDIATE`` that waits in short steps, PostgreSQL's lock timeout, and a ping of a
pooled connection that sat idle (``store.database`` is the handle over it)."""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def normalize_url(url: str) -> str:
    # Plain postgresql:// means psycopg 3 here (SQLAlchemy's default is psycopg2).
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def create_database_engine(
    url: str,
    *,
    pool_size: int,
    max_overflow: int,
    busy_timeout_ms: int,
    sqlite_synchronous: str,
    echo: bool,
) -> Engine:
    if not url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_args={"options": _pg_options(url, busy_timeout_ms)},
        )
        _ping_after_idle(engine)
        return engine
    database = make_url(url).database
    in_memory = database in (None, "", ":memory:")
    if not in_memory:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        poolclass=NullPool if in_memory else None,
    )
    _install_sqlite_pragmas(engine, busy_timeout_ms, sqlite_synchronous)
    return engine


def _pg_options(url: str, lock_timeout_ms: int) -> str:
    """libpq ``options`` with ``lock_timeout`` added to any the URL gives (connect
    arguments replace the URL's, so both are merged here; e.g. a ``search_path``)."""
    given = make_url(url).query.get("options", "")
    given = " ".join(given) if isinstance(given, tuple) else given
    return f"{given} -c lock_timeout={int(lock_timeout_ms)}".strip()


PING_AFTER_IDLE_S = 5.0


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle a while.

    A replica must survive a database restart, but SQLAlchemy's ``pool_pre_ping``
    costs a round trip on every checkout (a third of page 1's time on PostgreSQL
    under load). A connection in steady use is known alive; one idle for
    ``PING_AFTER_IDLE_S`` is pinged, and a dead one is replaced before the request
    sees it. A connection that dies mid-request is invalidated by SQLAlchemy's own
    disconnect handling, so the next checkout reconnects.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.execute("SELECT 1")
            if dbapi_connection.info.transaction_status != 0:  # psycopg: IDLE is 0
                dbapi_connection.rollback()
        except Exception as gone:
            # the pool replaces the connection and checks out a fresh one
            raise exc.DisconnectionError(str(gone)) from gone


def _install_sqlite_pragmas(engine: Engine, busy_timeout_ms: int, synchronous: str) -> None:
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"SQLite synchronous must be NORMAL or FULL, not {synchronous!r}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own
        # implicit transactions cannot do BEGIN IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives the process dying (the WAL is written),
        # not a power loss (it is fsynced at checkpoints); FULL fsyncs every commit
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # 16 MiB of pages per connection: the OS caches the file anyway, and with 64 MiB
        # each of a worker's connections grew to hold it (250-270 MB of RSS after the
        # list runs at 1,000,000 sessions; 172 MB with 16, no query slower)
        cursor.execute("PRAGMA cache_size=-16384")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        begin = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        if begin == "BEGIN IMMEDIATE":
            _begin_immediate(conn.connection.driver_connection, busy_timeout_ms)
        else:
            conn.exec_driver_sql(begin)


#: Waits between tries for SQLite's write lock (ms), then this last one on and on.
_WRITE_LOCK_WAITS_MS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)


def _begin_immediate(driver: Any, busy_timeout_ms: int) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in short steps.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ... ms between tries: a
    write that waits for another's few-ms transaction (an append, a fold's commit)
    then sleeps past it. Here the wait starts at 50 µs and grows to 2 ms, up to the
    busy timeout (the same deadline), after which it fails as SQLite's would.
    """
    driver.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + busy_timeout_ms / 1000
        for attempt in itertools.count():
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
            time.sleep(_WRITE_LOCK_WAITS_MS[min(attempt, len(_WRITE_LOCK_WAITS_MS) - 1)] / 1000)
    finally:
        driver.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
