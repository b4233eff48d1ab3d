"""The rows a fold reads and writes: one app's meetings, sessions and peers, read
while the fold holds the app's fold lock (``store.folding``), so a fold never misses
another's rows; the writes are kept (``PendingWrites``) until the fold commits.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select

from rtk_sessions.store.database import Database
from rtk_sessions.store.derive import PendingWrites, SessionDeriver
from rtk_sessions.store.prepared import Prepared, in_list
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
_MEETINGS = Prepared(
    select_rows(MeetingRow, meetings).where(
        meetings.c.app_pk == bindparam("app_pk"), in_list(meetings.c.meeting_id, "ids")
    )
)


class AppWriter:
    """A fold's reads of one app (on ``conn``) and its writes (kept in ``writes``)."""

    def __init__(self, db: Database, conn: Connection, app_pk: int) -> None:
        self.db, self.conn, self.app_pk = db, conn, app_pk
        self.writes = PendingWrites()
        self.deriver = SessionDeriver(db, conn, app_pk, self.writes)

    def meetings(self, meeting_ids: list[str]) -> dict[str, MeetingRow]:
        if not meeting_ids:
            return {}
        params = {"app_pk": self.app_pk, "ids": self.deriver.ids(sorted(meeting_ids))}
        found = [row_of(MeetingRow, row) for row in self.deriver.reads.fetch(_MEETINGS, params)]
        return {meeting.meeting_id: meeting for meeting in found}

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
        self.writes.add(lambda c: self.db.upsert(c, meetings, values, ["app_pk", "meeting_id"]))

    def upsert_peers(self, rows: list[PeerRow]) -> None:
        values = [values_of(row, self.app_pk) for row in rows]
        self.writes.add(lambda c: self.db.upsert(c, peers, values, ["app_pk", *_PEER_KEY]))

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
