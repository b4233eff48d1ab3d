"""Chat, transcript and summary: download links (GET), summary generation (POST), and
``GET /downloads/...``, which serves a signed link's file without the API token."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

import anyio
import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from rtk_sessions.api.context import AppContext
from rtk_sessions.api.envelope import (
    READ_ERRORS,
    ApiError,
    BadParameter,
    NotFound,
    error_responses,
)
from rtk_sessions.clock import iso_ms
from rtk_sessions.exports.artifacts import render
from rtk_sessions.exports.signing import Artifact, artifact_of, verify
from rtk_sessions.jobs.summary import KIND as SUMMARY
from rtk_sessions.jobs.summary import SummaryParams
from rtk_sessions.store.exports import ExportSource, export_source
from rtk_sessions.store.jobs import enqueue

TranscriptFormat = Literal["CSV", "JSON", "SRT", "VTT"]


class Forbidden(ApiError):
    status_code = 403


class ChatLink(msgspec.Struct):
    chat_download_url: str
    chat_download_url_expiry: str


class ChatResponse(msgspec.Struct):
    success: bool
    data: ChatLink


class TranscriptLink(msgspec.Struct, rename={"session_id": "sessionId"}):
    session_id: str
    transcript_download_url: str
    transcript_download_url_expiry: str


class TranscriptResponse(msgspec.Struct):
    success: bool
    data: TranscriptLink


class SummaryLink(msgspec.Struct, rename="camel"):
    session_id: str
    summary_download_url: str
    summary_download_url_expiry: str


class SummaryResponse(msgspec.Struct):
    success: bool
    data: SummaryLink


class SummaryRequestBody(msgspec.Struct, forbid_unknown_fields=True):
    summary_type: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "general"
    word_limit: Annotated[int, msgspec.Meta(ge=150, le=1000)] = 500
    text_format: Literal["plain_text", "markdown"] = "plain_text"


class SummaryJob(msgspec.Struct):
    session_id: str
    status: Literal["queued", "running", "done"]


class SummaryJobResponse(msgspec.Struct):
    success: bool
    data: SummaryJob


def base_url(ctx: AppContext, request: Request) -> str:
    """Where clients reach us: the configured public URL, else this request's origin."""
    return ctx.settings.public_url or str(request.base_url).rstrip("/")


async def download_link(
    ctx: AppContext, request: Request, artifact: Artifact, version: str
) -> tuple[str, str]:
    """A link to the artifact and its expiry (ISO 8601)."""
    link = await anyio.to_thread.run_sync(
        ctx.downloads.link, artifact, base_url(ctx, request), ctx.clock(), version
    )
    return link.url, iso_ms(link.expires_ms)  # type: ignore[return-value]


async def _source(
    ctx: AppContext, account_id: str, app_id: str, session_id: str, *, with_summary: bool = False
) -> ExportSource:
    read = partial(export_source, with_summary=with_summary)
    return await anyio.to_thread.run_sync(read, ctx.db, account_id, app_id, session_id)


async def queue_summary(
    ctx: AppContext,
    account_id: str,
    app_id: str,
    session_id: str,
    options: SummaryRequestBody | None = None,
) -> str:
    """Queue the session's summary (``NotFound`` without a transcript): ``done`` when one
    was already made from this transcript with these options, else the job's status
    (an active job is not queued twice)."""
    options = options or SummaryRequestBody()
    source = await _source(ctx, account_id, app_id, session_id, with_summary=True)
    if not source.has_transcript:
        raise NotFound(f"no transcript in session {session_id}")
    params = SummaryParams(
        summary_type=options.summary_type,
        word_limit=options.word_limit,
        text_format=options.text_format,
        transcript_version=source.transcript_version,
    )
    encoded = msgspec.json.encode(params).decode()
    if source.summary is not None and source.summary.params == encoded:
        return "done"
    job = await anyio.to_thread.run_sync(
        lambda: enqueue(
            ctx.db,
            kind=SUMMARY,
            app_pk=source.app_pk,
            session_id=session_id,
            params=encoded,
            max_attempts=ctx.settings.job_max_attempts,
            now_ms=ctx.clock(),
        )
    )
    return job.status


