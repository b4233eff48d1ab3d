"""The sessions list's fast paths give exactly what the plain definition gives.

The minutes sort merges sessions with nobody in (read by their fixed total from an
index) with those whose minutes still grow; status totals count only live sessions and
subtract. Here every page of every order, at several clock readings, is compared with
the order and totals computed in Python from all rows by ``analytics.lifecycle`` (the
definition), on both databases, with ties in minutes and late events.
"""

from __future__ import annotations

import msgspec
import pytest

from rtk_sessions.analytics.lifecycle import minutes_consumed_ms, status
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.sessions import Page, SessionFilter, SessionQuery, sessions_page
from tests.factories import MIN, SEC, T0, ended, started, visit

GRACE_MS = 60_000


def scenario() -> list[dict]:
    """40 sessions: ended ones with equal totals (ties), live ones with peers in, some
    emptied a moment ago (live within the grace), one superseded by a later one."""
    events: list[dict] = []
    for n in range(40):
        sid, start = f"s{n:02d}", T0 + n * MIN
        events.append(started(sid, f"m{n % 7}", start))
        length = (n % 4 + 1) * 5 * MIN  # four lengths only: many ties in minutes
        if n % 5 == 0:  # someone still in
            events += visit(sid, f"{sid}-in", start + SEC, None)
            events += visit(sid, f"{sid}-out", start, start + length)
        elif n % 5 == 1:  # everyone left, nobody ended it
            events += visit(sid, f"{sid}-a", start, start + length)
        else:
            events += visit(sid, f"{sid}-a", start, start + length)
            events += visit(sid, f"{sid}-b", start, start + length)
            events.append(ended(sid, start + length))
    return events


def every_row(db: Database, now_ms: int) -> list:
    query = SessionQuery(where=SessionFilter(), page=Page(0, 1000))
    return sessions_page(db, "acc", "app", query, now_ms, GRACE_MS).sessions


def expected_ids(rows, sort_by, descending, now_ms, status_filter=None) -> list[str]:
    def minutes(row) -> int:
        return minutes_consumed_ms(row.closed_peer_ms, row.open_peers, row.open_join_sum_ms,
                                   now_ms)

    def state(row) -> str:
        return status(row.closed_ms, row.tree_open_peers, row.tree_quiet_since_ms, now_ms,
                      GRACE_MS)

    kept = [r for r in rows if status_filter is None or state(r) == status_filter]
    key = (lambda r: (minutes(r), r.session_id)) if sort_by == "minutesConsumed" else (
        lambda r: (r.started_ms, r.session_id))
    return [r.session_id for r in sorted(kept, key=key, reverse=descending)]


@pytest.mark.parametrize("late", [False, True], ids=["in-order", "late-events"])
def test_every_page_of_every_order_matches_the_definition(database: Database, late) -> None:
    events = scenario()
    if late:  # the last events arrive after the rest (a late leave, a late end)
        events = events[5:] + events[:5]
    lines = [msgspec.json.encode(e) for e in events]
    assert ingest_items(database, "acc", "app", lines, T0).rejected == []
    last_leave = T0 + 39 * MIN + 20 * MIN
    for now_ms in (last_leave + 30 * SEC, last_leave + 10 * MIN):  # within, past the grace
        rows = every_row(database, now_ms)
        assert len(rows) == 40
        for sort_by in ("createdAt", "minutesConsumed"):
            for descending in (True, False):
                for status_filter in (None, "LIVE", "ENDED"):
                    want = expected_ids(rows, sort_by, descending, now_ms, status_filter)
                    for offset, limit in ((0, 10), (7, 10), (20, 25), (35, 10), (60, 5)):
                        query = SessionQuery(
                            where=SessionFilter(status=status_filter),
                            sort_by=sort_by,
                            descending=descending,
                            page=Page(offset, limit),
                        )
                        page = sessions_page(database, "acc", "app", query, now_ms, GRACE_MS)
                        got = [s.session_id for s in page.sessions]
                        context = (now_ms, sort_by, descending, status_filter, offset)
                        assert got == want[offset : offset + limit], context
                        assert page.total == len(want), context


