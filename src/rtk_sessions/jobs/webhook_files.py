"""Fetching the files RealtimeKit's webhooks link to (``RTK_WEBHOOKS_FETCH_FILES``).

A ``meeting.chatSynced``, ``meeting.transcript`` or ``meeting.summary`` delivery
queues one job; the job downloads the file and ingests it (chat messages,
transcript segments) or stores it as the session's summary, then is done. A failed
download is retried with back-off like any job (the links expire: RealtimeKit's
own retries of the delivery do not help, since the delivery is already stored).
"""

from __future__ import annotations

import httpx
import msgspec

from rtk_sessions.config import Settings
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.ingest.webhook_files import chat_events, transcript_events
from rtk_sessions.ingest.webhooks import FileLink
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.exports import export_session
from rtk_sessions.store.jobs import JobRow, SummaryRow, complete, complete_summary, enqueue

KIND = "webhook_file"
FETCH_TIMEOUT_S = 60.0


class FetchParams(msgspec.Struct, frozen=True):
    account_id: str
    app_id: str
    kind: str  # chat | transcript | summary
    url: str


def queue_fetch(
    db: Database, settings: Settings, account_id: str, app_id: str, link: FileLink, now_ms: int
) -> JobRow | None:
    """Queue the download of ``link`` (the app exists: its delivery was just stored)."""
    app_pk = app_key(db, account_id, app_id)
    if app_pk is None:
        return None
    params = FetchParams(account_id, app_id, link.kind, link.url)
    return enqueue(
        db,
        kind=f"{KIND}:{link.kind}",
        app_pk=app_pk,
        session_id=link.session_id,
        params=msgspec.json.encode(params).decode(),
        max_attempts=settings.job_max_attempts,
        now_ms=now_ms,
    )


def download(url: str, max_bytes: int) -> str:
    """The file at ``url`` as text, refusing one larger than ``max_bytes``."""
    with httpx.stream("GET", url, timeout=FETCH_TIMEOUT_S, follow_redirects=True) as response:
        response.raise_for_status()
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise ValueError(
                    f"file is larger than {max_bytes} bytes (RTK_WEBHOOK_FILE_MAX_BYTES)"
                )
    return body.decode("utf-8-sig")


def run_fetch(db: Database, settings: Settings, job: JobRow, now_ms: int) -> None:
    params = msgspec.json.decode(job.params, type=FetchParams)
    text = download(params.url, settings.webhook_file_max_bytes)
    if params.kind == "summary":
        summary = SummaryRow(
            session_id=job.session_id,
            text=text,
            text_format="plain_text",
            params="{}",  # RealtimeKit's own summary, not one asked of us
            transcript_version="",
            job_id=job.job_id,
            created_ms=now_ms,
        )
        complete_summary(db, job, summary, now_ms)
        return
    if params.kind == "chat":
        events = chat_events(text, job.session_id)
    else:
        session = export_session(db, job.app_pk, job.session_id)
        started_ms = session.started_ms if session and session.started_ms else now_ms
        events = transcript_events(text, job.session_id, started_ms)
    items = [msgspec.json.encode(event) for event in events]
    report = ingest_items(db, params.account_id, params.app_id, items, now_ms)  # type: ignore[arg-type]
    if report.rejected:
        first = report.rejected[0]
        raise ValueError(
            f"{len(report.rejected)} of {len(items)} rows of the {params.kind} file were "
            f"not valid, e.g. row {first.index + 1}: {first.error}"
        )
    complete(db, job, now_ms)


KINDS = tuple(f"{KIND}:{kind}" for kind in ("chat", "transcript", "summary"))
