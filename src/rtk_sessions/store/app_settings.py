"""Rows the operator keeps one of per app (a webhook key, an alert target): set (replacing
the app's earlier one), read, list, remove, by (account id, app id)."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Table, delete

from rtk_sessions.store.database import Database
from rtk_sessions.store.rows import first_row, row_of, select_rows

R = TypeVar("R", bound=msgspec.Struct)


class PerAppRows(Generic[R]):
    """``table`` (keyed by account_id and app_id) read as frozen ``row_type`` rows."""

    def __init__(self, table: Table, row_type: type[R]) -> None:
        self.table, self.row_type = table, row_type

    def put(self, db: Database, row: R) -> None:
        with db.write() as conn:
            db.upsert(conn, self.table, [msgspec.structs.asdict(row)], ["account_id", "app_id"])

    def get(self, db: Database, account_id: str, app_id: str) -> R | None:
        query = select_rows(self.row_type, self.table).where(self._of(account_id, app_id))
        with db.read() as conn:
            return first_row(conn, self.row_type, query)

    def all(self, db: Database, account_id: str | None = None) -> list[R]:
        """Every app's row, or an account's, by account and app."""
        columns = self.table.c
        query = select_rows(self.row_type, self.table)
        if account_id is not None:
            query = query.where(columns.account_id == account_id)
        query = query.order_by(columns.account_id, columns.app_id)
        with db.read() as conn:
            return [row_of(self.row_type, row) for row in conn.execute(query)]

    def remove(self, db: Database, account_id: str, app_id: str) -> bool:
        """False if the app had none."""
        with db.write() as conn:
            return conn.execute(delete(self.table).where(self._of(account_id, app_id))).rowcount > 0

    def _of(self, account_id: str, app_id: str) -> ColumnElement[bool]:
        columns = self.table.c
        return (columns.account_id == account_id) & (columns.app_id == app_id)
