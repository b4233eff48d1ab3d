"""GET /metrics: Prometheus text, behind its own bearer token (``RTK_METRICS_TOKEN``).

Off unless the operator sets that token: the numbers describe the service (routes,
volumes, failures), which is not for everyone who can reach the API port. The API
tokens do not open it, and it does not open the API.
"""

from __future__ import annotations

import hmac

import anyio
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency

from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import NotFound, Unauthorized
from rtk_sessions.metrics import CONTENT_TYPE, QueueDepth, render
from rtk_sessions.store.jobs import queue_depth


class MetricsController(Controller):
    include_in_schema = False

    @get("/metrics")
    async def metrics(self, ctx: NamedDependency[AppContext], request: Request) -> Response:
        expected = ctx.settings.metrics_token.get_secret_value()
        if not expected:
            raise NotFound("metrics are off; set RTK_METRICS_TOKEN to serve them")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), expected):
            raise Unauthorized("GET /metrics needs Authorization: Bearer <RTK_METRICS_TOKEN>")
        depth = QueueDepth(lambda: queue_depth(ctx.db))
        body = await anyio.to_thread.run_sync(render, depth)
        return Response(body, media_type=CONTENT_TYPE)
