"""create_app(settings) -> the ASGI app. Wiring only."""

from __future__ import annotations

import threading
from collections.abc import Callable

from litestar import Litestar, Request, Response, Router, get
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from rtk_sessions import __version__
from rtk_sessions.api.admin import AdminController
from rtk_sessions.api.auth import token_guard
from rtk_sessions.api.context import AppContext, provide_context
from rtk_sessions.api.cors import ingest_cors
from rtk_sessions.api.docs import docs_plugin, static_files
from rtk_sessions.api.downloads import DownloadController, ExportsController
from rtk_sessions.api.envelope import EXCEPTION_HANDLERS, handle_http_exception
from rtk_sessions.api.health import HealthController
from rtk_sessions.api.ingest import IngestController
from rtk_sessions.api.limits import rate_limit
from rtk_sessions.api.metrics import MetricsController
from rtk_sessions.api.openapi import document_schema
from rtk_sessions.api.participants import ParticipantsController
from rtk_sessions.api.peer_report import PeerReportController
from rtk_sessions.api.quality_cache import QualityCache
from rtk_sessions.api.request_log import logging_config
from rtk_sessions.api.sessions import SessionsController
from rtk_sessions.api.webhooks import WebhooksController
from rtk_sessions.clock import Clock, system_clock
from rtk_sessions.config import Settings
from rtk_sessions.exports.links import Downloads
from rtk_sessions.ingest.enrich import configure_geoip
from rtk_sessions.jobs.worker import start_worker_thread
from rtk_sessions.store.database import Database, database_for
from rtk_sessions.store.tokens import GrantCache
from rtk_sessions.ui import no_such_page, ui_router, ui_static_files

APP_PATH = "/accounts/{account_id:str}/realtime/kit/{app_id:str}"
SDK_PREFIX = "/client/v4"
TOKEN_SECURITY = [{"BearerToken": []}, {"AuthKey": []}]  # the official SDKs' base URL ends here

API_DESCRIPTION = """The Cloudflare RealtimeKit Sessions API, served from your own data.

Every route under `/accounts/...` is also served under `/client/v4/accounts/...`,
so the official SDKs work with `base_url="http://host:port/client/v4"`.
Authenticate with `Authorization: Bearer <token>` (or `X-Auth-Key`), a token
created with `rtk-sessions token create`."""


def _data_routers() -> list[Router]:
    """The read API under both prefixes; the /client/v4 copy is described, not repeated."""
    return [
        Router(
            path=prefix + APP_PATH,
            route_handlers=[
                SessionsController,
                ParticipantsController,
                PeerReportController,
                ExportsController,
            ],
            guards=[token_guard],
            include_in_schema=not prefix,
            security=TOKEN_SECURITY,
        )
        for prefix in ("", SDK_PREFIX)
    ] + [
        Router(
            path="/",
            route_handlers=[IngestController, AdminController],
            guards=[token_guard],
            security=TOKEN_SECURITY,
        )
    ]


@get("/openapi.json", include_in_schema=False, sync_to_thread=False)
def openapi_json(request: Request) -> dict:
    return request.app.openapi_schema.to_schema()


class _Background:
    """A thread each server process runs beside the API: the job worker
    (``RTK_JOBS_IN_SERVE``)."""

    def __init__(self, start: Callable[[], tuple[threading.Thread, threading.Event]]) -> None:
        self._start = start
        self._running: tuple[threading.Thread, threading.Event] | None = None

    def start(self) -> None:
        self._running = self._start()

    def stop(self) -> None:
        if self._running is not None:
            thread, stop = self._running
            stop.set()
            thread.join(timeout=30)
            self._running = None


def create_app(
    settings: Settings, *, database: Database | None = None, clock: Clock = system_clock
) -> Litestar:
    """The app over ``database`` (opened from settings if None); ``clock`` is "now" in ms."""
    configure_geoip(settings.geoip, settings.geoip_mmdb_paths)
    db = database or database_for(settings)
    ctx = AppContext(
        db=db,
        settings=settings,
        clock=clock,
        quality_cache=QualityCache(settings.quality_cache_mb * 1024 * 1024),
        downloads=Downloads(db, settings, clock),
        grants=GrantCache(settings.token_cache_seconds),
    )
    jobs = _Background(lambda: start_worker_thread(db, settings, clock))
    app = Litestar(
        route_handlers=[
            HealthController,
            DownloadController,
            WebhooksController,  # signed by RealtimeKit, no token
            MetricsController,  # its own token (RTK_METRICS_TOKEN)
            static_files(),  # the /docs UI's files
            ui_static_files(),
            ui_router(),  # the dashboard (its own sign-in)
            openapi_json,
            *_data_routers(),
        ],
        dependencies={"ctx": Provide(provide_context)},
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: _unrouted},  # type: ignore[dict-item]
        openapi_config=OpenAPIConfig(
            title="rtk-sessions",
            version=__version__,
            description=API_DESCRIPTION,
            path="/docs",
            render_plugins=[docs_plugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(
                        type="http", scheme="bearer", description="rtk-sessions token create"
                    ),
                    "AuthKey": SecurityScheme(
                        type="apiKey", name="X-Auth-Key", security_scheme_in="header"
                    ),
                }
            ),
        )
        if settings.openapi_enabled
        else None,
        middleware=_middleware(settings),
        logging_config=logging_config(settings.log_level, json=settings.log_format == "json"),
        on_startup=[jobs.start] if settings.jobs_in_serve else [],
        on_shutdown=[jobs.stop] + ([] if database else [db.dispose]),
        debug=False,
    )
    app.state.ctx = ctx
    if settings.openapi_enabled:
        document_schema(app)
    return app


def _unrouted(request: Request, exc: HTTPException) -> Response:
    """Litestar's own errors in the API's envelope; a dashboard path that is no page
    gets a page saying so."""
    if exc.status_code == 404 and request.url.path.startswith("/ui/"):
        return no_such_page(request)
    return handle_http_exception(request, exc)


def _middleware(settings: Settings) -> list:
    """CORS on the ingest path first (a preflight needs no token), then the rate limit."""
    found: list = []
    if settings.ingest_cors_origin_set:
        found.append(ingest_cors(settings.ingest_cors_origin_set))
    if settings.rate_limit_per_minute:
        found.append(rate_limit(settings.rate_limit_per_minute).middleware)
    return found
