"""Folding lifecycle events into meeting, session and peer rows.

Every merge is commutative and idempotent, so the rows end up the same for
any arrival order and any number of re-deliveries:

- a session's start is its earliest ``session.started`` by (ts, event id),
  its end the earliest ``session.ended``;
- a peer's join is its earliest ``peer.joined`` (which also supplies its
  name, preset and user), its leave the latest ``peer.left``;
- a meeting is described by its latest ``meeting.upserted``.

Rows are the store's frozen row types: a merge returns the changed row, or
None when the event changes nothing.
"""

from __future__ import annotations

import msgspec
from msgspec.structs import replace

from rtk_sessions.ingest.events import (
    MeetingUpserted,
    PeerJoined,
    PeerLeft,
    SessionEnded,
    SessionStarted,
)
from rtk_sessions.ingest.normalize import NormalizedEvent
from rtk_sessions.store.rows import MeetingRow, PeerRow, SessionRow, search_text


def _earlier(ts_ms: int, event_id: str, row_ms: int | None, row_id: str | None) -> bool:
    return row_ms is None or (ts_ms, event_id) < (row_ms, row_id or "")


def _later(ts_ms: int, event_id: str, row_ms: int | None, row_id: str | None) -> bool:
    return row_ms is None or (ts_ms, event_id) > (row_ms, row_id or "")


def merge_session_event(row: SessionRow, item: NormalizedEvent) -> SessionRow | None:
    """A session.started / session.ended / peer.joined folded into a session row."""
    event = item.event
    if isinstance(event, SessionStarted):
        if not _earlier(item.ts_ms, item.event_id, row.start_event_ms, row.start_event_id):
            return None
        return replace(
            row,
            start_event_ms=item.ts_ms,
            start_event_id=item.event_id,
            meeting_id=event.meeting_id,
            parent_session_id=event.parent_session_id,
            meta=msgspec.json.encode(event.meta or {}).decode(),
        )
    if isinstance(event, SessionEnded):
        if not _earlier(item.ts_ms, item.event_id, row.end_event_ms, row.end_event_id):
            return None
        return replace(
            row, end_event_ms=item.ts_ms, end_event_id=item.event_id, end_reason=event.reason
        )
    if isinstance(event, PeerJoined) and event.meeting_id and row.meeting_id is None:
        # Only when no session.started named the meeting (ingest.md, peer.joined).
        return replace(row, meeting_id=event.meeting_id)
    return None


def merge_peer_event(row: PeerRow, item: NormalizedEvent) -> PeerRow | None:
    """A peer.joined / peer.left folded into a peer row."""
    event = item.event
    if isinstance(event, PeerJoined):
        if not _earlier(item.ts_ms, item.event_id, row.joined_ms, row.join_event_id):
            return None
        return replace(
            row,
            joined_ms=item.ts_ms,
            join_event_id=item.event_id,
            user_id=event.user_id,
            display_name=event.display_name,
            custom_participant_id=event.custom_participant_id,
            preset_name=event.preset_name,
            preset_view_type=event.preset_view_type,
            role=event.role,
            socket_session_id=event.socket_session_id,
            search_text=search_text(
                event.display_name, event.user_id, event.custom_participant_id, row.peer_id
            ),
        )
    if isinstance(event, PeerLeft):
        if not _later(item.ts_ms, item.event_id, row.left_ms, row.left_event_id):
            return None
        return replace(row, left_ms=item.ts_ms, left_event_id=item.event_id)
    return None


def merge_meeting_event(row: MeetingRow | None, item: NormalizedEvent) -> MeetingRow | None:
    """The meeting row after a meeting.upserted, or None if the stored one is newer."""
    event = item.event
    assert isinstance(event, MeetingUpserted)
    if row is not None and not _later(
        item.ts_ms, item.event_id, row.version_ms, row.version_event_id
    ):
        return None
    return MeetingRow(
        meeting_id=event.meeting_id,
        title=event.title,
        session_type=event.session_type,
        version_ms=item.ts_ms,
        version_event_id=item.event_id,
    )
