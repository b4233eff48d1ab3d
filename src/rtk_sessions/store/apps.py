"""Apps: the tenant key. Every stored row belongs to one (account id, app id)."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, select

from rtk_sessions.store.database import Database
from rtk_sessions.store.tables import apps


class Missing(LookupError):
    """What was asked for is not stored (for this app); the message says what (the API
    answers 404 with it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Known app keys per database engine. An app's key never changes once made and apps
# are never deleted, so every request can skip this lookup after the first.
_APP_KEYS: WeakKeyDictionary[Engine, dict[tuple[str, str], int]] = WeakKeyDictionary()
_APP_KEYS_MAX = 100_000


def find_app(conn: Connection, account_id: str, app_id: str) -> int | None:
    """The app's internal key, or None if nothing was ever ingested for it."""
    known = _APP_KEYS.setdefault(conn.engine, {})
    app_pk = known.get((account_id, app_id))
    if app_pk is None:
        app_pk = _lookup(conn, account_id, app_id)
        if app_pk is not None and len(known) < _APP_KEYS_MAX:
            known[(account_id, app_id)] = app_pk
    return app_pk


def app_key(db: Database, account_id: str, app_id: str) -> int | None:
    """:func:`find_app` without a connection when the key is known (the usual case)."""
    known = _APP_KEYS.get(db.engine, {}).get((account_id, app_id))
    if known is not None:
        return known
    with db.read() as conn:
        return find_app(conn, account_id, app_id)


def _lookup(conn: Connection, account_id: str, app_id: str) -> int | None:
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
    # not kept: this transaction may have made the row, and may yet roll back
    app_pk = _lookup(conn, account_id, app_id)
    assert app_pk is not None
    return app_pk


def app_ids_of(db: Database, account_id: str) -> list[str]:
    """The ids of the account's apps (those anything was ever ingested for), sorted."""
    with db.read() as conn:
        return list(
            conn.execute(
                select(apps.c.app_id).where(apps.c.account_id == account_id).order_by(apps.c.app_id)
            ).scalars()
        )
