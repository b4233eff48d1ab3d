"""Derivation through the real ingest pipeline into real databases (SQLite and PostgreSQL).

The property that matters: the derived state (every column of sessions,
peers, meetings and the app's kept total) is the same for any arrival
order, any split into batches and any number of re-deliveries.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.apps import find_app
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.tables import apps, meetings, peers, sessions
from tests.databases import fresh_database_url
from tests.factories import MIN, SEC, T0, ended, joined, left, meeting, started, visit

ACCOUNT = "acc"
_counter = itertools.count()


@dataclass(frozen=True)
class Scratch:
    """A new app in the module's database: every stored row belongs to one app, so each
    scenario run is isolated without a new database per Hypothesis example."""

    db: Database
    app: str


@pytest.fixture(scope="module")
def shared_db(backend: str, tmp_path_factory) -> Iterator[Database]:
    with fresh_database_url(backend, tmp_path_factory.mktemp("derivation")) as url:
        db = Database(url)
        upgrade(db)
        yield db
        db.dispose()


def fresh_app(db: Database) -> Scratch:
    return Scratch(db, f"app-{next(_counter)}")


def ingest_raw(target: Scratch, items: list[bytes], now_ms: int = T0):
    return ingest_items(target.db, ACCOUNT, target.app, items, now_ms)


def ingest(target: Scratch, events: list[dict], now_ms: int = T0 + 24 * 60 * MIN) -> None:
    report = ingest_raw(target, [msgspec.json.encode(e) for e in events], now_ms)
    assert report.rejected == []


@contextmanager
def folded_read(target: Scratch) -> Iterator:
    """A read of the app's tables as a read path makes it: its queue folded first."""
    readable_app(target.db, ACCOUNT, target.app)
    with target.db.read() as conn:
        yield conn


def rows_of(conn, table, target: Scratch):
    """The app's rows of ``table``, without the app key (it differs between scratch apps)."""
    app_pk = find_app(conn, ACCOUNT, target.app)
    return conn.execute(select(table).where(table.c.app_pk == app_pk))


def derived_state(target: Scratch) -> dict:
    with folded_read(target) as conn:
        return {
            name: sorted(tuple(r)[1:] for r in rows_of(conn, table, target))
            for name, table in (("sessions", sessions), ("peers", peers), ("meetings", meetings))
        } | {
            "listed": conn.execute(
                select(apps.c.listed_sessions).where(apps.c.app_id == target.app)
            ).scalar()
        }


def rich_scenario() -> list[dict]:
    """Rejoins, overlaps, breakout rooms, host end, a superseded session, missing starts."""
    events = [
        meeting("m1", "Weekly ✨ sync"),
        meeting("m1", "Weekly sync (renamed)", T0 + MIN),
        meeting("m2", "Solo"),
    ]
    # s1: host ends while b is still in; a rejoins; a breakout room r1 with a and c.
    events += [started("s1", "m1", T0, meta={"k": 1})]
    events += visit("s1", "a1", T0 + 1 * SEC, T0 + 10 * MIN, user_id="ua")
    events += visit("s1", "b1", T0 + 2 * SEC, None, user_id="ub")
    events += visit("s1", "c1", T0 + 3 * SEC, T0 + 5 * MIN, user_id="uc")
    events += [started("r1", "m1", T0 + 5 * MIN, parent="s1")]
    events += visit("r1", "c2", T0 + 5 * MIN, T0 + 15 * MIN, user_id="uc")
    events += visit("r1", "a2", T0 + 10 * MIN, T0 + 15 * MIN, user_id="ua")
    events += visit("s1", "a3", T0 + 15 * MIN, T0 + 20 * MIN, user_id="ua")
    events += [ended("s1", T0 + 25 * MIN, "HOST_ENDED_MEETING")]
    # s2: same meeting, no session.started, one peer never leaves: s3 supersedes it.
    events += visit("s2", "d1", T0 + 60 * MIN, None, user_id="ud", meeting_id="m1")
    events += visit("s2", "e1", T0 + 61 * MIN, T0 + 62 * MIN, user_id="ue", meeting_id="m1")
    events += [started("s3", "m1", T0 + 90 * MIN)]
    events += visit("s3", "f1", T0 + 90 * MIN, T0 + 95 * MIN, user_id="uf")
    # s4: another meeting, everyone leaves (no session.ended), a leave at the same ms as a join.
    events += [started("s4", "m2", T0 + 30 * MIN)]
    events += visit("s4", "g1", T0 + 30 * MIN, T0 + 40 * MIN, user_id="ug")
    events += visit("s4", "h1", T0 + 40 * MIN, T0 + 50 * MIN, user_id="uh")
    # A stray leave of a peer whose join never arrives: it must not create a participant.
    events += [left("s4", "ghost", T0 + 45 * MIN)]
    return events


