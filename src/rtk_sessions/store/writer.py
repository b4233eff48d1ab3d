"""The write side of the store: one app's rows, inside one write transaction.

``ingest`` folds events into rows (``ingest.fold``); this module is what it
writes them with. :func:`app_writer` opens the transaction, creates the app
on its first event and makes the transaction the app's only writer (see
``Database.serialize_app_writes``), so a fold never misses another's rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, select

from rtk_sessions.store.apps import ensure_app
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.derive import SessionDeriver
from rtk_sessions.store.rows import (
    EventRow,
    MeetingRow,
    PeerRow,
    SessionRow,
    row_of,
    select_rows,
    values_of,
)
from rtk_sessions.store.tables import events, meetings, peers, sessions

_PEER_KEY = ("session_id", "peer_id")


class AppWriter:
    """Writes of one app in one transaction (from :func:`app_writer`)."""

    def __init__(self, db: Database, conn: Connection, app_pk: int) -> None:
        self.db, self.conn, self.app_pk = db, conn, app_pk
        self.deriver = SessionDeriver(db, conn, app_pk)

    def append_events(self, rows: list[EventRow]) -> set[str]:
        """Add events to the log; returns the ids that were new (the log keeps the first).

        The transaction is the app's only writer (``app_writer``), so the ids found here
        stay absent until the insert: no conflict can happen in between.
        """
        stored: set[str] = set()
        ids = [row.event_id for row in rows]
        for chunk in chunks(ids):
            stored.update(
                self.conn.execute(
                    select(events.c.event_id).where(
                        events.c.app_pk == self.app_pk, events.c.event_id.in_(chunk)
                    )
                ).scalars()
            )
        new = [values_of(row, self.app_pk) for row in rows if row.event_id not in stored]
        self.db.executemany(self.conn, events.insert(), new)
        return {row["event_id"] for row in new}

    def meetings(self, meeting_ids: list[str]) -> dict[str, MeetingRow]:
        found: dict[str, MeetingRow] = {}
        for chunk in chunks(sorted(meeting_ids)):
            for row in self.conn.execute(
                select_rows(MeetingRow, meetings).where(
                    meetings.c.app_pk == self.app_pk, meetings.c.meeting_id.in_(chunk)
                )
            ):
                meeting = row_of(MeetingRow, row)
                found[meeting.meeting_id] = meeting
        return found

    def session_ids_of_meeting(self, meeting_id: str) -> list[str]:
        return list(
            self.conn.execute(
                select(sessions.c.session_id).where(
                    sessions.c.app_pk == self.app_pk, sessions.c.meeting_id == meeting_id
                )
            ).scalars()
        )

    def upsert_meetings(self, rows: list[MeetingRow]) -> None:
        values = [values_of(row, self.app_pk) for row in rows]
        self.db.upsert(self.conn, meetings, values, ["app_pk", "meeting_id"])

    def upsert_peers(self, rows: list[PeerRow]) -> None:
        values = [values_of(row, self.app_pk) for row in rows]
        self.db.upsert(self.conn, peers, values, ["app_pk", *_PEER_KEY])

    def copy_meeting_to_sessions(self, rows: list[SessionRow]) -> None:
        """Store the meeting title, type and search text of sessions already written."""
        self.deriver.update_sessions(
            [
                {
                    "b_session_id": row.session_id,
                    "meeting_title": row.meeting_title,
                    "session_type": row.session_type,
                    "search_text": row.search_text,
                }
                for row in rows
            ]
        )


@contextmanager
def app_writer(db: Database, account_id: str, app_id: str, now_ms: int) -> Iterator[AppWriter]:
    """A write transaction for the app (created if new), committed when the block ends."""
    with db.write() as conn:
        app_pk = ensure_app(db, conn, account_id, app_id, now_ms)
        db.serialize_app_writes(conn, app_pk)
        yield AppWriter(db, conn, app_pk)
