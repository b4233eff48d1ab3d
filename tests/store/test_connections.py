"""Pooled PostgreSQL connections: checked only after sitting idle, replaced when dead.

A replica must survive the database dropping its connections (a restart, a failover,
an idle timeout) without a request failing. Here the server really terminates the
pooled connection (``pg_terminate_backend``) and the next read must still answer.
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from rtk_sessions.store import engine as engine_module
from rtk_sessions.store.database import Database
from tests.databases import fresh_database_url, postgres_base_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(tmp_path) -> Database:
    postgres_base_url()
    with fresh_database_url("postgres", tmp_path) as url:
        db = Database(url, pool_size=1, max_overflow=0)
        try:
            yield db
        finally:
            db.dispose()


def _backend_pid(db: Database) -> int:
    with db.read() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(pid: int) -> None:
    with psycopg.connect(postgres_base_url(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(pg, monkeypatch):
    first = _backend_pid(pg)
    _terminate(first)
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 0.0)  # every checkout is "idle"

    second = _backend_pid(pg)  # no error reaches the caller

    assert second != first


def test_a_connection_in_use_is_not_pinged_and_once_found_dead_is_replaced(pg, monkeypatch):
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", 3600.0)  # never "idle" here
    first = _backend_pid(pg)
    _terminate(first)

    # no ping before use: the read that meets the dead connection fails (it is not
    # retried: it may have been a write)
    with pytest.raises(Exception, match="terminat|closed|connection"):
        _backend_pid(pg)

    assert _backend_pid(pg) != first
