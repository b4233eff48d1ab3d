"""Rendering what a download link names, from the data as stored now."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rtk_sessions.exports.chat import chat_csv
from rtk_sessions.exports.records import chat_lines, transcript_lines
from rtk_sessions.exports.signing import Artifact
from rtk_sessions.exports.transcript import FORMATS, TranscriptWriter
from rtk_sessions.store.database import Database
from rtk_sessions.store.exports import export_session, iter_chat_payloads, load_transcript
from rtk_sessions.store.jobs import load_summary

SUMMARY_TYPES = {"markdown": ("text/markdown; charset=utf-8", "md")}
PLAIN_TEXT = ("text/plain; charset=utf-8", "txt")


@dataclass(frozen=True, slots=True)
class Rendered:
    """An artifact's bytes (a lazy stream), media type and file name."""

    body: Iterator[bytes]
    media_type: str
    filename: str


def render(db: Database, artifact: Artifact) -> Rendered | None:
    """The artifact's content, or None when its session (or summary) no longer exists."""
    session = export_session(db, artifact.app_pk, artifact.session_id)
    if session is None:
        return None
    name = _file_stem(artifact.session_id)
    if artifact.kind == "chat":
        body = chat_csv(
            chat_lines(iter_chat_payloads(db, artifact.app_pk, artifact.session_id)),
            session_id=artifact.session_id,
            meeting_id=session.meeting_id,
        )
        return Rendered(body, "text/csv; charset=utf-8", f"chat-{name}.csv")
    if artifact.kind == "transcript":
        writer, media_type, extension = FORMATS[artifact.format]
        body = _transcript(db, artifact, writer)
        return Rendered(body, media_type, f"transcript-{name}.{extension}")
    summary = load_summary(db, artifact.app_pk, artifact.session_id)
    if summary is None:
        return None
    media_type, extension = SUMMARY_TYPES.get(summary.text_format, PLAIN_TEXT)
    return Rendered(iter([summary.text.encode()]), media_type, f"summary-{name}.{extension}")


def _transcript(db: Database, artifact: Artifact, writer: TranscriptWriter) -> Iterator[bytes]:
    """The transcript file, read from the database only when the first chunk is asked for
    (the body of every Rendered is lazy: making a link never reads the data)."""
    stored = load_transcript(db, artifact.app_pk, artifact.session_id)
    yield from writer(transcript_lines(stored.payloads), stored.speakers)


def _file_stem(session_id: str) -> str:
    """The session id, kept to characters every file system and header accepts."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)
    return safe[:100] or "session"
