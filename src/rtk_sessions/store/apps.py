"""Apps: the tenant key. Every stored row belongs to one (account id, app id)."""

from __future__ import annotations

from sqlalchemy import Connection, select

from rtk_sessions.store.database import Database
from rtk_sessions.store.tables import apps


class Missing(LookupError):
    """What was asked for is not stored (for this app); the message says what (the API
    answers 404 with it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def find_app(conn: Connection, account_id: str, app_id: str) -> int | None:
    """The app's internal key, or None if nothing was ever ingested for it."""
    return conn.execute(
        select(apps.c.app_pk).where(apps.c.account_id == account_id, apps.c.app_id == app_id)
    ).scalar()


def ensure_app(db: Database, conn: Connection, account_id: str, app_id: str, now_ms: int) -> int:
    """The app's internal key, creating the app on its first ingest."""
    found = find_app(conn, account_id, app_id)
    if found is not None:
        return found
    conn.execute(
        db.insert(apps)
        .values(account_id=account_id, app_id=app_id, created_ms=now_ms, listed_sessions=0)
        .on_conflict_do_nothing()
    )
    app_pk = find_app(conn, account_id, app_id)
    assert app_pk is not None
    return app_pk
