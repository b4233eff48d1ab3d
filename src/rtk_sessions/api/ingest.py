"""POST /ingest/accounts/{account_id}/apps/{app_id}/events: the native ingest door."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import msgspec
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath

from rtk_sessions.api.context import AppContext, context_of
from rtk_sessions.api.envelope import INGEST_ERRORS, BadParameter, PayloadTooLarge, RequestTimeout
from rtk_sessions.ingest.normalize import BodyError, maybe_gunzip, split_body
from rtk_sessions.ingest.pipeline import IngestReport, ingest_items
from rtk_sessions.metrics import INGEST_EVENTS

NDJSON_TYPES = (
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/x-jsonlines",
)


@dataclass
class EventsBodyOperation(Operation):
    """The ingest body in the OpenAPI document: the handler reads it raw (streamed, size
    checked, maybe gzip), so Litestar cannot infer it."""

    def __post_init__(self) -> None:
        # Items are not constrained here on purpose: the body is taken whatever its items
        # are, and each item is checked on its own (a bad one is listed in `rejected`).
        event = Schema(
            properties={
                "id": Schema(type=OpenAPIType.STRING, description="Unique per app"),
                "type": Schema(type=OpenAPIType.STRING, description="An event type (ingest.md)"),
                "ts": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME),
            },
            description="One event: an object with `id`, `type` and `ts`; its other fields "
            "depend on `type` (docs/ingest.md). An item that is not a valid event is rejected "
            "alone, with its index and the reason.",
        )
        self.request_body = RequestBody(
            required=True,
            description="A JSON array of events, or NDJSON (one event per line); gzip with "
            "Content-Encoding: gzip. Each event is checked on its own.",
            content={
                "application/json": OpenAPIMediaType(
                    schema=Schema(type=OpenAPIType.ARRAY, items=event)
                ),
                "application/x-ndjson": OpenAPIMediaType(
                    # one event per line; each line is checked on its own, like array items
                    schema=Schema(type=OpenAPIType.STRING, pattern=r"\S")
                ),
            },
        )


class RejectedEvent(msgspec.Struct):
    index: int
    id: str | None
    error: str


class IngestResult(msgspec.Struct):
    accepted: int
    duplicates: int
    rejected: list[RejectedEvent]


class IngestResponse(msgspec.Struct):
    success: bool
    data: IngestResult


async def read_limited(
    request: Request, max_bytes: int, setting: str = "RTK_INGEST_MAX_BYTES"
) -> bytes:
    """The raw body, refusing (413) as soon as it grows past ``max_bytes`` (``setting``),
    and (408) a client that takes longer than ``body_read_timeout_seconds`` to send it:
    a slow sender must not hold a worker's connection and memory for ever."""
    timeout_s = context_of(request).settings.body_read_timeout_seconds
    try:
        with anyio.fail_after(timeout_s):
            return await _read_body(request, max_bytes, setting)
    except TimeoutError:
        raise RequestTimeout(
            f"body not received within {timeout_s:g} s (RTK_BODY_READ_TIMEOUT_SECONDS)"
        ) from None


async def _read_body(request: Request, max_bytes: int, setting: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body is larger than the limit of {max_bytes} bytes ({setting})")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode_and_ingest(
    ctx: AppContext,
    account_id: str,
    app_id: str,
    body: bytes,
    content_type: str,
    content_encoding: str | None,
) -> IngestReport:
    settings = ctx.settings
    try:
        body = maybe_gunzip(body, content_encoding, settings.ingest_max_bytes)
        items = split_body(body, ndjson=content_type in NDJSON_TYPES)
    except BodyError as exc:
        raise (PayloadTooLarge if exc.too_large else BadParameter)(str(exc)) from None
    if len(items) > settings.ingest_max_events:
        raise PayloadTooLarge(
            f"batch has {len(items)} events; the limit is {settings.ingest_max_events} per "
            "request (RTK_INGEST_MAX_EVENTS): split it"
        )
    return ingest_items(ctx.db, account_id, app_id, items, ctx.clock())  # type: ignore[arg-type]


class IngestController(Controller):
    path = "/ingest/accounts/{account_id:str}/apps/{app_id:str}"
    tags = ["Ingest"]
    opt = {"scope": "ingest"}

    @post(
        "/events",
        summary="Ingest native events",
        operation_id="ingestEvents",
        responses=INGEST_ERRORS,
        status_code=200,
        request_max_body_size=None,
        operation_class=EventsBodyOperation,
        opt={"token_in_query": True},
    )
    async def ingest_events(
        self,
        ctx: NamedDependency[AppContext],
        request: Request,
        account_id: FromPath[str],
        app_id: FromPath[str],
    ) -> IngestResponse:
        """A JSON array of events, or NDJSON (Content-Type: application/x-ndjson), optionally
        gzip (Content-Encoding: gzip). Valid events are stored even when others are rejected;
        re-sending an event id changes nothing (counted in ``duplicates``)."""
        body = await read_limited(request, ctx.settings.ingest_max_bytes)
        if not body.strip():
            raise BadParameter("body is empty; send a JSON array or NDJSON of events")
        content_type = request.headers.get("content-type", "application/json")
        content_type = content_type.split(";")[0].strip().lower()
        report = await anyio.to_thread.run_sync(
            _decode_and_ingest,
            ctx,
            account_id,
            app_id,
            body,
            content_type,
            request.headers.get("content-encoding"),
        )
        return answer_for("native", report)


def answer_for(door: str, report: IngestReport) -> IngestResponse:
    """The response to an ingest through ``door``, its events counted for /metrics."""
    for (kind, outcome), count in report.by_type.items():
        INGEST_EVENTS.labels(door, kind, outcome).inc(count)
    rejected = [RejectedEvent(r.index, r.id, r.error) for r in report.rejected]
    return IngestResponse(
        success=True, data=IngestResult(report.accepted, report.duplicates, rejected)
    )
