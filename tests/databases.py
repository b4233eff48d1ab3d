"""The databases tests run on: a fresh SQLite file or a fresh PostgreSQL schema each.

Every test that touches storage runs once per backend. PostgreSQL comes from
``RTK_TEST_POSTGRES_URL`` (``.ci/run`` sets it to the local server); without it
those halves skip with the reason. Each use gets its own schema, named
``rtk_test_<random>`` and reached through the connection's ``search_path``
(so the server under test, its migrations and a subprocess all see only it),
and the schema is dropped afterwards: nothing is left behind.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

POSTGRES_ENV = "RTK_TEST_POSTGRES_URL"
SCHEMA_PREFIX = "rtk_test_"
BACKENDS = (
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
)


CREATED_SCHEMAS: set[str] = set()  # by this test run, to check that none is left


def postgres_base_url() -> str:
    """The PostgreSQL server of the tests; skips the test when none is configured."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"PostgreSQL half: set {POSTGRES_ENV} "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run it"
        )
    return url


def _libpq_url(url: str) -> str:
    """The URL libpq understands (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections see ``schema`` first (libpq ``options``)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A new, empty schema; yields a database URL that uses it. Dropped on exit."""
    schema = f"{SCHEMA_PREFIX}{uuid.uuid4().hex[:16]}"
    with psycopg.connect(_libpq_url(base_url), autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    CREATED_SCHEMAS.add(schema)
    try:
        yield with_search_path(base_url, schema)
    finally:
        with psycopg.connect(_libpq_url(base_url), autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def fresh_database_url(backend: str, directory: Path) -> Iterator[str]:
    """A URL of an empty database of ``backend``: a new file in ``directory`` or a new schema."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'rtk-{uuid.uuid4().hex[:8]}.db'}"
    elif backend == "postgres":
        with postgres_schema(postgres_base_url()) as url:
            yield url
    else:
        raise ValueError(f"unknown test database backend {backend!r}")


def leftover_schemas() -> list[str]:
    """Schemas this run created that are still on the server (there should be none)."""
    base_url = os.environ.get(POSTGRES_ENV)
    if not base_url or not CREATED_SCHEMAS:
        return []
    with psycopg.connect(_libpq_url(base_url), autocommit=True) as admin:
        rows = admin.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (sorted(CREATED_SCHEMAS),)
        ).fetchall()
    return sorted(row[0] for row in rows)
