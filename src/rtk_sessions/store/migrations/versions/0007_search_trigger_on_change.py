"""sessions_search (SQLite): re-index a session's search text only when it changed

Ingest writes each derived session whole, search text included. A trigger
``AFTER UPDATE OF search_text`` fires whenever the column is assigned, changed or
not, and rewrote the session's trigram entries at every batch that touched it.
The trigger now fires only when the text differs. PostgreSQL is not concerned.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_REINDEX = (
    "INSERT INTO sessions_search(sessions_search, rowid, search_text) "
    "VALUES ('delete', old.rowid, old.search_text); "
    "INSERT INTO sessions_search(rowid, search_text) VALUES (new.rowid, new.search_text); END"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER sessions_search_update")
    op.execute(
        "CREATE TRIGGER sessions_search_update AFTER UPDATE OF search_text ON sessions "
        "WHEN old.search_text IS NOT new.search_text BEGIN " + _REINDEX
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER sessions_search_update")
    op.execute(
        "CREATE TRIGGER sessions_search_update AFTER UPDATE OF search_text ON sessions "
        "BEGIN " + _REINDEX
    )