def test_rich_scenario_derives_the_documented_numbers(shared_db):
    db = fresh_app(shared_db)
    ingest(db, rich_scenario())
    state = {row[0]: row for row in derived_state(db)["sessions"]}
    with folded_read(db) as conn:
        rows = {r.session_id: r for r in rows_of(conn, sessions, db)}
    s1, r1, s2, s3, s4 = (rows[k] for k in ("s1", "r1", "s2", "s3", "s4"))
    assert (s1.started_ms, s1.closed_ms, s1.ended_ms) == (T0, T0 + 25 * MIN, T0 + 25 * MIN)
    assert s1.peer_count == 4 and s1.open_peers == 0 and s1.max_concurrent == 3
    # a1 10 min - 1 s, b1 25 min - 2 s (closed by the host), c1 5 min - 3 s, a3 5 min
    assert (
        s1.closed_peer_ms
        == (10 * MIN - 1 * SEC) + (25 * MIN - 2 * SEC) + (5 * MIN - 3 * SEC) + 5 * MIN
    )
    assert s1.meeting_title == "Weekly sync (renamed)" and not r1.listed
    assert r1.parent_session_id == "s1" and r1.closed_peer_ms == 15 * MIN
    assert s2.started_ms == T0 + 60 * MIN and s2.superseded_ms == T0 + 90 * MIN
    assert s2.closed_peer_ms == 30 * MIN + 1 * MIN and s2.ended_ms == T0 + 90 * MIN
    assert s3.superseded_ms is None and s3.closed_ms is None
    assert s4.max_concurrent == 1 and s4.peer_count == 2
    assert derived_state(db)["listed"] == 4  # s1, s2, s3, s4; the room is not listed
    assert set(state) == {"s1", "r1", "s2", "s3", "s4"}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_same_state_for_any_order_batching_and_redelivery(shared_db, data):
    events = rich_scenario()
    reference = fresh_app(shared_db)
    ingest(reference, events)
    expected = derived_state(reference)

    shuffled = data.draw(st.permutations(events), label="order")
    redelivered = data.draw(st.lists(st.sampled_from(events), max_size=8), label="again")
    stream = list(shuffled) + redelivered
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=6), label="cuts"))
    db = fresh_app(shared_db)
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=False):
        ingest(db, stream[start:end])
    assert derived_state(db) == expected


def test_duplicate_batch_changes_nothing(shared_db):
    db = fresh_app(shared_db)
    items = [msgspec.json.encode(e) for e in rich_scenario()]
    first = ingest_raw(db, items, T0)
    before = derived_state(db)
    second = ingest_raw(db, items, T0 + MIN)
    assert (first.accepted, first.duplicates) == (len(items), 0)
    assert (second.accepted, second.duplicates) == (0, len(items))
    assert derived_state(db) == before


