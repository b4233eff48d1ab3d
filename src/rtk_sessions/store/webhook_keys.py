"""The public keys that verify each app's RealtimeKit webhook deliveries.

Managed by the operator (``rtk-sessions webhook-key``); a key is public, so it is
stored as given. Setting a key replaces the app's earlier one.
"""

from __future__ import annotations

import msgspec
from sqlalchemy import delete

from rtk_sessions.store.database import Database
from rtk_sessions.store.rows import first_row, row_of, select_rows
from rtk_sessions.store.tables import webhook_keys


class WebhookKeyRow(msgspec.Struct, frozen=True):
    account_id: str
    app_id: str
    public_key_pem: str
    fingerprint: str  # SHA-256 of the key (DER), hex
    updated_ms: int


def set_webhook_key(db: Database, key: WebhookKeyRow) -> None:
    """Store ``key`` for its app, replacing any earlier one."""
    with db.write() as conn:
        db.upsert(conn, webhook_keys, [msgspec.structs.asdict(key)], ["account_id", "app_id"])


def webhook_key(db: Database, account_id: str, app_id: str) -> WebhookKeyRow | None:
    with db.read() as conn:
        return first_row(
            conn,
            WebhookKeyRow,
            select_rows(WebhookKeyRow, webhook_keys).where(
                webhook_keys.c.account_id == account_id, webhook_keys.c.app_id == app_id
            ),
        )


def webhook_keys_of(db: Database, account_id: str | None = None) -> list[WebhookKeyRow]:
    """Every configured key, or an account's, by account and app."""
    query = select_rows(WebhookKeyRow, webhook_keys)
    if account_id is not None:
        query = query.where(webhook_keys.c.account_id == account_id)
    query = query.order_by(webhook_keys.c.account_id, webhook_keys.c.app_id)
    with db.read() as conn:
        return [row_of(WebhookKeyRow, row) for row in conn.execute(query)]


def remove_webhook_key(db: Database, account_id: str, app_id: str) -> bool:
    """Forget the app's key (its deliveries are refused from now on); False if it had none."""
    with db.write() as conn:
        removed = conn.execute(
            delete(webhook_keys).where(
                webhook_keys.c.account_id == account_id, webhook_keys.c.app_id == app_id
            )
        )
        return removed.rowcount > 0

