"""POST /admin/accounts/{account_id}/apps/{app_id}/users/{user_id}/erasure: honour an
erasure request through the API (a token with the ``admin`` scope), as
``rtk-sessions erase-user`` does from the command line."""

from __future__ import annotations

import anyio
import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import READ_ERRORS, NotFound
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.erasure import erase_user


class Erasure(msgspec.Struct):
    user_id: str
    pseudonym: str
    peers: int
    sessions: int
    events_rewritten: int
    events_erased: int
    summaries_deleted: int


class ErasureResponse(msgspec.Struct):
    success: bool
    data: Erasure


class AdminController(Controller):
    path = "/admin/accounts/{account_id:str}/apps/{app_id:str}"
    tags = ["Admin"]
    opt = {"scope": "admin"}

    @post(
        "/users/{user_id:str}/erasure",
        summary="Erase a user's personal data",
        description="Removes the user's display names, custom ids, IPs, user agents, chat "
        "messages and transcript lines in every session of the app; minutes, durations "
        "and concurrency stay as they were, under a random pseudonym. 404 if no peer "
        "of the app has that user id (nothing to erase, or erased already).",
        operation_id="eraseUser",
        responses=READ_ERRORS,
        status_code=200,
    )
    async def erase(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        user_id: FromPath[str],
    ) -> ErasureResponse:
        def run():
            app_pk = app_key(ctx.db, account_id, app_id)
            return erase_user(ctx.db, app_pk, user_id, ctx.clock()) if app_pk else None

        report = await anyio.to_thread.run_sync(run)
        if report is None or report.pseudonym is None:
            raise NotFound(f"no user {user_id} in {account_id}/{app_id}")
        return ErasureResponse(
            True,
            Erasure(
                user_id=user_id,
                pseudonym=report.pseudonym,
                peers=report.peers,
                sessions=report.sessions,
                events_rewritten=report.events_rewritten,
                events_erased=report.events_tombstoned,
                summaries_deleted=report.summaries_deleted,
            ),
        )
