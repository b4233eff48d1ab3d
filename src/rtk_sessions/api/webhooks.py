"""POST /webhooks/rtk/accounts/{account_id}/apps/{app_id}: RealtimeKit's webhooks.

Authenticated by the delivery's RSA signature against the key the operator set for
the app (``rtk-sessions webhook-key set``), not by an API token. RealtimeKit
retries only 5xx and network errors, so what is final is a 4xx (bad signature,
unreadable body) and what is worth retrying is a 503 (nothing was stored).
"""

from __future__ import annotations

import logging

import anyio
from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import (
    WEBHOOK_ERRORS,
    BadParameter,
    PayloadTooLarge,
    RequestTimeout,
    Unauthorized,
)
from rtk_sessions.api.ingest import IngestResponse, answer_for, read_limited
from rtk_sessions.ingest import webhooks
from rtk_sessions.ingest.pipeline import IngestReport, ingest_delivery
from rtk_sessions.jobs.webhook_files import queue_fetch
from rtk_sessions.metrics import WEBHOOK_DELIVERIES
from rtk_sessions.store.database import StoreUnavailable
from rtk_sessions.store.webhook_keys import webhook_key

log = logging.getLogger("rtk_sessions.webhooks")


def _verify(ctx: AppContext, account_id: str, app_id: str, body: bytes, signature: str | None):
    key = webhook_key(ctx.db, account_id, app_id)
    if key is None:
        if ctx.settings.webhooks_allow_unsigned:
            return
        raise webhooks.SignatureError(
            f"no webhook key set for {account_id}/{app_id} "
            "(rtk-sessions webhook-key set --account A --app B PEM_FILE)"
        )
    webhooks.verify_signature(key.public_key_pem, body, signature)


def _receive(
    ctx: AppContext,
    state: dict,
    account_id: str,
    app_id: str,
    body: bytes,
    signature: str | None,
    uuid: str | None,
) -> IngestReport:
    try:
        _verify(ctx, account_id, app_id, body, signature)
    except webhooks.SignatureError as refused:
        log.info("webhook for %s/%s refused: %s", account_id, app_id, refused)
        raise Unauthorized(str(refused)) from None
    try:
        delivery = webhooks.parse_delivery(body, uuid)
    except webhooks.DeliveryError as unreadable:
        raise BadParameter(str(unreadable)) from None
    state["rtk_event"] = delivery.event
    now_ms = ctx.clock()
    record = webhooks.record_of(delivery, now_ms)
    mapped = webhooks.native_events(delivery)
    report = ingest_delivery(ctx.db, account_id, app_id, record, mapped, now_ms)
    link = webhooks.file_link(delivery)
    if link is not None and report.accepted and ctx.settings.webhooks_fetch_files:
        queue_fetch(ctx.db, ctx.settings, account_id, app_id, link, now_ms)
    return report


_REFUSALS = {
    Unauthorized: "refused",
    BadParameter: "unreadable",
    PayloadTooLarge: "too_large",
    RequestTimeout: "too_slow",
}


def _event_label(request: Request) -> str:
    """The delivery's event type for the metrics: RealtimeKit sends none in a header and
    the body may be unreadable or unsigned, so only the known names are kept."""
    event = request.scope.get("state", {}).get("rtk_event")
    return event if event in webhooks.KNOWN_EVENTS else "other"


class WebhooksController(Controller):
    path = "/webhooks/rtk/accounts/{account_id:str}/apps/{app_id:str}"
    tags = ["Webhooks"]

    @post(
        "/",
        summary="Receive a RealtimeKit webhook delivery",
        operation_id="receiveRealtimeKitWebhook",
        responses=WEBHOOK_ERRORS,
        status_code=200,
        request_max_body_size=None,
    )
    async def receive(
        self,
        ctx: NamedDependency[AppContext],
        request: Request,
        account_id: FromPath[str],
        app_id: FromPath[str],
    ) -> IngestResponse:
        """A delivery signed by RealtimeKit (``rtk-signature``: base64 RSA-SHA256 of the
        body), deduplicated on ``rtk-uuid``: a redelivery is answered 200 and changes
        nothing. Every event type is stored; the meeting and participant ones become
        the sessions and participants the read API serves. ``accepted`` counts the
        delivery and the native events it maps onto."""
        outcome = "error"
        try:
            body = await read_limited(
                request, ctx.settings.webhook_max_bytes, "RTK_WEBHOOK_MAX_BYTES"
            )
            report = await anyio.to_thread.run_sync(
                _receive,
                ctx,
                request.scope.setdefault("state", {}),
                account_id,
                app_id,
                body,
                request.headers.get("rtk-signature"),
                request.headers.get("rtk-uuid"),
            )
            outcome = "stored" if report.accepted else "duplicate"
        except (Unauthorized, BadParameter, PayloadTooLarge, RequestTimeout) as refused:
            outcome = _REFUSALS[type(refused)]
            raise
        except StoreUnavailable:
            outcome = "unavailable"  # answered 503: RealtimeKit delivers it again
            raise
        finally:
            WEBHOOK_DELIVERIES.labels(_event_label(request), outcome).inc()
        return answer_for("webhook", report)
