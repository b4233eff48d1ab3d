"""Schema migrations (Alembic), run from code: ``rtk-sessions migrate`` and at start-up."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from rtk_sessions.store.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: serializes concurrent migrators on PostgreSQL.
_PG_MIGRATION_LOCK = 0x72746B5F6D6967


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_revisions(database: Database) -> tuple[str | None, str | None]:
    """(the database's revision, the code's head), after a round trip to the database
    (raises whatever the driver raises when it cannot be reached)."""
    with database.read() as conn:
        conn.execute(text("SELECT 1"))
    return current_revision(database), head_revision()


def upgrade(database: Database, revision: str = "head") -> str | None:
    """Bring the schema to ``revision`` (the newest by default); returns the revision it
    is at. Safe to run concurrently."""
    config = _config()
    # One migrator at a time: others wait, then find the schema at head. PostgreSQL:
    # an advisory lock; SQLite: the write lock, taken up front by BEGIN IMMEDIATE.
    with database.write() as conn:
        if not database.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return head_revision() if revision == "head" else revision
