"""The dashboard's routes under ``/ui``: parse, check the viewer, call, render.

Every page needs a signed-in token that may read the app in its path; the account is
the token's own, so another account's data cannot even be named.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect

from rtk_sessions.api.context import context_of
from rtk_sessions.api.downloads import download_link, queue_summary
from rtk_sessions.api.envelope import ApiError
from rtk_sessions.exports.signing import Artifact
from rtk_sessions.store.apps import Missing
from rtk_sessions.store.database import StoreUnavailable
from rtk_sessions.store.exports import export_source
from rtk_sessions.ui.auth import (
    Refused,
    SignInRequired,
    Viewer,
    check_form,
    check_origin,
    readable_grant,
    safe_next,
    signed_in,
    signed_out,
    viewer_for,
)
from rtk_sessions.ui.peer import peer_view
from rtk_sessions.ui.session import TRANSCRIPT_FORMATS, session_view
from rtk_sessions.ui.sessions import PER_PAGE_CHOICES, parse_form, sessions_view
from rtk_sessions.ui.templates import page

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
APP = "/apps/{app_id:str}"


def _template(request: Request, whole: str, **parts: str) -> str:
    """The page, or the part of it the page's own script asks for when it refreshes
    (``X-Rtk-Fragment: rows`` or ``summary``, ui.js)."""
    return parts.get(request.headers.get("x-rtk-fragment", ""), whole)


def _base(request: Request, viewer: Viewer, app_id: str, **context: Any) -> dict[str, Any]:
    return {"viewer": viewer, "app_id": app_id, "path": request.url.path, **context}


class AccountPages(Controller):
    """Signing in and out, and choosing an app."""

    @get("/sign-in")
    async def sign_in_form(self, next: FromQuery[str | None] = None) -> Response:
        return page("sign_in.html", next=safe_next(next), error=None)

    @post("/sign-in", status_code=303)
    async def sign_in(self, request: Request, data: Form) -> Response:
        check_origin(request)
        token = str(data.get("token", "")).strip()
        target = safe_next(str(data.get("next", "")))
        ctx = context_of(request)
        grant = await anyio.to_thread.run_sync(readable_grant, ctx, token) if token else None
        if grant is None:
            error = "That token is unknown, revoked, or may not read sessions."
            return page("sign_in.html", status_code=401, next=target, error=error)
        return signed_in(Redirect(target, status_code=303), request, token)

    @post("/sign-out", status_code=303)
    async def sign_out(self, request: Request, data: Form) -> Response:
        check_form(request, await viewer_for(request), data)
        return signed_out(Redirect("/ui/sign-in", status_code=303))

    @get("/")
    async def home(self, request: Request) -> Response:
        viewer = await viewer_for(request)
        if not viewer.app_ids:
            return page("no_apps.html", **_base(request, viewer, ""))
        return Redirect(f"/ui/apps/{viewer.app_ids[0]}/sessions", status_code=303)

    @get("/switch")
    async def switch(self, request: Request, app: FromQuery[str] = "") -> Response:
        await viewer_for(request, app)  # refuses an app this token may not read
        return Redirect(f"/ui/apps/{app}/sessions", status_code=303)


class SessionPages(Controller):
    path = APP

    @get("/sessions")
    async def sessions(self, request: Request, app_id: FromPath[str]) -> Response:
        viewer = await viewer_for(request, app_id)
        ctx = context_of(request)
        form = parse_form(request.query_params)
        shown = await anyio.to_thread.run_sync(sessions_view, ctx, viewer.account_id, app_id, form)
        template = _template(request, "sessions.html", rows="session_rows.html")
        return page(
            template,
            **_base(request, viewer, app_id, form=form.values, per_page_choices=PER_PAGE_CHOICES),
            refresh_seconds=ctx.settings.ui_refresh_seconds,
            **shown,
        )

    @get("/sessions/{session_id:str}")
    async def session(
        self, request: Request, app_id: FromPath[str], session_id: FromPath[str]
    ) -> Response:
        viewer = await viewer_for(request, app_id)
        ctx = context_of(request)
        timeline, source = await anyio.to_thread.run_sync(
            session_view, ctx, viewer.account_id, app_id, session_id
        )
        template = _template(request, "session.html", summary="summary.html")
        return page(
            template,
            **_base(request, viewer, app_id),
            timeline=timeline,
            source=source,
            formats=TRANSCRIPT_FORMATS,
        )

    @get("/sessions/{session_id:str}/download/{what:str}")
    async def download(
        self,
        request: Request,
        app_id: FromPath[str],
        session_id: FromPath[str],
        what: FromPath[str],
    ) -> Response:
        """Off to a signed link of the chat (``chat``) or transcript (``transcript-CSV`` ...)."""
        viewer = await viewer_for(request, app_id)
        ctx = context_of(request)
        source = await anyio.to_thread.run_sync(
            export_source, ctx.db, viewer.account_id, app_id, session_id
        )
        if what == "chat" and source.has_chat:
            artifact, version = Artifact("chat", source.app_pk, session_id), source.chat_version
        elif what.removeprefix("transcript-") in TRANSCRIPT_FORMATS and source.has_transcript:
            fmt = what.removeprefix("transcript-")
            artifact = Artifact("transcript", source.app_pk, session_id, fmt)
            version = source.transcript_version
        else:
            raise Missing(f"nothing to download as {what!r} in session {session_id}")
        url, _ = await download_link(ctx, request, artifact, version)
        return Redirect(url, status_code=303)

    @post("/sessions/{session_id:str}/summary", status_code=303)
    async def summary(
        self, request: Request, app_id: FromPath[str], session_id: FromPath[str], data: Form
    ) -> Response:
        viewer = await viewer_for(request, app_id)
        check_form(request, viewer, data)
        await queue_summary(context_of(request), viewer.account_id, app_id, session_id)
        return Redirect(f"/ui/apps/{app_id}/sessions/{session_id}#summary", status_code=303)

    @get("/peers/{peer_id:str}")
    async def peer(
        self, request: Request, app_id: FromPath[str], peer_id: FromPath[str]
    ) -> Response:
        viewer = await viewer_for(request, app_id)
        ctx = context_of(request)
        shown = await anyio.to_thread.run_sync(peer_view, ctx, viewer.account_id, app_id, peer_id)
        return page("peer.html", **_base(request, viewer, app_id), peer=shown)


def _sign_in_first(request: Request, exc: SignInRequired) -> Response:
    if request.method != "GET":
        return _error_page(request, 401, "You are signed out. Sign in and try again.")
    target = (
        "/ui/sign-in" if exc.next_path in ("/ui", "/ui/") else f"/ui/sign-in?next={exc.next_path}"
    )
    return Redirect(target, status_code=303)


def _error_page(request: Request, status: int, message: str, **headers: str) -> Response:
    response = page("error.html", status_code=status, status=status, message=message)
    response.headers.update(headers)
    return response


EXCEPTION_HANDLERS: dict[Any, Any] = {
    SignInRequired: _sign_in_first,
    Refused: lambda request, exc: _error_page(request, exc.status_code, exc.message),
    Missing: lambda request, exc: _error_page(request, 404, exc.message),
    ApiError: lambda request, exc: _error_page(request, exc.status_code, str(exc.message)),
    ValidationException: lambda request, exc: _error_page(
        request, 400, "The form was not readable."
    ),
    StoreUnavailable: lambda request, exc: _error_page(
        request,
        503,
        "The database is busy or unavailable; try again in a few seconds.",
        **{"Retry-After": "5"},
    ),
}


def no_such_page(request: Request) -> Response:
    """A path under /ui that is no page (the router found nothing): a page saying so."""
    return _error_page(request, 404, f"There is no dashboard page at {request.url.path}.")


def server_timing(app):  # type: ignore[no-untyped-def]
    """ASGI middleware: ``Server-Timing: app;dur=<ms>`` on every dashboard response."""

    async def middleware(scope, receive, send):  # type: ignore[no-untyped-def]
        started = time.perf_counter()

        async def timed_send(message):  # type: ignore[no-untyped-def]
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                headers = list(message.get("headers", []))
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, timed_send)

    return middleware


def ui_router() -> Router:
    return Router(
        path="/ui",
        route_handlers=[AccountPages, SessionPages],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[server_timing],
        include_in_schema=False,
    )
