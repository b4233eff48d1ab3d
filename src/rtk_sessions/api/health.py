"""GET /healthz (the process answers), GET /readyz (database reachable, schema current)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency

from rtk_sessions.api.context import AppContext
from rtk_sessions.store.migrate import schema_revisions

ASGIApp = Callable[
    [dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[None]
]


class Health(msgspec.Struct):
    status: str
    detail: str | None = None


def _readiness(ctx: AppContext) -> Health:
    try:
        current, head = schema_revisions(ctx.db)
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure
        return Health("unavailable", f"database unreachable: {type(exc).__name__}")
    if current != head:
        return Health("unavailable", f"schema at {current}, code expects {head}: run migrate")
    return Health("ok", f"schema {head}")


class HealthController(Controller):
    tags = ["Health"]

    @get("/healthz", summary="The process is up", operation_id="healthz")
    async def healthz(self) -> Health:
        return Health("ok")

    @get("/readyz", summary="Database reachable and schema current", operation_id="readyz")
    async def readyz(self, ctx: NamedDependency[AppContext]) -> Response[Health]:
        health = await anyio.to_thread.run_sync(_readiness, ctx)
        return Response(health, status_code=200 if health.status == "ok" else 503)


def liveness_first(app: ASGIApp) -> ASGIApp:
    """``app`` with ``GET /healthz`` answered before it, the same answer its route gives.

    Load balancers and orchestrators probe liveness every few seconds per replica; the
    answer needs nothing of the framework (no routing, auth or database), and passing
    it through Litestar costs 16 µs of the 20 a request takes. ``serve`` runs the app
    this way (``rtk_sessions.asgi``); everything else, /readyz included, goes through.
    """
    body = msgspec.json.encode(Health("ok"))
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    answer = {"type": "http.response.body", "body": body}

    async def front(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz" and scope["method"] == "GET":
            await send(start)
            await send(answer)
            return
        await app(scope, receive, send)

    return front
