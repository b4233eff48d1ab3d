"""Response envelopes and the one place errors are rendered.

- Success: ``{"success": true, "data": ...}`` (the Structs in each resource module).
- Errors: RealtimeKit's ``{"success": false, "error": {"code", "message"}}``.
- Auth errors: Cloudflare's ``{"success": false, "errors": [{"code": 10000, ...}],
  "messages": [], "result": null}`` with 401 or 403.

Handlers raise typed exceptions (``BadParameter``, ``NotFound``, ...), the
store raises ``Missing`` for an unknown app, session or peer (404); nothing
else builds an error body. An unexpected exception is logged with
its traceback and answered with a plain 500 that leaks nothing.
"""

from __future__ import annotations

import logging
import typing

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from rtk_sessions.metrics import DATABASE_ERRORS
from rtk_sessions.store.apps import Missing
from rtk_sessions.store.database import StoreUnavailable

log = logging.getLogger("rtk_sessions.api")


class ErrorBody(msgspec.Struct):
    code: int
    message: str


class ErrorResponse(msgspec.Struct):
    """RealtimeKit's error envelope."""

    success: bool
    error: ErrorBody


class CloudflareError(msgspec.Struct):
    code: int
    message: str


class AuthErrorResponse(msgspec.Struct):
    """Cloudflare's error envelope, used for authentication and authorization."""

    success: bool
    errors: list[CloudflareError]
    messages: list[str]
    result: None


class ApiError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadParameter(ApiError):
    status_code = 400


class NotFound(ApiError):
    status_code = 404


class Unauthorized(ApiError):
    """401 in RealtimeKit's envelope (a webhook's signature; tokens use AuthError)."""

    status_code = 401


class RequestTimeout(ApiError):
    status_code = 408


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class AuthError(Exception):
    """401: no or unknown token. 403: a valid token that may not do this."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason  # logged, never sent: the body is Cloudflare's fixed one


def error_response(status_code: int, message: str) -> Response[ErrorResponse]:
    return Response(
        ErrorResponse(success=False, error=ErrorBody(code=status_code, message=message)),
        status_code=status_code,
    )


def handle_api_error(_: Request, exc: ApiError) -> Response[ErrorResponse]:
    return error_response(exc.status_code, exc.message)


def handle_missing(_: Request, exc: Missing) -> Response[ErrorResponse]:
    """The store found no such app, session or peer: 404 with what is missing."""
    return error_response(404, exc.message)


def handle_auth_error(request: Request, exc: AuthError) -> Response[AuthErrorResponse]:
    log.info("auth %s on %s %s: %s", exc.status_code, request.method, request.url.path, exc.reason)
    body = AuthErrorResponse(
        success=False,
        errors=[CloudflareError(code=10000, message="Authentication error")],
        messages=[],
        result=None,
    )
    return Response(body, status_code=exc.status_code)


def handle_validation_error(request: Request, exc: ValidationException) -> Response[ErrorResponse]:
    """Litestar's parameter validation, as one message naming each bad parameter."""
    problems = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        key = item.get("key") if isinstance(item, dict) else None
        if not key:
            continue
        allowed = _allowed_values(request, key)
        hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
        source = getattr(item.get("source"), "value", item.get("source")) or "query"
        problems.append(
            f"invalid {source} parameter '{key}': {_describe(item.get('message', ''))}{hint}"
        )
    return error_response(400, "; ".join(problems) or str(exc.detail))


def _describe(message: str) -> str:
    if "RFC3339" in message:
        return "expected an ISO 8601 time with an offset, e.g. 2026-01-09T13:00:15.936Z"
    if message.startswith("Expected `float"):
        return "expected a number"
    if message.startswith("Expected `bool"):
        return "expected true or false"
    return message


def _allowed_values(request: Request, key: str) -> list[str]:
    """The Literal values a handler declares for ``key``, to list them in the message."""
    try:
        field = request.route_handler.parsed_fn_signature.parameters[key]
    except (AttributeError, KeyError):
        return []
    values: list[str] = []
    for candidate in (field.annotation, *typing.get_args(field.annotation)):
        if typing.get_origin(candidate) is typing.Literal:
            values += [str(v) for v in typing.get_args(candidate)]
    return values


def handle_http_exception(_: Request, exc: HTTPException) -> Response[ErrorResponse]:
    """Litestar's own errors (unknown route, wrong method, rate limit, ...) in our
    envelope, with the headers they carry (Allow, RateLimit-*)."""
    message = exc.detail
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        message = "no such endpoint; see /openapi.json"
    elif exc.status_code == 405:
        message = f"method not allowed; {exc.detail}"
    elif exc.status_code == 429:
        retry_after = max(1, int(headers.get("RateLimit-Reset", "1")))
        headers["Retry-After"] = str(retry_after)
        message = (
            f"too many requests: the limit is RTK_RATE_LIMIT_PER_MINUTE a minute; "
            f"retry after {retry_after} s"
        )
    response = error_response(exc.status_code, message)
    response.headers.update(headers)
    return response


RETRY_AFTER_SECONDS = 5


def handle_store_unavailable(request: Request, exc: StoreUnavailable) -> Response[ErrorResponse]:
    """503 with Retry-After: the database is down or busy; nothing was written, so the
    same request may be sent again (RealtimeKit's webhooks retry only 5xx)."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    DATABASE_ERRORS.inc()
    response = error_response(503, "database unavailable; nothing was stored, retry later")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def handle_unexpected(request: Request, exc: Exception) -> Response[ErrorResponse]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal error; see the server log")


_ERROR_DESCRIPTIONS = {
    400: "A bad parameter or body; the message names it",
    401: "No token, or an unknown or revoked one",
    403: "A valid token that may not do this on this account or app",
    404: "No such session, participant or export (or not ready yet)",
    413: "Too many events or bytes in one request",
    503: "The database is unavailable or busy; nothing was stored; retry after Retry-After",
}


def error_responses(
    *codes: int, token_auth: bool = True, described: dict[int, str] | None = None
) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the errors a route answers with, in their real envelopes
    (401/403 of token auth in Cloudflare's; every other error in RealtimeKit's)."""
    descriptions = _ERROR_DESCRIPTIONS | (described or {})
    return {
        code: ResponseSpec(
            data_container=AuthErrorResponse
            if token_auth and code in (401, 403)
            else ErrorResponse,
            description=descriptions[code],
            generate_examples=False,
        )
        for code in codes
    }


READ_ERRORS = error_responses(400, 401, 403, 404)
INGEST_ERRORS = error_responses(400, 401, 403, 413, 503)
WEBHOOK_ERRORS = error_responses(
    400,
    401,
    413,
    503,
    token_auth=False,
    described={
        400: "Not a JSON object with an `event`, or no rtk-uuid header",
        401: "Missing or wrong rtk-signature, or no webhook key set for the app",
    },
)


EXCEPTION_HANDLERS = {
    ApiError: handle_api_error,
    Missing: handle_missing,
    AuthError: handle_auth_error,
    ValidationException: handle_validation_error,
    StoreUnavailable: handle_store_unavailable,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
