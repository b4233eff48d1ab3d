"""Fixtures of the store's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rtk_sessions.store.database import Database
from rtk_sessions.store.migrate import upgrade
from tests.databases import fresh_database_url


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with fresh_database_url(backend, tmp_path) as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()