class ExportsController(Controller):
    tags = ["Downloads"]
    opt = {"scope": "read"}

    @get(
        "/sessions/{session_id:str}/chat",
        summary="Fetch all chat messages of a session",
        description="A signed link to the session's chat as CSV (exports.md), valid for "
        "RTK_DOWNLOAD_LINK_SECONDS. 404 when the session has no chat.",
        operation_id="getSessionChat",
        responses=READ_ERRORS,
    )
    async def chat(
        self,
        ctx: NamedDependency[AppContext],
        request: Request,
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
    ) -> ChatResponse:
        source = await _source(ctx, account_id, app_id, session_id)
        if not source.has_chat:
            raise NotFound(f"no chat in session {session_id}")
        artifact = Artifact("chat", source.app_pk, session_id)
        url, expiry = await download_link(ctx, request, artifact, source.chat_version)
        return ChatResponse(True, ChatLink(url, expiry))

    @get(
        "/sessions/{session_id:str}/transcript",
        summary="Fetch the complete transcript for a session",
        description="A signed link to the session's transcript in the format asked for.",
        operation_id="getSessionTranscripts",
        responses=READ_ERRORS,
    )
    async def transcript(
        self,
        ctx: NamedDependency[AppContext],
        request: Request,
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
        format: Annotated[
            TranscriptFormat, QueryParameter(description="CSV (default), JSON, SRT or VTT.")
        ] = "CSV",
    ) -> TranscriptResponse:
        source = await _source(ctx, account_id, app_id, session_id)
        if not source.has_transcript:
            raise NotFound(f"no transcript in session {session_id}")
        artifact = Artifact("transcript", source.app_pk, session_id, format)
        url, expiry = await download_link(ctx, request, artifact, source.transcript_version)
        return TranscriptResponse(True, TranscriptLink(session_id, url, expiry))

    @get(
        "/sessions/{session_id:str}/summary",
        summary="Fetch summary of transcripts for a session",
        description="A signed link to the summary made by POST .../summary. 404 while it is "
        "queued or being generated, when it failed (with the error), or when none was asked for.",
        operation_id="getSessionSummary",
        responses=READ_ERRORS,
    )
    async def summary(
        self,
        ctx: NamedDependency[AppContext],
        request: Request,
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
    ) -> SummaryResponse:
        source = await _source(ctx, account_id, app_id, session_id, with_summary=True)
        job, stored = source.summary_job, source.summary
        if job is not None and job.status in ("queued", "running"):
            raise NotFound(f"summary of session {session_id} is being generated ({job.status})")
        if job is not None and job.status == "failed":
            raise NotFound(f"summary generation of session {session_id} failed: {job.error}")
        if stored is None:
            raise NotFound(
                f"summary of session {session_id} not generated yet; POST .../summary to start"
            )
        artifact = Artifact("summary", source.app_pk, session_id)
        url, expiry = await download_link(ctx, request, artifact, f"job-{stored.job_id}")
        return SummaryResponse(True, SummaryLink(session_id, url, expiry))

    @post(
        "/sessions/{session_id:str}/summary",
        summary="Generate summary of Transcripts for the session",
        description="Queues summary generation of the session's transcript. A second request "
        "while one is queued or running queues nothing; a summary already made from the same "
        "transcript with the same options is answered `done`. 404 without a transcript.",
        operation_id="generateSummaryOfTranscripts",
        responses=READ_ERRORS,
        status_code=200,
    )
    async def generate_summary(
        self,
        ctx: NamedDependency[AppContext],
        account_id: FromPath[str],
        app_id: FromPath[str],
        session_id: FromPath[str],
        data: Annotated[SummaryRequestBody | None, Body(description="Optional options.")] = None,
    ) -> SummaryJobResponse:
        status = await queue_summary(ctx, account_id, app_id, session_id, data)
        return SummaryJobResponse(True, SummaryJob(session_id, status))  # type: ignore[arg-type]


class DownloadController(Controller):
    tags = ["Downloads"]

    @get(
        "/downloads/{token:str}",
        summary="A file behind a signed link",
        description="Works without the API token, until the link's expiry, for the artifact "
        "it names only. 403 when the signature does not match, 403 'link expired' after.",
        operation_id="download",
        responses=error_responses(
            403,
            404,
            token_auth=False,
            described={403: "The link's signature does not match, or the link expired"},
        ),
    )
    async def download(
        self,
        ctx: NamedDependency[AppContext],
        token: FromPath[str],
        exp: FromQuery[str | None] = None,
        sig: FromQuery[str | None] = None,
    ) -> Stream:
        secret = await anyio.to_thread.run_sync(ctx.downloads.secret)
        path = f"/downloads/{token}"
        verdict = verify(secret, path, exp, sig, ctx.clock() // 1000)
        if verdict == "tampered":
            raise Forbidden("download link signature does not match")
        if verdict == "expired":
            raise Forbidden("link expired")
        artifact = artifact_of(token)
        if artifact is None:
            raise Forbidden("download link names nothing")
        if artifact.kind == "transcript" and artifact.format not in ("CSV", "JSON", "SRT", "VTT"):
            raise BadParameter(f"unknown transcript format {artifact.format!r}")
        rendered = await anyio.to_thread.run_sync(render, ctx.db, artifact)
        if rendered is None:
            raise NotFound("the session behind this link no longer exists")
        return Stream(
            rendered.body,
            media_type=rendered.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{rendered.filename}"',
                "Cache-Control": "private, no-store",
            },
        )
