"""The public keys that verify each app's RealtimeKit webhook deliveries.

Managed by the operator (``rtk-sessions webhook-key``); a key is public, so it is
stored as given. Setting a key replaces the app's earlier one.
"""

from __future__ import annotations

import msgspec

from rtk_sessions.store.app_settings import PerAppRows
from rtk_sessions.store.database import Database
from rtk_sessions.store.tables import webhook_keys


class WebhookKeyRow(msgspec.Struct, frozen=True):
    account_id: str
    app_id: str
    public_key_pem: str
    fingerprint: str  # SHA-256 of the key (DER), hex
    updated_ms: int


_KEYS = PerAppRows(webhook_keys, WebhookKeyRow)


def set_webhook_key(db: Database, key: WebhookKeyRow) -> None:
    """Store ``key`` for its app, replacing any earlier one."""
    _KEYS.put(db, key)


def webhook_key(db: Database, account_id: str, app_id: str) -> WebhookKeyRow | None:
    return _KEYS.get(db, account_id, app_id)


def webhook_keys_of(db: Database, account_id: str | None = None) -> list[WebhookKeyRow]:
    """Every configured key, or an account's, by account and app."""
    return _KEYS.all(db, account_id)


def remove_webhook_key(db: Database, account_id: str, app_id: str) -> bool:
    """Forget the app's key (its deliveries are refused from now on); False if it had none."""
    return _KEYS.remove(db, account_id, app_id)
