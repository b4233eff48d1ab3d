"""Storing a validated batch: one transaction that logs the events and folds them in.

1. Append the events to the log; the log's key drops re-deliveries.
2. Fold the new lifecycle events into meeting, session and peer rows
   (``ingest.merge``: order-independent by construction).
3. Re-derive every session those events touched, plus the sessions whose
   derived state depends on them: the previous session of the same meeting
   (one live session per meeting) and the parent of a breakout room; each
   is worked out in memory and written once.
"""

from __future__ import annotations

from collections import defaultdict

from rtk_sessions.ingest.events import LIFECYCLE_TYPES
from rtk_sessions.ingest.merge import merge_meeting_event, merge_peer_event, merge_session_event
from rtk_sessions.ingest.normalize import NormalizedEvent
from rtk_sessions.store.derive import LoadedState
from rtk_sessions.store.rows import EventRow, MeetingRow, PeerRow, SessionRow, with_meeting
from rtk_sessions.store.writer import AppWriter


def fold_batch(
    writer: AppWriter, batch: list[NormalizedEvent], received_ms: int
) -> list[NormalizedEvent]:
    """Store a validated batch; returns the events that were new (the rest were duplicates)."""
    inserted = writer.append_events(
        [
            EventRow(
                event_id=e.event_id,
                type=e.type,
                ts_ms=e.ts_ms,
                session_id=e.session_id,
                peer_id=e.peer_id,
                payload=e.payload,
                received_ms=received_ms,
            )
            for e in batch
        ]
    )
    new_events = [e for e in batch if e.event_id in inserted]
    if not new_events:
        return []
    changed_meetings = _fold_meetings(
        writer, [e for e in new_events if e.type == "meeting.upserted"]
    )
    lifecycle_events = [e for e in new_events if e.type in LIFECYCLE_TYPES]
    if lifecycle_events or changed_meetings:
        _fold_lifecycle(writer, lifecycle_events, changed_meetings)
    return new_events


def _fold_meetings(writer: AppWriter, items: list[NormalizedEvent]) -> dict[str, MeetingRow]:
    """Upsert meetings whose newest description changed; returns them by meeting id."""
    if not items:
        return {}
    stored = writer.meetings(list({e.event.meeting_id for e in items}))  # type: ignore[union-attr]
    changed: dict[str, MeetingRow] = {}
    for item in items:
        meeting_id = item.event.meeting_id  # type: ignore[union-attr]
        merged = merge_meeting_event(changed.get(meeting_id) or stored.get(meeting_id), item)
        if merged is not None:
            changed[meeting_id] = merged
    writer.upsert_meetings(list(changed.values()))
    return changed


def _fold_lifecycle(
    writer: AppWriter, items: list[NormalizedEvent], changed_meetings: dict[str, MeetingRow]
) -> None:
    by_session: dict[str, list[NormalizedEvent]] = defaultdict(list)
    for item in items:
        by_session[item.session_id].append(item)  # type: ignore[index]
    state = writer.deriver.load(sorted(by_session))
    dirty_sessions: set[str] = set()
    dirty_peers: dict[tuple[str, str], PeerRow] = {}
    for session_id, session_items in by_session.items():
        if session_id not in state.sessions:
            state.sessions[session_id] = SessionRow(session_id=session_id)
            dirty_sessions.add(session_id)
        session_peers = state.peers.setdefault(session_id, {})
        for item in session_items:
            merged = merge_session_event(state.sessions[session_id], item)
            if merged is not None:
                state.sessions[session_id] = merged
                dirty_sessions.add(session_id)
            if item.peer_id is None:
                continue
            peer = session_peers.get(item.peer_id) or PeerRow(
                session_id=session_id, peer_id=item.peer_id
            )
            merged_peer = merge_peer_event(peer, item)
            if merged_peer is not None:
                session_peers[item.peer_id] = merged_peer
                dirty_peers[(session_id, item.peer_id)] = merged_peer
    _refresh_meeting_copies(writer, state, dirty_sessions, changed_meetings)
    refreshed = set(state.sessions)  # derive_and_store() may load more; not refreshed
    writer.upsert_peers(list(dirty_peers.values()))
    writer.deriver.derive_and_store(state, set(by_session) | dirty_sessions)
    if changed_meetings:
        _copy_meetings_elsewhere(writer, changed_meetings, refreshed)


def _refresh_meeting_copies(
    writer: AppWriter,
    state: LoadedState,
    dirty: set[str],
    changed_meetings: dict[str, MeetingRow],
) -> None:
    """Copy title and type onto sessions whose meeting was just set or changed."""
    loaded = state.sessions
    needed = {loaded[s].meeting_id for s in dirty if loaded[s].meeting_id}
    known = dict(changed_meetings)
    known.update(writer.meetings(sorted(needed - set(known))))  # type: ignore[arg-type]
    for session_id, row in loaded.items():
        meeting = known.get(row.meeting_id) if row.meeting_id else None
        if session_id in dirty or meeting is not None:
            loaded[session_id] = with_meeting(row, meeting)
            dirty.add(session_id)


def _copy_meetings_elsewhere(
    writer: AppWriter, changed_meetings: dict[str, MeetingRow], already_done: set[str]
) -> None:
    """Sessions not in this batch whose meeting's title or type changed."""
    rows = [
        with_meeting(SessionRow(session_id=session_id, meeting_id=meeting_id), meeting)
        for meeting_id, meeting in changed_meetings.items()
        for session_id in writer.session_ids_of_meeting(meeting_id)
        if session_id not in already_done
    ]
    writer.copy_meeting_to_sessions(rows)
