"""Append, then fold (store.folding): on both databases, with real processes.

- every read sees each acknowledged event folded in, whoever appended it and
  whether or not a folder has come by (two writer processes, readers on their own
  connections);
- a fold killed with SIGKILL halfway leaves the state as before it;
- two folders of one app never commit over each other (PostgreSQL: never even fold
  at once), and what they leave is what one fold at the end makes;
- any interleaving of appends, folds and reads answers as one fold at the end would
  (a Hypothesis property).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import fold_pending, newest_pending, readable_app
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.participants import ParticipantQuery, participants_page
from rtk_sessions.store.sessions import Page
from rtk_sessions.store.tables import apps, fold_queue, meetings, peers, sessions
from tests.databases import fresh_database_url
from tests.factories import MIN, SEC, T0, ended, joined, left, meeting, started, visit

HELPER = Path(__file__).with_name("fold_process.py")
ACCOUNT = "acc"


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with fresh_database_url(backend, tmp_path) as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


def encoded(events: list[dict]) -> list[bytes]:
    return [msgspec.json.encode(e) for e in events]


def session_batch(writer: int, n: int) -> list[dict]:
    """A session of its own meeting with three peers, started and joined."""
    sid = f"w{writer}-s{n}"
    start = T0 + n * MIN
    return [
        started(sid, f"m-{sid}", start),
        *(joined(sid, f"{sid}-p{p}", start + p * SEC, user_id=f"u{p}") for p in range(3)),
    ]


def folded_state(db: Database, app: str) -> dict:
    """Every derived row of the app and its kept total, read as a read path reads."""
    app_pk = readable_app(db, ACCOUNT, app)
    with db.read() as conn:
        state = {
            name: sorted(
                tuple(row)[1:] for row in conn.execute(select(t).where(t.c.app_pk == app_pk))
            )
            for name, t in (("sessions", sessions), ("peers", peers), ("meetings", meetings))
        }
        state["listed"] = conn.execute(
            select(apps.c.listed_sessions).where(apps.c.app_pk == app_pk)
        ).scalar()
    return state


def one_fold_at_the_end(db: Database, app: str, events: list[dict]) -> dict:
    """What one append of every event and one fold make, in an app of its own."""
    assert ingest_items(db, ACCOUNT, app, encoded(events), T0).rejected == []
    return folded_state(db, app)


def helper(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(HELPER), *args],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        **kwargs,
    )


# --------------------------------------------------------------------------
# read your writes
# --------------------------------------------------------------------------


def test_every_acknowledged_session_is_read_with_its_participants_at_once(
    db: Database, tmp_path: Path
) -> None:
    """Two writer processes append sessions of three peers; as soon as one acknowledges
    a batch, a reader on its own connection (here, with a background folder racing it)
    finds the session and its three participants."""
    batches = 40
    writers = []
    for w in range(2):
        path = tmp_path / f"batches-{w}.json"
        path.write_text(json.dumps([session_batch(w, n) for n in range(batches)]))
        writers.append(helper("append", db.url, "ryw", str(path)))
    stop = threading.Event()

    def background_folder() -> None:
        while not stop.is_set():
            app_pk = app_key(db, ACCOUNT, "ryw")
            if app_pk is not None:
                fold_pending(db, app_pk, wait=False, max_events=40)
            stop.wait(0.005)

    missing: list[str] = []

    def reader(w: int, process: subprocess.Popen) -> None:
        reads = Database(db.url)
        try:
            for line in process.stdout:  # type: ignore[union-attr]
                n = int(line)
                page = participants_page(
                    reads, ACCOUNT, "ryw", f"w{w}-s{n}", ParticipantQuery(page=Page(0, 10)), T0
                )
                found = sorted(v.peer.peer_id for v in page.participants)
                if found != [f"w{w}-s{n}-p{p}" for p in range(3)]:
                    missing.append(f"w{w}-s{n}: {found}")
        finally:
            reads.dispose()

    folder = threading.Thread(target=background_folder)
    readers = [threading.Thread(target=reader, args=(w, p)) for w, p in enumerate(writers)]
    folder.start()
    for thread in readers:
        thread.start()
    for thread in readers:
        thread.join(timeout=180)
    stop.set()
    folder.join(timeout=30)
    assert [p.wait(timeout=60) for p in writers] == [0, 0]
    assert missing == []
    state = folded_state(db, "ryw")
    assert len(state["sessions"]) == 2 * batches and state["listed"] == 2 * batches


# --------------------------------------------------------------------------
# crashes and races
# --------------------------------------------------------------------------


def scenario(sessions_: int) -> list[dict]:
    """Sessions of a few meetings (each superseding the one before), rejoins, renames,
    an early end: folding depends on order and batching unless it is right."""
    out: list[dict] = []
    for n in range(sessions_):
        meeting_id = f"m{n % 5}"
        sid, start = f"s{n}", T0 + n * 3 * MIN
        out += [meeting(meeting_id, f"Room {n % 5} v{n}", start), started(sid, meeting_id, start)]
        for p in range(4):
            out += visit(sid, f"{sid}-p{p}", start + p * SEC, start + (p + 5) * MIN,
                         user_id=f"u{p % 3}")
        out.append(joined(sid, f"{sid}-p0", start + 2 * SEC, user_id="u0",
                          display_name="late name"))
        if n % 4 == 0:
            out.append(ended(sid, start + 4 * MIN, "HOST_ENDED_MEETING"))
    return out


def queued(db: Database, app: str) -> int:
    with db.read() as conn:
        return conn.execute(
            select(func.coalesce(func.sum(fold_queue.c.events), 0))
            .select_from(fold_queue)
            .join(apps, apps.c.app_pk == fold_queue.c.app_pk)
            .where(apps.c.app_id == app)
        ).scalar()


def unfolded_rows(db: Database, app: str) -> int:
    with db.read() as conn:
        return conn.execute(
            select(func.count())
            .select_from(sessions)
            .join(apps, apps.c.app_pk == sessions.c.app_pk)
            .where(apps.c.app_id == app)
        ).scalar()


def test_a_fold_killed_halfway_leaves_the_state_as_before(db: Database) -> None:
    events = scenario(1_500)
    for start in range(0, len(events), 2_000):
        ingest_items(db, ACCOUNT, "killed", encoded(events[start : start + 2_000]), T0)
    before = queued(db, "killed")
    assert before == sum(e["type"] != "peer.event" for e in events)
    assert unfolded_rows(db, "killed") == 0
    folder = helper("fold-all", db.url, "killed", start_new_session=True)
    # in the fold's commit, half of its writes made and not committed
    assert folder.stdout.readline().strip() == "halfway"  # type: ignore[union-attr]
    os.killpg(folder.pid, signal.SIGKILL)
    folder.wait(timeout=30)
    assert folder.returncode == -signal.SIGKILL
    assert queued(db, "killed") == before  # nothing of the killed fold was kept
    assert unfolded_rows(db, "killed") == 0
    assert folded_state(db, "killed") == one_fold_at_the_end(db, "whole", events)


def test_two_folders_never_commit_over_each_other(db: Database, tmp_path: Path) -> None:
    """Two folder processes take one app's queue in small batches while it grows; each
    commit moves the app's fold version once (none lost, none twice), on PostgreSQL no
    two folds even overlap, and the rows are what one fold at the end makes."""
    events = scenario(300)
    batches = [events[i : i + 97] for i in range(0, len(events), 97)]
    path = tmp_path / "batches.json"
    path.write_text(json.dumps(batches))
    logs = [tmp_path / "folds-a.txt", tmp_path / "folds-b.txt"]
    folders = [helper("fold", db.url, "raced", str(log), "8") for log in logs]
    for folder in folders:  # both racing before the first append (a slow start loses it all)
        assert folder.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
    appender = helper("append", db.url, "raced", str(path))
    assert appender.wait(timeout=120) == 0
    assert [f.wait(timeout=120) for f in folders] == [0, 0]
    intervals = [
        tuple(map(int, line.split())) for log in logs for line in log.read_text().splitlines()
    ]
    with db.read() as conn:
        version = conn.execute(select(apps.c.fold_version).where(apps.c.app_id == "raced")).scalar()
    assert all(log.read_text() for log in logs), "both folders folded something"
    # each of the folders' commits moved the version once; a read's own catch-up may add
    assert version == len(intervals)
    if not db.is_sqlite:
        ordered = sorted(intervals)
        assert all(a[1] <= b[0] for a, b in zip(ordered, ordered[1:], strict=False))
    assert folded_state(db, "raced") == one_fold_at_the_end(db, "raced-once", events)


# --------------------------------------------------------------------------
# any interleaving
# --------------------------------------------------------------------------


_EXAMPLES = itertools.count()
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 60)),
        st.tuples(st.just("fold"), st.integers(1, 40)),
        st.tuples(st.just("read"), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS, seed=st.integers(0, 10**6))
def test_any_interleaving_answers_as_one_fold_at_the_end(db, operations, seed) -> None:
    """Appends of the scenario's events (shuffled, cut anywhere, some sent twice), folds
    of a few events at a time and reads, in any order: every read answers what one
    fold of the events acknowledged before it makes, and so does the end."""
    import random

    rnd = random.Random(seed)
    events = scenario(6) + [left("s1", "s1-p9", T0 + 9 * MIN)]
    stream = events + rnd.sample(events, len(events) // 5)
    rnd.shuffle(stream)
    app = f"mix-{next(_EXAMPLES)}"  # one database for every example: an app each
    sent = 0
    reference = 0  # apps of one fold each, for the prefixes read
    for kind, size in operations:
        if kind == "append" and sent < len(stream):
            ingest_items(db, ACCOUNT, app, encoded(stream[sent : sent + size]), T0)
            sent = min(len(stream), sent + size)
        elif kind == "fold":
            app_pk = app_key(db, ACCOUNT, app)
            if app_pk is not None:
                fold_pending(db, app_pk, wait=True, max_events=size)
        elif sent:
            reference += 1
            expected = one_fold_at_the_end(db, f"{app}-ref{reference}", _once(stream[:sent]))
            assert folded_state(db, app) == expected
    ingest_items(db, ACCOUNT, app, encoded(stream[sent:]), T0)
    assert folded_state(db, app) == one_fold_at_the_end(db, f"{app}-all", events)
    app_pk = readable_app(db, ACCOUNT, app)
    assert newest_pending(db, app_pk) is None  # a read leaves nothing queued behind it


def _once(stream: list[dict]) -> list[dict]:
    """The events of ``stream``, each id once (the first copy)."""
    seen: set[str] = set()
    return [e for e in stream if not (e["id"] in seen or seen.add(e["id"]))]
