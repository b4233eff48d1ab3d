"""Who is looking at the dashboard: an API token kept in a cookie.

Signing in checks the token like the API does (live, with the ``read`` scope) and
puts it in a cookie the page's scripts cannot read (HttpOnly), that no other site can
make the browser send (SameSite=Strict), sent only over HTTPS when the dashboard is
reached over HTTPS (Secure). Every page re-checks the grant (cached like the API's for
``RTK_TOKEN_CACHE_SECONDS``), so a revoked token signs the browser out.

Forms that change something (summary, sign-out) also carry a CSRF token: an HMAC of
the signed-in token's hash under a key kept in the database, checked on every POST,
and a request whose ``Origin`` is not this server is refused, whatever it carries.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import anyio
from litestar import Request, Response
from litestar.datastructures import Cookie

from rtk_sessions.api.context import AppContext, context_of
from rtk_sessions.store.apps import Missing, app_ids_of
from rtk_sessions.store.jobs import instance_secret
from rtk_sessions.store.tokens import TokenGrant, hash_token

COOKIE = "rtk_ui_token"
COOKIE_PATH = "/ui"
CSRF_SECRET_NAME = "ui_csrf"


class SignInRequired(Exception):
    """No usable token: the browser is sent to the sign-in page (``next`` = where it was)."""

    def __init__(self, next_path: str, reason: str = "") -> None:
        super().__init__(reason)
        self.next_path, self.reason = next_path, reason


class Refused(Exception):
    """Signed in, but this token may not do this (another account, app or a forged form)."""

    def __init__(self, message: str, status_code: int = 403) -> None:
        super().__init__(message)
        self.message, self.status_code = message, status_code


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in token's grant, the apps it sees and the CSRF token of its forms."""

    grant: TokenGrant
    app_ids: tuple[str, ...]
    csrf: str

    @property
    def account_id(self) -> str:
        return self.grant.account_id

    def check_app(self, app_id: str) -> None:
        """Refuse an app the token may not read (403) or that its account has not (404)."""
        if not self.grant.allows(self.account_id, app_id, "read"):
            raise Refused(f"this token may not read app {app_id}")
        if app_id not in self.app_ids:
            raise Missing(f"account {self.account_id} has no app {app_id}")


async def viewer_for(request: Request, app_id: str | None = None) -> Viewer:
    """The signed-in viewer (off the event loop: it may read the database), checked
    against ``app_id`` when one is named."""
    viewer = await anyio.to_thread.run_sync(viewer_of, request)
    if app_id is not None:
        viewer.check_app(app_id)
    return viewer


def readable_grant(ctx: AppContext, token: str) -> TokenGrant | None:
    """The token's grant if it is live and may read, else None."""
    grant = ctx.grants.grant_for(ctx.db, token)
    return grant if grant is not None and "read" in grant.scopes else None


def viewer_of(request: Request) -> Viewer:
    """The signed-in viewer, or :class:`SignInRequired`."""
    ctx = context_of(request)
    token = request.cookies.get(COOKIE)
    grant = readable_grant(ctx, token) if token else None
    if grant is None:
        raise SignInRequired(request.url.path, "signed out" if not token else "token revoked")
    stored = app_ids_of(ctx.db, grant.account_id)
    visible = [a for a in stored if grant.app_ids is None or a in grant.app_ids]
    return Viewer(grant, tuple(visible), csrf_token(ctx, token))  # type: ignore[arg-type]


def csrf_token(ctx: AppContext, token: str) -> str:
    key = instance_secret(ctx.db, CSRF_SECRET_NAME, ctx.clock())
    return hmac.new(key.encode(), hash_token(token).encode(), hashlib.sha256).hexdigest()


def check_form(request: Request, viewer: Viewer, form: dict[str, str]) -> None:
    """Refuse a POST from another origin or without this viewer's CSRF token."""
    check_origin(request)
    if not hmac.compare_digest(form.get("csrf", ""), viewer.csrf):
        raise Refused("the form is stale or was not made by this dashboard; reload the page")


def check_origin(request: Request) -> None:
    origin = request.headers.get("origin")
    if origin and origin.rstrip("/") != _own_origin(request):
        raise Refused(f"a form posted from {origin} is not accepted")


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def over_https(request: Request) -> bool:
    ctx = context_of(request)
    return request.url.scheme == "https" or ctx.settings.public_url.startswith("https://")


def signed_in(response: Response, request: Request, token: str) -> Response:
    """``response`` setting the session cookie (it lasts until the browser closes)."""
    response.set_cookie(
        Cookie(
            key=COOKIE,
            value=token,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=over_https(request),
        )
    )
    return response


def signed_out(response: Response) -> Response:
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a dashboard path only (no open redirect)."""
    if path and path.startswith("/ui/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/ui/"
