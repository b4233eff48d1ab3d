"""What downloads read: a session's chat and transcript events as stored (decoding them
is ``exports.records``'s, with the ingest schema), the peers who spoke, and a version of
each that changes whenever their events do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from sqlalchemy import Connection, func, select

from rtk_sessions.exports.records import Speaker
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import catch_up, readable_app
from rtk_sessions.store.jobs import SUMMARY_JOB, JobRow, SummaryRow, newest_job, stored_summary
from rtk_sessions.store.rows import PeerRow, SessionRow, row_of, select_rows
from rtk_sessions.store.sessions import app_session, session_row
from rtk_sessions.store.tables import events, peers

CHAT = "chat.message"
TRANSCRIPT = "transcript.segment"
STREAM_ROWS = 1_000  # rows fetched at a time while streaming a chat


@dataclass(frozen=True, slots=True)
class ExportSource:
    """A session whose downloads are asked for, and the version of its chat and of its
    transcript: ``"<count>-<latest arrival>"``, ``"0-0"`` when there is none."""

    app_pk: int
    session: SessionRow
    chat_version: str
    transcript_version: str
    summary_job: JobRow | None = None  # the latest, with ``with_summary``
    summary: SummaryRow | None = None

    @property
    def has_chat(self) -> bool:
        return self.chat_version != "0-0"

    @property
    def has_transcript(self) -> bool:
        return self.transcript_version != "0-0"


def export_source(
    db: Database, account_id: str, app_id: str, session_id: str, *, with_summary: bool = False
) -> ExportSource:
    """The session (raises ``Missing``) with its chat and transcript versions and, with
    ``with_summary``, its latest summary job and stored summary, in one snapshot."""
    app_pk = readable_app(db, account_id, app_id)
    with db.read() as conn:
        app_pk, session = app_session(conn, app_pk, session_id)
        source = ExportSource(
            app_pk,
            session,
            event_version(conn, app_pk, session_id, CHAT),
            event_version(conn, app_pk, session_id, TRANSCRIPT),
        )
        if with_summary:
            source = replace(
                source,
                summary_job=newest_job(conn, app_pk, session_id, SUMMARY_JOB, only_active=False),
                summary=stored_summary(conn, app_pk, session_id),
            )
        return source


def export_session(db: Database, app_pk: int, session_id: str) -> SessionRow | None:
    """The session a signed link names (it may have been deleted since)."""
    catch_up(db, app_pk)
    with db.read() as conn:
        return session_row(conn, app_pk, session_id)


def event_version(conn: Connection, app_pk: int, session_id: str, event_type: str) -> str:
    count, latest = conn.execute(
        select(func.count(), func.max(events.c.received_ms)).where(
            events.c.app_pk == app_pk,
            events.c.session_id == session_id,
            events.c.type == event_type,
        )
    ).one()
    return f"{count}-{latest or 0}"


def iter_chat_payloads(db: Database, app_pk: int, session_id: str) -> Iterator[tuple[int, str]]:
    """The session's ``chat.message`` events as stored, (time, JSON), in time order, read
    a thousand rows at a time: a session of 100,000 messages streams in constant memory."""
    with db.read() as conn:
        rows = conn.execution_options(yield_per=STREAM_ROWS).execute(
            select(events.c.ts_ms, events.c.payload)
            .where(
                events.c.app_pk == app_pk,
                events.c.session_id == session_id,
                events.c.type == CHAT,
            )
            .order_by(events.c.ts_ms, events.c.event_id)
        )
        yield from ((ts_ms, payload) for ts_ms, payload in rows)


@dataclass(frozen=True, slots=True)
class StoredTranscript:
    """A session's ``transcript.segment`` events as stored (JSON) and the session's peers
    among their speakers."""

    payloads: list[str]
    speakers: dict[str, Speaker]


def load_transcript(db: Database, app_pk: int, session_id: str) -> StoredTranscript:
    with db.read() as conn:
        payloads = list(
            conn.execute(
                select(events.c.payload, events.c.peer_id).where(
                    events.c.app_pk == app_pk,
                    events.c.session_id == session_id,
                    events.c.type == TRANSCRIPT,
                )
            )
        )
        speaker_ids = sorted({peer_id for _, peer_id in payloads if peer_id})
        speakers = _speakers(conn, app_pk, session_id, speaker_ids)
    return StoredTranscript([payload for payload, _ in payloads], speakers)


def _speakers(
    conn: Connection, app_pk: int, session_id: str, peer_ids: list[str]
) -> dict[str, Speaker]:
    """The session's peers among ``peer_ids`` (a peer that never joined stays unknown)."""
    found: dict[str, Speaker] = {}
    if not peer_ids:
        return found
    rows = conn.execute(
        select_rows(PeerRow, peers).where(
            peers.c.app_pk == app_pk,
            peers.c.session_id == session_id,
            peers.c.peer_id.in_(peer_ids),
        )
    )
    for row in rows:
        peer = row_of(PeerRow, row)
        found[peer.peer_id] = Speaker(
            peer_id=peer.peer_id,
            user_id=peer.user_id,
            display_name=peer.display_name,
            custom_participant_id=peer.custom_participant_id,
            joined_ms=peer.joined_ms,
            left_ms=peer.left_ms,
        )
    return found
