"""The typed rows the store hands out and takes in: each field of a meeting, a session,
a peer or a logged event is declared here, once.

They mirror the tables of ``store.tables`` column for column, less the app key
(``app_pk``, which the store adds and filters on); a test holds the two
together. Rows are frozen: code that changes one makes a new one
(``msgspec.structs.replace``), so a row read in one place cannot be changed
behind another's back. Times are epoch milliseconds, UTC.
"""

from __future__ import annotations

import functools
from typing import Any, TypeVar

import msgspec
from sqlalchemy import Connection, Row, Select, Table, select


class MeetingRow(msgspec.Struct, frozen=True):
    """A meeting as its latest ``meeting.upserted`` (by ts, then event id) describes it."""

    meeting_id: str
    title: str | None
    session_type: str
    version_ms: int
    version_event_id: str


class SessionRow(msgspec.Struct, frozen=True):
    """A session: the facts its lifecycle events established, then what is derived
    from them and its peers (``analytics.lifecycle.summarize_session``)."""

    session_id: str
    meeting_id: str | None = None
    parent_session_id: str | None = None
    # the earliest session.started (ts, id) and what it said
    start_event_ms: int | None = None
    start_event_id: str | None = None
    meta: str | None = None  # JSON object
    # the earliest session.ended (ts, id) and its reason
    end_event_ms: int | None = None
    end_event_id: str | None = None
    end_reason: str | None = None
    # copied from the meeting, so that the list reads one table
    meeting_title: str | None = None
    session_type: str = "meeting"
    search_text: str = ""
    # --- derived ---
    started_ms: int | None = None  # None: nothing says when it started yet (not listed)
    listed: bool = False  # started and top-level: in the sessions list
    superseded_ms: int | None = None  # start of the meeting's next session
    closed_ms: int | None = None  # forced end: session.ended or superseded
    peer_count: int = 0
    open_peers: int = 0
    open_join_sum_ms: int = 0
    closed_peer_ms: int = 0
    max_concurrent: int = 0
    quiet_since_ms: int | None = None  # max(started, last leave)
    ended_ms: int | None = None
    updated_ms: int | None = None
    # the breakout tree (self + rooms), for a parent's status
    tree_open_peers: int = 0
    tree_quiet_since_ms: int | None = None


class PeerRow(msgspec.Struct, frozen=True):
    """One peer (one join of one user) of a session: its earliest ``peer.joined``, which
    also names it, and its latest ``peer.left``."""

    session_id: str
    peer_id: str
    joined_ms: int | None = None  # None until a peer.joined arrives: not a participant yet
    join_event_id: str | None = None
    left_ms: int | None = None
    left_event_id: str | None = None
    user_id: str | None = None
    display_name: str | None = None
    custom_participant_id: str | None = None
    preset_name: str | None = None
    preset_view_type: str | None = None
    role: str | None = None
    socket_session_id: str | None = None
    search_text: str = ""


class EventRow(msgspec.Struct, frozen=True):
    """An accepted event in the log, as received (``payload`` is its JSON)."""

    event_id: str
    type: str
    ts_ms: int
    session_id: str | None
    peer_id: str | None
    payload: str
    received_ms: int


class StatsRow(msgspec.Struct, frozen=True):
    """A ``peer.stats`` event on its way to be stored: the two 64-bit hashes of its id
    (``h1`` its key, unique in the app; ``check`` tells a re-delivery from another event
    with the same key), its peer (and the session it named), the time of its latest
    sample, when it arrived, and ``data``: its JSON, compressed (``stats_inbox``, as an
    ingest appends it) or its samples encoded (``stats``, ``store/stats_codec``)."""

    peer_id: str
    session_id: str | None
    h1: int
    check: int
    last_ms: int
    received_ms: int
    data: bytes
    # the event as the log keeps it: where it is stored instead when it has keys the
    # schema does not declare (``kept``), or its key is another event's
    logged: EventRow | None = None
    kept: bool = False


R = TypeVar("R", bound=msgspec.Struct)


def fields_of(row_type: type[msgspec.Struct]) -> tuple[str, ...]:
    return row_type.__struct_fields__


@functools.cache
def select_rows(row_type: type[msgspec.Struct], table: Table) -> Select[Any]:
    """SELECT of ``table``'s columns in ``row_type``'s field order (for :func:`row_of`).

    Built once per type: statements are immutable (``.where()`` makes a new one), and
    building a 30-column SELECT costs more than running a page query on SQLite.
    """
    return select(*(table.c[name] for name in fields_of(row_type)))


def row_of(row_type: type[R], row: Row[Any] | tuple[Any, ...]) -> R:
    """A typed row from a result of :func:`select_rows` over the same type (through
    SQLAlchemy, or straight from the driver, where SQLite's booleans are 0/1)."""
    if len(row) != len(row_type.__struct_fields__):  # a positional row must be whole
        raise ValueError(f"{row_type.__name__} has {len(row_type.__struct_fields__)} fields")
    flags = _bool_positions(row_type)
    if flags:
        values = list(row)
        for position in flags:
            values[position] = bool(values[position])
        return row_type(*values)
    return row_type(*row)  # row types take their fields in order (none is kw_only)


def first_row(conn: Connection, row_type: type[R], query: Select[Any]) -> R | None:
    """The first row of a :func:`select_rows` query, typed, or None."""
    found = conn.execute(query).first()
    return row_of(row_type, found) if found else None


@functools.cache
def _bool_positions(row_type: type[msgspec.Struct]) -> tuple[int, ...]:
    return tuple(n for n, f in enumerate(msgspec.structs.fields(row_type)) if f.type is bool)


def values_of(row: msgspec.Struct, app_pk: int) -> dict[str, Any]:
    """The row as column values for an INSERT, with the app key."""
    return {"app_pk": app_pk, **msgspec.structs.asdict(row)}


#: The columns of a session that its lifecycle events set (the rest are derived).
SESSION_FACTS = (
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
_SEARCH_SEPARATOR = "\x1f"  # keeps a search from matching across two fields


def search_text(*fields: str | None) -> str:
    """The ``search_text`` column: the fields, case-folded, for a case-insensitive
    substring search in SQL (the query is case-folded the same way)."""
    return _SEARCH_SEPARATOR.join((field or "").casefold() for field in fields)


def with_meeting(session: SessionRow, meeting: MeetingRow | None) -> SessionRow:
    """The session with its meeting's title and type copied on (the list reads one table)."""
    title = meeting.title if meeting else None
    return msgspec.structs.replace(
        session,
        meeting_title=title,
        session_type=meeting.session_type if meeting else "meeting",
        search_text=search_text(title, session.meeting_id, session.session_id),
    )
