"""What downloads read: a session's chat and transcript from the event log, the peers who
spoke, and a version of each that changes whenever their events do."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
from sqlalchemy import Connection, func, select

from rtk_sessions.exports.records import ChatLine, Speaker, TranscriptLine
from rtk_sessions.store.database import Database
from rtk_sessions.store.rows import PeerRow, SessionRow, row_of, select_rows
from rtk_sessions.store.sessions import app_session
from rtk_sessions.store.tables import events, peers, sessions

CHAT = "chat.message"
TRANSCRIPT = "transcript.segment"
STREAM_ROWS = 1_000  # rows fetched at a time while streaming a chat


class _StoredChat(msgspec.Struct):
    message_id: str
    peer_id: str
    payload_type: str = "TEXT_MESSAGE"
    payload: str = ""
    display_name: str | None = None
    pinned: bool = False
    is_edited: bool = False


class _StoredSegment(msgspec.Struct):
    peer_id: str
    start_ms: int
    end_ms: int
    text: str
    language: str | None = None


_CHAT = msgspec.json.Decoder(_StoredChat)
_SEGMENT = msgspec.json.Decoder(_StoredSegment)


@dataclass(frozen=True, slots=True)
class ExportSource:
    """A session whose downloads are asked for, and the version of its chat and of its
    transcript: ``"<count>-<latest arrival>"``, ``"0-0"`` when there is none."""

    app_pk: int
    session: SessionRow
    chat_version: str
    transcript_version: str

    @property
    def has_chat(self) -> bool:
        return self.chat_version != "0-0"

    @property
    def has_transcript(self) -> bool:
        return self.transcript_version != "0-0"


def export_source(db: Database, account_id: str, app_id: str, session_id: str) -> ExportSource:
    """The session (raises ``Missing``) with its chat and transcript versions."""
    with db.read() as conn:
        app_pk, session = app_session(conn, account_id, app_id, session_id)
        return ExportSource(
            app_pk,
            session,
            event_version(conn, app_pk, session_id, CHAT),
            event_version(conn, app_pk, session_id, TRANSCRIPT),
        )


def export_session(db: Database, app_pk: int, session_id: str) -> SessionRow | None:
    """The session a signed link names (it may have been deleted since)."""
    with db.read() as conn:
        found = conn.execute(
            select_rows(SessionRow, sessions).where(
                sessions.c.app_pk == app_pk, sessions.c.session_id == session_id
            )
        ).first()
    return row_of(SessionRow, found) if found else None


def event_version(conn: Connection, app_pk: int, session_id: str, event_type: str) -> str:
    count, latest = conn.execute(
        select(func.count(), func.max(events.c.received_ms)).where(
            events.c.app_pk == app_pk,
            events.c.session_id == session_id,
            events.c.type == event_type,
        )
    ).one()
    return f"{count}-{latest or 0}"


def iter_chat(db: Database, app_pk: int, session_id: str) -> Iterator[ChatLine]:
    """The session's chat messages in time order, read a thousand rows at a time: a
    session of 100,000 messages streams in constant memory."""
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
        for ts_ms, payload in rows:
            stored = _CHAT.decode(payload)
            yield ChatLine(
                message_id=stored.message_id,
                peer_id=stored.peer_id,
                display_name=stored.display_name,
                payload_type=stored.payload_type,
                payload=stored.payload,
                pinned=stored.pinned,
                is_edited=stored.is_edited,
                created_ms=ts_ms,
            )


@dataclass(frozen=True, slots=True)
class Transcript:
    """A session's transcript in speaking order (start, then peer) and who spoke."""

    lines: list[TranscriptLine]
    speakers: dict[str, Speaker]


def load_transcript(db: Database, app_pk: int, session_id: str) -> Transcript:
    with db.read() as conn:
        payloads = conn.execute(
            select(events.c.payload).where(
                events.c.app_pk == app_pk,
                events.c.session_id == session_id,
                events.c.type == TRANSCRIPT,
            )
        ).scalars()
        segments = [_SEGMENT.decode(payload) for payload in payloads]
        segments.sort(key=lambda s: (s.start_ms, s.end_ms, s.peer_id, s.text))
        lines = [
            TranscriptLine(
                peer_id=s.peer_id,
                start_ms=s.start_ms,
                end_ms=s.end_ms,
                text=s.text,
                language=s.language,
            )
            for s in segments
        ]
        speakers = _speakers(conn, app_pk, session_id, sorted({s.peer_id for s in segments}))
    return Transcript(lines, speakers)


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
