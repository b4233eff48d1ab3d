"""GET /healthz (the process answers), GET /readyz (database reachable, schema current)."""

from __future__ import annotations

import anyio
import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency

from rtk_sessions.api.context import AppContext
from rtk_sessions.store.migrate import schema_revisions


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