def test_late_and_conflicting_events_resolve_deterministically(shared_db):
    """Two joins of one peer: the earliest wins (and its name); two leaves: the latest."""
    events = [
        started("s", "m", T0),
        joined("s", "p", T0 + 5 * SEC, display_name="Late name"),
        joined("s", "p", T0 + 2 * SEC, display_name="Early name"),
        left("s", "p", T0 + 60 * SEC),
        left("s", "p", T0 + 90 * SEC),
    ]
    results = set()
    for order in itertools.permutations(events):
        db = fresh_app(shared_db)
        ingest(db, list(order))
        with folded_read(db) as conn:
            row = rows_of(conn, peers, db).one()
        results.add((row.joined_ms, row.left_ms, row.display_name))
    assert results == {(T0 + 2 * SEC, T0 + 90 * SEC, "Early name")}


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "basic" / "events.ndjson"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_example_set_in_any_order_gives_the_same_state(shared_db, seed):
    lines = EXAMPLE.read_bytes().splitlines()
    reference = fresh_app(shared_db)
    assert ingest_raw(reference, lines, T0).accepted == len(lines)
    rnd = random.Random(seed)
    rnd.shuffle(lines)
    db = fresh_app(shared_db)
    position = 0
    while position < len(lines):
        size = rnd.randint(1, 120)
        ingest_raw(db, lines[position : position + size], T0)
        position += size
    assert derived_state(db) == derived_state(reference)


def test_an_app_made_by_a_batch_that_rolled_back_is_not_remembered(shared_db: Database) -> None:
    """App keys are kept per process once committed: one created by a transaction that
    then failed must not be served from memory afterwards."""
    from rtk_sessions.store.apps import ensure_app, find_app

    app_id = f"app-rollback-{next(_counter)}"
    try:
        with shared_db.write() as conn:
            ensure_app(shared_db, conn, ACCOUNT, app_id, T0)
            raise RuntimeError("the batch fails after the app row was made")
    except RuntimeError:
        pass
    with shared_db.read() as conn:
        assert find_app(conn, ACCOUNT, app_id) is None
    target = Scratch(shared_db, app_id)
    ingest(target, [started("s", "m", T0), *visit("s", "p", T0, T0 + MIN)])
    with shared_db.read() as conn:
        assert find_app(conn, ACCOUNT, app_id) is not None
    assert derived_state(target)["listed"] == 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_each_session_is_superseded_by_the_next_start_of_its_meeting(shared_db, data):
    """A meeting's sessions, their starts moved earlier by late joins, in any order and
    batching: each top-level session's ``superseded_ms`` is the next start in (start, id)
    order, worked out here from the events (ties included; rooms never count)."""
    minutes = data.draw(st.lists(st.integers(0, 12), min_size=2, max_size=9), label="starts")
    early = data.draw(st.lists(st.integers(0, 12), min_size=len(minutes),
                               max_size=len(minutes)), label="joins")
    events: list[dict] = []
    starts: dict[str, int] = {}
    for n, (start_min, join_min) in enumerate(zip(minutes, early, strict=True)):
        sid, start = f"s{n}", T0 + start_min * MIN
        events.append(started(sid, "m", start))
        join = T0 + join_min * MIN  # a join before session.started moves the start earlier
        events += visit(sid, f"{sid}-p", join, join + 30 * SEC)
        starts[sid] = min(start, join)
    events.append(started("room", "m", T0, parent="s0"))  # a room of the same meeting
    stream = data.draw(st.permutations(events), label="order")
    cuts = sorted(data.draw(st.sets(st.integers(1, len(stream) - 1), max_size=5), label="cuts"))
    db = fresh_app(shared_db)
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=False):
        ingest(db, stream[start:end])
    order = sorted(starts, key=lambda s: (starts[s], s))
    want = {s: starts[n] for s, n in zip(order, order[1:], strict=False)} | {order[-1]: None}
    with folded_read(db) as conn:
        got = {r.session_id: r.superseded_ms for r in rows_of(conn, sessions, db)}
    assert got.pop("room") is None
    assert got == want