TITLES = ["Weekly Sync", "Café Crème review", "STRASSE planning", "ps-4242 retro", "100%_done"]


def test_search_through_the_trigram_index_is_the_substring_definition(database: Database):
    """Every term finds exactly the sessions whose title, meeting id or session id contains
    it, case-folded; also right after a late event renames a meeting."""
    from tests.factories import meeting

    events = [meeting(f"m{n}", title) for n, title in enumerate(TITLES)]
    for n in range(30):
        sid = f"sess-{n:03d}"
        events += [started(sid, f"m{n % len(TITLES)}", T0 + n * MIN),
                   *visit(sid, f"{sid}-p", T0 + n * MIN, T0 + n * MIN + MIN)]
    lines = [msgspec.json.encode(e) for e in events]
    assert ingest_items(database, "acc", "app", lines, T0).rejected == []
    terms = ["sync", "WEEKLY", "café", "CRÈME", "straße", "ps-4242", "4242", "sess-01",
             "ss-0", "m3", "%_", "100%", "o", "zz-none", "y s", "\u00e9"]

    def check() -> None:
        rows = every_row(database, T0 + 10**8)
        for term in terms:
            want = sorted(r.session_id for r in rows if term.casefold() in r.search_text)
            query = SessionQuery(where=SessionFilter(search=term), page=Page(0, 100))
            page = sessions_page(database, "acc", "app", query, T0 + 10**8, GRACE_MS)
            assert sorted(s.session_id for s in page.sessions) == want, term
            assert page.total == len(want), term

    check()
    late = meeting("m0", "Renamed: quarterly STELLAR sync", T0 + 10 * MIN)
    assert ingest_items(database, "acc", "app", [msgspec.json.encode(late)], T0).accepted == 1
    terms += ["stellar", "quarterly"]
    check()
    rows = every_row(database, T0 + 10**8)
    assert sum("stellar" in r.search_text for r in rows) == 6  # the renamed meeting's sessions
    if database.is_sqlite:  # the trigram index holds exactly the sessions' texts
        with database.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO sessions_search(sessions_search, rank) VALUES ('integrity-check', 1)"
            )


def test_each_page_carries_its_sessions_rooms_in_start_order(database: Database) -> None:
    """Rooms come with their parent on every page, whatever the order of the list, in
    (start, id) order, including two rooms that started at the same instant."""
    events: list[dict] = []
    want_rooms: dict[str, list[str]] = {}
    for n in range(12):
        parent, start = f"p{n:02d}", T0 + n * 10 * MIN
        events += [started(parent, f"m{n}", start), *visit(parent, f"{parent}-x", start, None)]
        rooms = [(f"{parent}-r{k}", start + (k // 2) * MIN) for k in range(n % 4)]  # ties
        for room_id, room_start in rooms:
            events += [
                started(room_id, f"m{n}", room_start, parent=parent),
                *visit(room_id, f"{room_id}-y", room_start, room_start + MIN),
            ]
        want_rooms[parent] = [r for r, _ in sorted(rooms, key=lambda r: (r[1], r[0]))]
    events.reverse()  # late everything: rooms arrive before their parents
    lines = [msgspec.json.encode(e) for e in events]
    assert ingest_items(database, "acc", "app", lines, T0).rejected == []
    now_ms = T0 + 10**7
    for sort_by in ("createdAt", "minutesConsumed"):
        for descending in (True, False):
            for offset in (0, 5, 10):
                query = SessionQuery(
                    where=SessionFilter(), sort_by=sort_by, descending=descending,
                    page=Page(offset, 5),
                )
                page = sessions_page(database, "acc", "app", query, now_ms, GRACE_MS)
                assert page.sessions, (sort_by, descending, offset)
                for session in page.sessions:
                    got = [r.session_id for r in page.rooms.get(session.session_id, [])]
                    assert got == want_rooms[session.session_id], (sort_by, descending)
                    for room in page.rooms.get(session.session_id, []):
                        assert room.parent_session_id == session.session_id
                assert set(page.rooms) <= {s.session_id for s in page.sessions}
