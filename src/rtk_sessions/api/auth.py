"""Who is calling: API tokens from ``Authorization: Bearer`` or ``X-Auth-Key``.

A guard on every data route: it finds the token's grant, then checks the
account and app in the path and the scope the route declares in its
``opt={"scope": ...}``. The token itself is never logged.
"""

from __future__ import annotations

import hmac

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from rtk_sessions.api.context import context_of
from rtk_sessions.api.envelope import AuthError


def presented_token(connection: ASGIConnection) -> tuple[str | None, str | None]:
    """(token, email) as the official SDKs send them; (None, None) if absent."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip(), None
    key = connection.headers.get("x-auth-key")
    if key:
        return key.strip(), connection.headers.get("x-auth-email")
    return None, None


async def token_guard(connection: ASGIConnection, route_handler: BaseRouteHandler) -> None:
    """Let the request through only with a live token allowed on this account, app and scope.

    Async on purpose: the lookup is a cached grant or one indexed read (tens of µs),
    cheaper on the event loop than the thread hop Litestar makes for a sync guard.
    """
    token, email = presented_token(connection)
    if not token and route_handler.opt.get("token_in_query"):
        # a browser's sendBeacon cannot set headers: the collector's last batch names its
        # (ingest-only) token in the query, which the request log never writes down
        token = connection.query_params.get("token") or None
    if not token:
        raise AuthError(401, "no token presented")
    ctx = context_of(connection)
    grant = ctx.grants.grant_for(ctx.db, token)
    if grant is None:
        raise AuthError(401, "unknown or revoked token")
    if grant.email and email is not None and not _same_email(grant.email, email):
        raise AuthError(401, f"token {grant.token_id} is bound to another email")
    scope = route_handler.opt.get("scope", "read")
    account_id = connection.path_params.get("account_id", "")
    app_id = connection.path_params.get("app_id")
    if not grant.allows(account_id, app_id, scope):
        raise AuthError(403, f"token {grant.token_id} may not {scope} {account_id}/{app_id}")
    connection.state.grant = grant


def _same_email(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.strip().lower(), given.strip().lower())
