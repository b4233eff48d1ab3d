"""Folding lifecycle events into meeting, session and peer rows.

Every merge is commutative and idempotent, so the rows end up the same for
any arrival order and any number of re-deliveries:

- a session's start is its earliest ``session.started`` by (ts, event id),
  its end the earliest ``session.ended``;
- a peer's join is its earliest ``peer.joined`` (which also supplies its
  name, preset and user), its leave the latest ``peer.left``;
- a meeting is described by its latest ``meeting.upserted``.

Rows are plain dicts keyed by the column names of ``store.tables``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from rtk_sessions.ingest.events import (
    MeetingUpserted,
    PeerJoined,
    PeerLeft,
    SessionEnded,
    SessionStarted,
)
from rtk_sessions.ingest.normalize import NormalizedEvent

Row = dict[str, Any]
_SEPARATOR = "\x1f"  # keeps a search from matching across two fields


def _earlier(ts_ms: int, event_id: str, row_ms: int | None, row_id: str | None) -> bool:
    return row_ms is None or (ts_ms, event_id) < (row_ms, row_id or "")


def _later(ts_ms: int, event_id: str, row_ms: int | None, row_id: str | None) -> bool:
    return row_ms is None or (ts_ms, event_id) > (row_ms, row_id or "")


def new_session_row(session_id: str) -> Row:
    return {
        "session_id": session_id,
        "meeting_id": None,
        "parent_session_id": None,
        "start_event_ms": None,
        "start_event_id": None,
        "meta": None,
        "end_event_ms": None,
        "end_event_id": None,
        "end_reason": None,
    }


def new_peer_row(session_id: str, peer_id: str) -> Row:
    return {
        "session_id": session_id,
        "peer_id": peer_id,
        "joined_ms": None,
        "join_event_id": None,
        "left_ms": None,
        "left_event_id": None,
        "user_id": None,
        "display_name": None,
        "custom_participant_id": None,
        "preset_name": None,
        "preset_view_type": None,
        "role": None,
        "socket_session_id": None,
    }


def merge_session_event(row: Row, item: NormalizedEvent) -> bool:
    """Fold a session.started / session.ended / peer.joined into a session row; True if changed."""
    event = item.event
    if isinstance(event, SessionStarted):
        if not _earlier(item.ts_ms, item.event_id, row["start_event_ms"], row["start_event_id"]):
            return False
        row.update(
            start_event_ms=item.ts_ms,
            start_event_id=item.event_id,
            meeting_id=event.meeting_id,
            parent_session_id=event.parent_session_id,
            meta=msgspec.json.encode(event.meta or {}).decode(),
        )
        return True
    if isinstance(event, SessionEnded):
        if not _earlier(item.ts_ms, item.event_id, row["end_event_ms"], row["end_event_id"]):
            return False
        row.update(end_event_ms=item.ts_ms, end_event_id=item.event_id, end_reason=event.reason)
        return True
    if isinstance(event, PeerJoined) and event.meeting_id and row["meeting_id"] is None:
        # Only when no session.started named the meeting (ingest.md, peer.joined).
        row["meeting_id"] = event.meeting_id
        return True
    return False


def merge_peer_event(row: Row, item: NormalizedEvent) -> bool:
    """Fold a peer.joined / peer.left into a peer row; True if changed."""
    event = item.event
    if isinstance(event, PeerJoined):
        if not _earlier(item.ts_ms, item.event_id, row["joined_ms"], row["join_event_id"]):
            return False
        row.update(
            joined_ms=item.ts_ms,
            join_event_id=item.event_id,
            user_id=event.user_id,
            display_name=event.display_name,
            custom_participant_id=event.custom_participant_id,
            preset_name=event.preset_name,
            preset_view_type=event.preset_view_type,
            role=event.role,
            socket_session_id=event.socket_session_id,
        )
        row["search_text"] = search_text(
            event.display_name, event.user_id, event.custom_participant_id, row["peer_id"]
        )
        return True
    if isinstance(event, PeerLeft):
        if not _later(item.ts_ms, item.event_id, row["left_ms"], row["left_event_id"]):
            return False
        row.update(left_ms=item.ts_ms, left_event_id=item.event_id)
        return True
    return False


def merge_meeting_event(row: Row | None, item: NormalizedEvent) -> Row | None:
    """The meeting row after a meeting.upserted, or None if the stored one is newer."""
    event = item.event
    assert isinstance(event, MeetingUpserted)
    if row is not None and not _later(
        item.ts_ms, item.event_id, row["version_ms"], row["version_event_id"]
    ):
        return None
    return {
        "meeting_id": event.meeting_id,
        "title": event.title,
        "session_type": event.session_type,
        "version_ms": item.ts_ms,
        "version_event_id": item.event_id,
    }


def search_text(*fields: str | None) -> str:
    """The fields, case-folded, for case-insensitive substring search in SQL."""
    return _SEPARATOR.join((field or "").casefold() for field in fields)
