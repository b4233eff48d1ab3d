"""Re-deriving sessions: the stored aggregates behind the list and the status.

Given the sessions an ingest batch touched (their rows and peers already in
memory), this works out which other sessions depend on them and rewrites
the derived columns of all of them with ``analytics.lifecycle``:

- a meeting has one live session: each top-level session is closed at the
  start of the meeting's next one (``superseded_ms``), so a session's start
  moving can change its predecessor;
- a parent stays live while its breakout rooms have peers (``tree_*``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from msgspec.structs import replace
from sqlalchemy import Connection, TextClause, bindparam, select, text, update

from rtk_sessions.analytics.lifecycle import (
    PeerSpan,
    SessionFacts,
    closed_at,
    summarize_session,
    tree_aggregate,
)
from rtk_sessions.store.database import Database, chunks
from rtk_sessions.store.prepared import Prepared, Snapshot, in_list, list_param
from rtk_sessions.store.rows import (
    PeerRow,
    SessionRow,
    row_of,
    select_rows,
    values_of,
)
from rtk_sessions.store.tables import apps, peers, sessions

Params = dict[str, Any]  # bound parameters of an UPDATE; the session is ``b_session_id``


class PendingWrites:
    """A fold's writes, in order, kept until the fold commits them (``store.folding``):
    a fold reads and works out its rows first, then writes them in one short burst (on
    SQLite, the only time it holds the database's one write lock)."""

    def __init__(self) -> None:
        self._steps: list[Callable[[Connection], None]] = []

    def add(self, step: Callable[[Connection], None]) -> None:
        self._steps.append(step)

    def apply(self, conn: Connection) -> None:
        for step in self._steps:
            step(conn)


@dataclass
class LoadedState:
    """Session rows and their peers (by session, then peer id), as the batch sees them."""

    sessions: dict[str, SessionRow] = field(default_factory=dict)
    peers: dict[str, dict[str, PeerRow]] = field(default_factory=dict)


# A fold reads thousands of rows in a few statements: prepared, each list one parameter.
_SESSIONS = Prepared(
    select_rows(SessionRow, sessions).where(
        sessions.c.app_pk == bindparam("app_pk"), in_list(sessions.c.session_id, "ids")
    )
)
_PEERS = Prepared(
    select_rows(PeerRow, peers).where(
        peers.c.app_pk == bindparam("app_pk"), in_list(peers.c.session_id, "ids")
    )
)
_FAMILIES = Prepared(
    select(
        sessions.c.session_id,
        sessions.c.parent_session_id,
        sessions.c.open_peers,
        sessions.c.quiet_since_ms,
        sessions.c.tree_open_peers,
        sessions.c.tree_quiet_since_ms,
    ).where(
        sessions.c.app_pk == bindparam("app_pk"),
        in_list(sessions.c.session_id, "ids") | in_list(sessions.c.parent_session_id, "parents"),
    )
)


class SessionDeriver:
    """Reads on ``conn`` (prepared reads on its driver connection: ``reads``); writes go
    to ``writes``."""

    def __init__(self, db: Database, conn: Connection, app_pk: int, writes: PendingWrites) -> None:
        self.db, self.conn, self.app_pk, self.writes = db, conn, app_pk, writes
        self.reads = Snapshot(conn.connection.driver_connection, conn.dialect)
        # (end event, closed) of the stored sessions the last relink read
        self._closing: dict[str, tuple[int | None, int | None]] = {}

    def ids(self, values: list[str]) -> Any:
        """A list of ids as a prepared read binds it (``in_list``)."""
        return list_param(values, sqlite=self.db.is_sqlite)

    def load(self, session_ids: list[str], state: LoadedState | None = None) -> LoadedState:
        """Read sessions and all their peers into ``state`` (created if None)."""
        state = state or LoadedState()
        wanted = sorted(set(session_ids) - set(state.sessions))
        if not wanted:
            return state
        params = {"app_pk": self.app_pk, "ids": self.ids(wanted)}
        for found in self.reads.fetch(_SESSIONS, params):
            session = row_of(SessionRow, found)
            state.sessions[session.session_id] = session
        for found in self.reads.fetch(_PEERS, params):
            peer = row_of(PeerRow, found)
            state.peers.setdefault(peer.session_id, {})[peer.peer_id] = peer
        return state

    def derive_and_store(self, state: LoadedState, touched: set[str]) -> None:
        """Derive ``touched`` and the sessions that depend on them, and write each once.

        ``touched`` carries the batch's facts (merged in memory, not yet written); the
        sessions written here are stored whole, facts, derived and breakout-tree columns.
        """
        stored_starts = {s: state.sessions[s].started_ms for s in touched}
        for session_id in touched:
            row = state.sessions[session_id]
            started = _started_ms(row, state.peers.get(session_id, {}))
            state.sessions[session_id] = replace(row, started_ms=started)
        relinked = self._relink_meetings(state, touched, stored_starts)
        # A stored session whose next one moved but that closes when it did (it had
        # ended before): only its superseded_ms changes, nothing derived from it.
        moved_only = {
            session_id: superseded
            for session_id, superseded in relinked.items()
            if session_id not in state.sessions and self._closes_as_before(session_id, superseded)
        }
        for session_id in moved_only:
            del relinked[session_id]
        self.update_sessions(
            [{"b_session_id": s, "superseded_ms": t} for s, t in sorted(moved_only.items())]
        )
        recompute = set(touched) | set(relinked)
        self.load(sorted(recompute), state)
        for session_id, superseded in relinked.items():
            state.sessions[session_id] = replace(
                state.sessions[session_id], superseded_ms=superseded
            )
        listed_delta = 0
        for session_id in recompute:
            before = state.sessions[session_id]
            after = _summarize(before, state.peers.get(session_id, {}))
            state.sessions[session_id] = after
            listed_delta += int(after.listed) - int(before.listed)
        elsewhere = self._set_trees(state, recompute)
        whole = [values_of(state.sessions[s], self.app_pk) for s in sorted(recompute)]
        self.writes.add(lambda c: self.db.upsert(c, sessions, whole, ["app_pk", "session_id"]))
        self.update_sessions(elsewhere)
        if listed_delta:
            self.writes.add(
                lambda c: c.execute(
                    update(apps)
                    .where(apps.c.app_pk == self.app_pk)
                    .values(listed_sessions=apps.c.listed_sessions + listed_delta)
                )
            )

    def _relink_meetings(
        self, state: LoadedState, touched: set[str], stored_starts: dict[str, int | None]
    ) -> dict[str, int | None]:
        """Each top-level session's ``superseded_ms``, for the touched and those that changed.

        Of each touched meeting only the part a touched start can affect is read: from
        the last top-level session before the earliest start that moved (old or new) on.
        An in-order batch so reads a few rows a meeting, not its whole history.
        """
        earliest: dict[str, int] = {}
        for session_id in touched:
            row = state.sessions[session_id]
            starts = [t for t in (row.started_ms, stored_starts.get(session_id)) if t is not None]
            if row.meeting_id is not None and starts:
                earliest[row.meeting_id] = min(earliest.get(row.meeting_id, min(starts)), *starts)
        chain: dict[str, tuple[str | None, int | None, str | None, int | None]] = {}
        self._closing = {}
        for chunk in chunks(sorted(earliest.items())):
            for row in self.conn.execute(
                _meeting_tails(len(chunk)), _tail_params(self.app_pk, chunk)
            ):
                chain[row.session_id] = (
                    row.meeting_id,
                    row.started_ms,
                    row.parent_session_id,
                    row.superseded_ms,
                )
                self._closing[row.session_id] = (row.end_event_ms, row.closed_ms)
        for session_id in touched:  # what this batch knows is newer than the table
            row = state.sessions[session_id]
            stored = chain.get(session_id, (None, None, None, row.superseded_ms))
            chain[session_id] = (row.meeting_id, row.started_ms, row.parent_session_id, stored[3])
        return {
            session_id: superseded
            for session_id, superseded in _successor_starts(chain).items()
            if chain[session_id][3] != superseded or session_id in touched
        }

    def _closes_as_before(self, session_id: str, superseded_ms: int | None) -> bool:
        """Whether the stored session closes at the same time with its next session
        starting at ``superseded_ms`` (so everything derived from it stays)."""
        end_event_ms, closed_ms = self._closing[session_id]
        return closed_at(SessionFacts(end_event_ms=end_event_ms, superseded_ms=superseded_ms)) == (
            closed_ms
        )

    def update_sessions(self, updates: list[Params]) -> None:
        """Set columns of sessions; each row names its session as ``b_session_id``."""
        if updates:
            statement = update(sessions).where(
                sessions.c.app_pk == self.app_pk,
                sessions.c.session_id == bindparam("b_session_id"),
            )
            self.writes.add(lambda c: self.db.executemany(c, statement, updates))

    def _set_trees(self, state: LoadedState, recomputed: set[str]) -> list[Params]:
        """The breakout-tree columns (self + rooms) of each recomputed session and each
        recomputed room's parent: set on the rows in ``state``; returned as updates for
        the parents not in it, where they changed.

        A session's rooms are read from the table, with what the batch holds in memory
        (newer, or not written yet) in their place.
        """
        parents = set(recomputed)
        parents |= {
            parent
            for s in recomputed
            if (parent := state.sessions[s].parent_session_id) is not None
        }
        # session id -> (parent, open peers, quiet since, stored tree columns)
        family: dict[str, tuple[str | None, int, int | None, tuple[int, int | None] | None]] = {}
        listed = self.ids(sorted(parents))
        for session_id, parent, open_peers, quiet, tree_open, tree_quiet in self.reads.fetch(
            _FAMILIES, {"app_pk": self.app_pk, "ids": listed, "parents": listed}
        ):
            family[session_id] = (parent, open_peers, quiet, (tree_open, tree_quiet))
        for session_id, row in state.sessions.items():
            if session_id in parents or row.parent_session_id in parents:
                stored = family.get(session_id, (None, 0, None, None))[3]
                family[session_id] = (
                    row.parent_session_id,
                    row.open_peers,
                    row.quiet_since_ms,
                    stored,
                )
        rooms: dict[str, list[tuple[int, int | None]]] = {p: [] for p in parents}
        for session_id, (parent, open_peers, quiet, _) in family.items():
            if parent in rooms and parent != session_id:
                rooms[parent].append((open_peers, quiet))
        elsewhere: list[Params] = []
        for session_id in sorted(parents & set(family)):
            _, open_peers, quiet, stored = family[session_id]
            tree_open, tree_quiet = tree_aggregate(open_peers, quiet, rooms[session_id])
            if session_id in recomputed:
                state.sessions[session_id] = replace(
                    state.sessions[session_id],
                    tree_open_peers=tree_open,
                    tree_quiet_since_ms=tree_quiet,
                )
            elif stored != (tree_open, tree_quiet):
                elsewhere.append(
                    {
                        "b_session_id": session_id,
                        "tree_open_peers": tree_open,
                        "tree_quiet_since_ms": tree_quiet,
                    }
                )
        return elsewhere


def _summarize(row: SessionRow, session_peers: dict[str, PeerRow]) -> SessionRow:
    """The session with its derived columns recomputed from its facts and peers."""
    facts = SessionFacts(
        start_event_ms=row.start_event_ms,
        end_event_ms=row.end_event_ms,
        end_reason=row.end_reason,
        superseded_ms=row.superseded_ms,
    )
    spans = [
        PeerSpan(p.peer_id, p.joined_ms, p.left_ms)
        for p in session_peers.values()
        if p.joined_ms is not None
    ]
    summary = summarize_session(facts, spans)
    return replace(
        row,
        started_ms=summary.started_ms,
        listed=summary.started_ms is not None and row.parent_session_id is None,
        closed_ms=summary.closed_ms,
        peer_count=summary.peer_count,
        open_peers=summary.open_peers,
        open_join_sum_ms=summary.open_join_sum_ms,
        closed_peer_ms=summary.closed_peer_ms,
        max_concurrent=summary.max_concurrent,
        quiet_since_ms=summary.quiet_since_ms,
        ended_ms=summary.ended_ms,
        updated_ms=summary.updated_ms,
    )


def _started_ms(row: SessionRow, session_peers: dict[str, PeerRow]) -> int | None:
    times = [p.joined_ms for p in session_peers.values() if p.joined_ms is not None]
    if row.start_event_ms is not None:
        times.append(row.start_event_ms)
    return min(times) if times else None


@functools.cache
def _meeting_tails(meetings: int) -> TextClause:
    """Sessions of each given meeting (``m{i}``) that start at or after the last top-level
    start before ``lo{i}`` (or ``lo{i}`` itself): the part of its chain a start at or
    after ``lo{i}`` can change. Served by the (app, meeting, started) index."""
    pairs = ", ".join(f"(:m{i}, :lo{i})" for i in range(meetings))
    return text(
        f"WITH tails(meeting_id, lo) AS (VALUES {pairs}) "
        "SELECT s.session_id, s.meeting_id, s.parent_session_id, s.started_ms, s.superseded_ms, "
        "s.end_event_ms, s.closed_ms "
        "FROM tails JOIN sessions s ON s.app_pk = :app_pk AND s.meeting_id = tails.meeting_id "
        "WHERE s.started_ms >= COALESCE(("
        "SELECT max(p.started_ms) FROM sessions p WHERE p.app_pk = :app_pk "
        "AND p.meeting_id = tails.meeting_id AND p.started_ms < tails.lo "
        "AND p.parent_session_id IS NULL), tails.lo)"
    )


def _tail_params(app_pk: int, earliest: Sequence[tuple[str, int]]) -> Params:
    params: Params = {"app_pk": app_pk}
    for i, (meeting_id, lo) in enumerate(earliest):
        params[f"m{i}"], params[f"lo{i}"] = meeting_id, lo
    return params


def _successor_starts(
    chain: dict[str, tuple[str | None, int | None, str | None, int | None]],
) -> dict[str, int | None]:
    """For each session: when the next top-level session of its meeting started (or None)."""
    by_meeting: dict[str, list[tuple[int, str]]] = {}
    result: dict[str, int | None] = {}
    for session_id, (meeting_id, started, parent, _) in chain.items():
        result[session_id] = None
        if meeting_id is not None and started is not None and parent is None:
            by_meeting.setdefault(meeting_id, []).append((started, session_id))
    for ordered in by_meeting.values():
        ordered.sort()
        for (_, session_id), (next_start, _) in zip(ordered, ordered[1:], strict=False):
            result[session_id] = next_start
    return result
