"""sessions: an index that serves substring search

The list's ``search`` is a substring of the session's ``search_text`` (title,
meeting id, session id, case-folded). A ``LIKE '%term%'`` reads every session of the
app; a trigram index finds the few that contain the term's trigrams:

- SQLite: an FTS5 table with the trigram tokenizer over ``sessions.search_text``
  (external content, kept in step by triggers, so late events that rename a meeting
  are searchable at once);
- PostgreSQL: ``pg_trgm``'s GIN operator class. Creating the extension needs the
  right to (trusted since PostgreSQL 13: the database owner has it). Where it cannot
  be created, search keeps working without the index, and a warning says so.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger("rtk_sessions.migrations")

SQLITE = [
    "CREATE VIRTUAL TABLE sessions_search USING fts5(search_text, content='sessions', "
    "content_rowid='rowid', tokenize='trigram')",
    "CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions BEGIN "
    "INSERT INTO sessions_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "CREATE TRIGGER sessions_search_delete AFTER DELETE ON sessions BEGIN "
    "INSERT INTO sessions_search(sessions_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); END",
    "CREATE TRIGGER sessions_search_update AFTER UPDATE OF search_text ON sessions BEGIN "
    "INSERT INTO sessions_search(sessions_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO sessions_search(rowid, search_text) VALUES (new.rowid, new.search_text); END",
    "INSERT INTO sessions_search(sessions_search) VALUES ('rebuild')",
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)
        return
    savepoint = bind.begin_nested()
    try:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        savepoint.commit()
    except sa.exc.DBAPIError as exc:
        savepoint.rollback()
        log.warning(
            "pg_trgm unavailable (%s): session search works without its index",
            type(exc.orig).__name__,
        )
        return
    op.execute(
        "CREATE INDEX ix_sessions_search_text_trgm ON sessions "
        "USING gin (search_text public.gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS sessions_search_{name}")
        op.execute("DROP TABLE IF EXISTS sessions_search")
        return
    op.execute("DROP INDEX IF EXISTS ix_sessions_search_text_trgm")
