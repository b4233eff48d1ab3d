"""CORS for the ingest endpoint only (``RTK_INGEST_CORS_ORIGINS``), so that a page's
collector can post its call's stats from the browser. Reads stay same-origin: no other
path answers a cross-origin request, whatever the setting."""

from __future__ import annotations

from collections.abc import Iterable

from litestar.types import ASGIApp, Message, Receive, Scope, Send

INGEST_PREFIX = "/ingest/"
ALLOWED_HEADERS = "authorization, content-type, content-encoding"
PREFLIGHT_MAX_AGE_S = 600


def ingest_cors(origins: Iterable[str]):  # type: ignore[no-untyped-def]
    """Middleware factory: answers preflights and marks answers for allowed origins."""
    allowed = frozenset(origins)

    def allows(origin: str) -> bool:
        return "*" in allowed or origin in allowed

    def middleware(app: ASGIApp) -> ASGIApp:
        async def handle(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or not scope["path"].startswith(INGEST_PREFIX):
                await app(scope, receive, send)
                return
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            if not origin or not allows(origin):
                await app(scope, receive, send)  # no CORS headers: the browser refuses
                return
            cors = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"vary", b"Origin"),
            ]
            if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
                await _preflight(send, cors)
                return

            async def marked(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *cors]}
                await send(message)

            await app(scope, receive, marked)

        return handle

    return middleware


async def _preflight(send: Send, cors: list[tuple[bytes, bytes]]) -> None:
    headers = [
        *cors,
        (b"access-control-allow-methods", b"POST"),
        (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
        (b"access-control-max-age", str(PREFLIGHT_MAX_AGE_S).encode()),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
