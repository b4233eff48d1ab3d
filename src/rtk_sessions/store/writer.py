"""The rows a fold reads and writes: one app's meetings, sessions and peers, inside the
transaction that holds the app's fold lock (``store.folding``), so a fold never
misses another's rows.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.derive import SessionDeriver
from rtk_sessions.store.rows import (
    MeetingRow,
    PeerRow,
    SessionRow,
    row_of,
    select_rows,
    values_of,
)
from rtk_sessions.store.tables import meetings, peers, sessions

_PEER_KEY = ("session_id", "peer_id")


class AppWriter:
    """Reads and writes of one app in the transaction that holds its fold lock."""

    def __init__(self, db: Database, conn: Connection, app_pk: int) -> None:
        self.db, self.conn, self.app_pk = db, conn, app_pk
        self.deriver = SessionDeriver(db, conn, app_pk)

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
