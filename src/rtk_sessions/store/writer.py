"""The write side: one ingest batch in one transaction.

1. Append the events to the log; the primary key drops re-deliveries.
2. Fold the new lifecycle events into meeting, session and peer rows
   (``ingest.merge``: order-independent by construction).
3. Re-derive every session those events touched, plus the sessions whose
   derived state depends on them: the previous session of the same meeting
   (one live session per meeting) and the parent of a breakout room.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, select

from rtk_sessions.ingest.events import LIFECYCLE_TYPES
from rtk_sessions.ingest.merge import (
    Row,
    merge_meeting_event,
    merge_peer_event,
    merge_session_event,
    new_peer_row,
    new_session_row,
    search_text,
)
from rtk_sessions.ingest.normalize import NormalizedEvent
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.derive import SessionDeriver
from rtk_sessions.store.tables import events, meetings, peers, sessions


def write_batch(
    db: Database, conn: Connection, app_pk: int, batch: list[NormalizedEvent], received_ms: int
) -> int:
    """Store a validated batch; returns how many events were new (the rest were duplicates)."""
    new_events = _append_to_log(db, conn, app_pk, batch, received_ms)
    if not new_events:
        return 0
    meeting_events = [e for e in new_events if e.type == "meeting.upserted"]
    lifecycle_events = [e for e in new_events if e.type in LIFECYCLE_TYPES]
    changed_meetings = _apply_meetings(db, conn, app_pk, meeting_events)
    if lifecycle_events or changed_meetings:
        _LifecycleWriter(db, conn, app_pk).apply(lifecycle_events, changed_meetings)
    return len(new_events)


def _append_to_log(
    db: Database, conn: Connection, app_pk: int, batch: list[NormalizedEvent], received_ms: int
) -> list[NormalizedEvent]:
    rows = [
        {
            "app_pk": app_pk,
            "event_id": e.event_id,
            "type": e.type,
            "ts_ms": e.ts_ms,
            "session_id": e.session_id,
            "peer_id": e.peer_id,
            "payload": e.payload,
            "received_ms": received_ms,
        }
        for e in batch
    ]
    statement = db.insert(events).on_conflict_do_nothing().returning(events.c.event_id)
    inserted = set(conn.execute(statement, rows).scalars())
    return [e for e in batch if e.event_id in inserted]


def _apply_meetings(
    db: Database, conn: Connection, app_pk: int, items: list[NormalizedEvent]
) -> dict[str, Row]:
    """Upsert meetings whose newest description changed; returns them by meeting id."""
    if not items:
        return {}
    ids = sorted({e.event.meeting_id for e in items})  # type: ignore[union-attr]
    stored = {
        row.meeting_id: dict(row._mapping)
        for chunk in chunks(ids)
        for row in conn.execute(
            select(meetings).where(meetings.c.app_pk == app_pk, meetings.c.meeting_id.in_(chunk))
        )
    }
    changed: dict[str, Row] = {}
    for item in items:
        meeting_id = item.event.meeting_id  # type: ignore[union-attr]
        merged = merge_meeting_event(changed.get(meeting_id) or stored.get(meeting_id), item)
        if merged is not None:
            changed[meeting_id] = merged
    if changed:
        statement = db.insert(meetings)
        statement = statement.on_conflict_do_update(
            index_elements=[meetings.c.app_pk, meetings.c.meeting_id],
            set_={
                c: statement.excluded[c]
                for c in ("title", "session_type", "version_ms", "version_event_id")
            },
        )
        conn.execute(statement, [{"app_pk": app_pk, **row} for row in changed.values()])
    return changed


class _LifecycleWriter:
    """Folds lifecycle events into session and peer rows, then re-derives what they touch."""

    def __init__(self, db: Database, conn: Connection, app_pk: int) -> None:
        self.db, self.conn, self.app_pk = db, conn, app_pk
        self.deriver = SessionDeriver(conn, app_pk)

    def apply(self, items: list[NormalizedEvent], changed_meetings: dict[str, Row]) -> None:
        by_session: dict[str, list[NormalizedEvent]] = defaultdict(list)
        for item in items:
            by_session[item.session_id].append(item)  # type: ignore[index]
        state = self.deriver.load(sorted(by_session))
        dirty_sessions: set[str] = set()
        dirty_peers: dict[tuple[str, str], Row] = {}
        for session_id, session_items in by_session.items():
            if session_id not in state.sessions:
                state.sessions[session_id] = new_session_row(session_id)
                dirty_sessions.add(session_id)
            session = state.sessions[session_id]
            session_peers = state.peers.setdefault(session_id, {})
            for item in session_items:
                if merge_session_event(session, item):
                    dirty_sessions.add(session_id)
                if item.peer_id is None:
                    continue
                peer = session_peers.setdefault(
                    item.peer_id, new_peer_row(session_id, item.peer_id)
                )
                if merge_peer_event(peer, item):
                    dirty_peers[(session_id, item.peer_id)] = peer
        self._refresh_meeting_copies(state.sessions, dirty_sessions, changed_meetings)
        refreshed = set(state.sessions)  # derive() may load more; those are not refreshed
        self._write_peers(list(dirty_peers.values()))
        self._write_session_facts(state.sessions, dirty_sessions)
        self.deriver.derive(state, set(by_session) | dirty_sessions)
        if changed_meetings:
            self._update_meeting_copies_elsewhere(changed_meetings, refreshed)

    def _refresh_meeting_copies(
        self, loaded: dict[str, Row], dirty: set[str], changed_meetings: dict[str, Row]
    ) -> None:
        """Copy title and type onto sessions whose meeting was just set or changed."""
        needed = {loaded[s]["meeting_id"] for s in dirty if loaded[s]["meeting_id"]}
        known = dict(changed_meetings)
        missing = sorted(needed - set(known))
        for chunk in chunks(missing):
            for row in self.conn.execute(
                select(meetings).where(
                    meetings.c.app_pk == self.app_pk, meetings.c.meeting_id.in_(chunk)
                )
            ):
                known[row.meeting_id] = dict(row._mapping)
        for session_id, row in loaded.items():
            meeting = known.get(row["meeting_id"])
            if session_id in dirty or meeting is not None:
                _copy_meeting(row, meeting)
                dirty.add(session_id)

    def _update_meeting_copies_elsewhere(
        self, changed_meetings: dict[str, Row], already_done: set[str]
    ) -> None:
        """Sessions not in this batch whose meeting's title or type changed."""
        rows: list[Row] = []
        for meeting_id, meeting in changed_meetings.items():
            session_ids = self.conn.execute(
                select(sessions.c.session_id).where(
                    sessions.c.app_pk == self.app_pk, sessions.c.meeting_id == meeting_id
                )
            ).scalars()
            rows += [
                {
                    "b_session_id": session_id,
                    "meeting_title": meeting["title"],
                    "session_type": meeting["session_type"],
                    "search_text": search_text(meeting["title"], meeting_id, session_id),
                }
                for session_id in session_ids
                if session_id not in already_done
            ]
        self.deriver.update_sessions(rows)

    def _write_peers(self, rows: list[Row]) -> None:
        if not rows:
            return
        statement = self.db.insert(peers)
        columns = [c.name for c in peers.c if c.name not in ("app_pk", "session_id", "peer_id")]
        statement = statement.on_conflict_do_update(
            index_elements=[peers.c.app_pk, peers.c.session_id, peers.c.peer_id],
            set_={c: statement.excluded[c] for c in columns},
        )
        self.conn.execute(
            statement, [{"app_pk": self.app_pk, "search_text": "", **row} for row in rows]
        )

    def _write_session_facts(self, loaded: dict[str, Row], dirty: set[str]) -> None:
        if not dirty:
            return
        fact_columns = (
            "meeting_id",
            "parent_session_id",
            "start_event_ms",
            "start_event_id",
            "meta",
            "end_event_ms",
            "end_event_id",
            "end_reason",
            "meeting_title",
            "session_type",
            "search_text",
        )
        rows = [
            {"app_pk": self.app_pk, "session_id": s, **{c: loaded[s].get(c) for c in fact_columns}}
            for s in sorted(dirty)
        ]
        for row in rows:
            row["session_type"] = row["session_type"] or "meeting"
            row["search_text"] = row["search_text"] or ""
        statement = self.db.insert(sessions)
        statement = statement.on_conflict_do_update(
            index_elements=[sessions.c.app_pk, sessions.c.session_id],
            set_={c: statement.excluded[c] for c in fact_columns},
        )
        self.conn.execute(statement, rows)


def _copy_meeting(row: Row, meeting: Row | None) -> None:
    row["meeting_title"] = meeting["title"] if meeting else None
    row["session_type"] = meeting["session_type"] if meeting else "meeting"
    row["search_text"] = search_text(row["meeting_title"], row["meeting_id"], row["session_id"])
