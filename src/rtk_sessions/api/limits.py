"""Abuse limits that sit in front of the handlers: a per-token request rate.

Litestar's rate limiter, keyed by who is asking: the SHA-256 of the presented token
(never the token itself), or the client address when there is none. Counts are
kept in each server process's memory, so with ``RTK_WORKERS`` processes (or several
replicas) a token may get up to that many times the limit; a limit is a guard
against a runaway client, not a quota.
"""

from __future__ import annotations

import hashlib

from litestar import Request
from litestar.middleware.rate_limit import RateLimitConfig, get_remote_address

from rtk_sessions.api.auth import presented_token

UNLIMITED_PATHS = ["/healthz", "/readyz"]  # probes must never be throttled


def requester(request: Request) -> str:
    token, _ = presented_token(request)
    if token:
        return "token:" + hashlib.sha256(token.encode()).hexdigest()
    return "address:" + get_remote_address(request)


def rate_limit(per_minute: int) -> RateLimitConfig:
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        identifier_for_request=requester,
        exclude=UNLIMITED_PATHS,
    )
