"""API tokens: created by the operator, stored only as SHA-256 hashes.

A token is ``rtk_<token id>_<secret>``; the id is public (listing, revoking),
the whole string is the credential. Tokens carry 256 bits of randomness, so
a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from rtk_sessions.store.database import Database
from rtk_sessions.store.tables import api_tokens

SCOPES = ("read", "ingest", "admin")  # admin: erasing a user's data


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a token may do: one account, optionally only some apps, some scopes."""

    token_id: str
    account_id: str
    app_ids: tuple[str, ...] | None  # None: every app of the account
    scopes: frozenset[str]
    email: str | None
    name: str | None
    created_ms: int
    revoked_ms: int | None

    def allows(self, account_id: str, app_id: str | None, scope: str) -> bool:
        if self.account_id != account_id or scope not in self.scopes:
            return False
        return self.app_ids is None or app_id is None or app_id in self.app_ids


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    conn: Connection,
    *,
    account_id: str,
    app_ids: list[str] | None,
    scopes: list[str],
    email: str | None,
    name: str | None,
    now_ms: int,
) -> tuple[TokenGrant, str]:
    """A new token; returns its grant and the secret string (shown once, never stored)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}; got {unknown or 'none'}")
    token_id = secrets.token_hex(6)
    token = f"rtk_{token_id}_{secrets.token_urlsafe(32)}"
    conn.execute(
        api_tokens.insert().values(
            token_id=token_id,
            secret_sha256=hash_token(token),
            account_id=account_id,
            app_ids=json.dumps(sorted(set(app_ids))) if app_ids else None,
            scopes=",".join(sorted(set(scopes))),
            email=email,
            name=name,
            created_ms=now_ms,
        )
    )
    grant = find_by_id(conn, token_id)
    assert grant is not None
    return grant, token


def find_active(conn: Connection, token: str) -> TokenGrant | None:
    """The grant of a presented token, or None if unknown or revoked."""
    row = conn.execute(
        select(api_tokens).where(
            api_tokens.c.secret_sha256 == hash_token(token), api_tokens.c.revoked_ms.is_(None)
        )
    ).first()
    return _grant(row) if row else None


class GrantCache:
    """Grants of recently presented tokens, for at most ``ttl_s`` seconds.

    Every request presents its token; reading its grant costs a database round trip
    (a transaction on PostgreSQL). Kept by the token's SHA-256 (never the token), only
    for live tokens, and only briefly: a revoked token stops working within ``ttl_s``
    on every process (the revocation is in the database; each process re-reads the
    grant when its copy is older than that). ``ttl_s`` 0 keeps nothing.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._entries: dict[str, tuple[float, TokenGrant]] = {}
        self._lock = threading.Lock()

    def grant_for(self, db: Database, token: str) -> TokenGrant | None:
        key = hash_token(token)
        now = time.monotonic()
        with self._lock:
            kept = self._entries.get(key)
        if kept is not None and now - kept[0] < self.ttl_s:
            return kept[1]
        with db.read() as conn:
            grant = find_active(conn, token)
        with self._lock:
            if grant is None or self.ttl_s <= 0:
                self._entries.pop(key, None)
            else:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()  # rare: many distinct live tokens in one second
                self._entries[key] = (now, grant)
        return grant


def find_by_id(conn: Connection, token_id: str) -> TokenGrant | None:
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_id == token_id)).first()
    return _grant(row) if row else None


def list_tokens(conn: Connection, account_id: str | None = None) -> list[TokenGrant]:
    query = select(api_tokens).order_by(api_tokens.c.created_ms, api_tokens.c.token_id)
    if account_id is not None:
        query = query.where(api_tokens.c.account_id == account_id)
    return [_grant(row) for row in conn.execute(query)]


def revoke(conn: Connection, token_id: str, now_ms: int) -> bool:
    """Revoke a token by id; False if there is no such active token."""
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_ms.is_(None))
        .values(revoked_ms=now_ms)
    )
    return result.rowcount == 1


def _grant(row) -> TokenGrant:  # type: ignore[no-untyped-def]
    return TokenGrant(
        token_id=row.token_id,
        account_id=row.account_id,
        app_ids=tuple(json.loads(row.app_ids)) if row.app_ids else None,
        scopes=frozenset(row.scopes.split(",")),
        email=row.email,
        name=row.name,
        created_ms=row.created_ms,
        revoked_ms=row.revoked_ms,
    )
