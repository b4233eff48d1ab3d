"""Folding events from the log into meeting, session and peer rows (one app, inside
the transaction that holds the app's fold lock). ``store.folding`` runs the folds
(the queue, the lock, catching a read up); what a fold does with the events is this
module's, registered there on import (the store does not read the events' schema).

1. Fold the lifecycle events into meeting, session and peer rows
   (``ingest.merge``: order-independent by construction, and folding an event
   twice changes nothing).
2. Re-derive every session those events touched, plus the sessions whose
   derived state depends on them: the previous session of the same meeting
   (one live session per meeting) and the parent of a breakout room; each
   is worked out in memory and written once.
"""

from __future__ import annotations

from collections import defaultdict

from rtk_sessions.ingest.events import LIFECYCLE_TYPES
from rtk_sessions.ingest.merge import merge_meeting_event, merge_peer_event, merge_session_event
from rtk_sessions.ingest.normalize import NormalizedEvent, from_log
from rtk_sessions.store.derive import LoadedState
from rtk_sessions.store.folding import register_fold
from rtk_sessions.store.log import FOLDED_TYPES
from rtk_sessions.store.rows import EventRow, MeetingRow, PeerRow, SessionRow, with_meeting
from rtk_sessions.store.writer import AppWriter

# what the log queues for folding is what this folds
assert FOLDED_TYPES == LIFECYCLE_TYPES | {"meeting.upserted"}


def fold_logged(writer: AppWriter, rows: list[EventRow]) -> None:
    """Fold events as the log holds them (validated when appended)."""
    fold_events(
        writer,
        [from_log(r.event_id, r.type, r.ts_ms, r.session_id, r.peer_id, r.payload) for r in rows],
    )


def fold_events(writer: AppWriter, batch: list[NormalizedEvent]) -> None:
    """Fold the events (any order, any types: only meeting and lifecycle events count)."""
    changed_meetings = _fold_meetings(writer, [e for e in batch if e.type == "meeting.upserted"])
    lifecycle_events = [e for e in batch if e.type in LIFECYCLE_TYPES]
    if lifecycle_events or changed_meetings:
        _fold_lifecycle(writer, lifecycle_events, changed_meetings)


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


register_fold(fold_logged)
