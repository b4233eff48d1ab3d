"""One log line and the request metrics per request, with a request id that is also
sent back as a header.

The id is the caller's ``X-Request-ID`` when it is a plain token (so a proxy's id
follows the request through), else a new one. Every log line written while the
request is handled carries it (``RequestIdFilter``), in text or JSON
(``RTK_LOG_FORMAT``). The line gives method, path, status and time; never the query
string (a download link's signature is a credential) or any header.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
import time
import uuid
from typing import Any

from litestar.logging import LoggingConfig

from rtk_sessions.metrics import HTTP_DURATION, HTTP_REQUESTS

log = logging.getLogger("rtk_sessions.requests")
REQUEST_ID_HEADER = "x-request-id"
_USABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being handled (or ``-``) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True


def logging_config(level: str, json: bool) -> LoggingConfig:
    """Litestar's logging set-up: our format, the request id filter, ``level``."""
    formatter: dict[str, Any] = (
        {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": JSON_FIELDS,
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
        if json
        else {"format": TEXT_FORMAT}
    )
    console = {
        "class": "logging.StreamHandler",
        "level": "DEBUG",
        "formatter": "standard",
        "filters": ["request_id"],
    }
    return LoggingConfig(
        logging_module="logging",
        formatters={"standard": formatter},
        filters={"request_id": {"()": RequestIdFilter}},
        handlers={"console": console, "queue_listener": console},
        root={"handlers": ["console"], "level": level.upper()},
        loggers={"litestar": {"level": "INFO", "handlers": ["console"], "propagate": False}},
        log_exceptions="never",  # our own handler logs unexpected errors, once
    )


class RequestLog:
    """ASGI middleware around the whole app (outside the framework, so every answer,
    404s and auth failures included, is logged and carries the id)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = current_request_id.set(request_id)
        status = 500  # unless the app answers
        started = time.perf_counter()
        header = (REQUEST_ID_HEADER.encode(), request_id.encode())

        async def send_with_id(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed_s = time.perf_counter() - started
            elapsed_ms = elapsed_s * 1000
            route = scope.get("path_template") or "unmatched"  # set by Litestar's router
            method = scope["method"] if scope["method"] in _METHODS else "other"
            _counted(method, route, status).inc()
            _timed(method, route).observe(elapsed_s)
            log.info(
                "%s %s %s %.1f ms",
                scope["method"],
                scope["path"],
                status,
                elapsed_ms,
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed_ms, 2),
                },
            )
            current_request_id.reset(token)


# any other method a client makes up is counted as "other": labels must stay few
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@functools.cache
def _counted(method: str, route: str, status: int) -> Any:
    """The labelled counter, looked up once per (method, route template, status): a
    bounded set, since paths are templates and unknown ones are all ``unmatched``."""
    return HTTP_REQUESTS.labels(method, route, str(status))


@functools.cache
def _timed(method: str, route: str) -> Any:
    return HTTP_DURATION.labels(method, route)


def _request_id(scope: Any) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER.encode():
            given = value.decode("latin-1")
            if _USABLE_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex
