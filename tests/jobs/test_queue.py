"""The durable job queue on both databases: one active job per session, survival across
restarts, leases that expire, bounded retries, and several workers sharing one queue."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select

from rtk_sessions.config import Settings
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.jobs.summary import SummaryParams
from rtk_sessions.jobs.worker import Worker
from rtk_sessions.store.apps import find_app
from rtk_sessions.store.database import Database
from rtk_sessions.store.jobs import JobRow, SummaryRow, claim, complete_summary, enqueue
from rtk_sessions.store.tables import jobs, summaries
from tests.factories import MIN, T0, started, transcript_segment, visit

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
LEASE_MS = 60_000


def queue(db: Database, session_id: str = "s1", app_pk: int = 1, now_ms: int = T0) -> JobRow:
    return enqueue(db, kind="test", app_pk=app_pk, session_id=session_id, params="{}",
                   max_attempts=3, now_ms=now_ms)


def all_jobs(db: Database) -> list[tuple]:
    with db.read() as conn:
        return [tuple(r) for r in conn.execute(
            select(jobs.c.job_id, jobs.c.session_id, jobs.c.status, jobs.c.attempts,
                   jobs.c.error).order_by(jobs.c.job_id))]


def test_one_active_job_per_session_and_kind(database: Database) -> None:
    first = queue(database)
    assert queue(database).job_id == first.job_id  # queued: the same job
    claimed = claim(database, "w1", T0, LEASE_MS)
    assert claimed is not None and claimed.job_id == first.job_id
    assert queue(database).job_id == first.job_id  # running: still the same
    other = queue(database, "s2")
    assert other.job_id != first.job_id
    assert [row[:3] for row in all_jobs(database)] == [
        (first.job_id, "s1", "running"), (other.job_id, "s2", "queued")]


def test_jobs_survive_a_restart(database: Database, database_url: str) -> None:
    before = Database(database_url)
    job = queue(before)
    before.dispose()  # the process that queued it is gone
    after = Database(database_url)
    try:
        claimed = claim(after, "new-process", T0 + 1, LEASE_MS)
        assert claimed is not None and claimed.job_id == job.job_id
    finally:
        after.dispose()


def test_a_job_whose_worker_died_is_taken_again_after_its_lease(database: Database) -> None:
    job = queue(database)
    dead = claim(database, "dies", T0, LEASE_MS)
    assert dead is not None and dead.attempts == 1
    assert claim(database, "other", T0 + LEASE_MS - 1, LEASE_MS) is None  # lease still held
    again = claim(database, "other", T0 + LEASE_MS + 1, LEASE_MS)
    assert again is not None and again.job_id == job.job_id and again.attempts == 2
    assert "lease expired" in (again.error or "")
    summary = SummaryRow(session_id="s1", text="late", text_format="plain_text", params="{}",
                         transcript_version="", job_id=job.job_id, created_ms=T0)
    assert not complete_summary(database, dead, summary, T0 + LEASE_MS + 2)  # no longer its
    assert complete_summary(database, again, summary, T0 + LEASE_MS + 3)
    with database.read() as conn:
        assert conn.execute(select(summaries.c.text)).scalars().all() == ["late"]


def test_a_job_that_keeps_dying_is_failed_after_its_attempts(database: Database) -> None:
    queue(database)
    now = T0
    for attempt in (1, 2, 3):
        claimed = claim(database, f"w{attempt}", now, LEASE_MS)
        assert claimed is not None and claimed.attempts == attempt
        now += LEASE_MS + 1
    assert claim(database, "w4", now, LEASE_MS) is None
    [(_, _, status, attempts, error)] = all_jobs(database)
    assert (status, attempts) == ("failed", 3) and "lease expired" in error


def test_a_failing_job_is_retried_then_recorded_as_failed(database: Database, tmp_path) -> None:
    clock = [T0]
    calls: list[int] = []

    def broken(db, settings, job, now_ms):
        calls.append(job.attempts)
        raise RuntimeError(f"boom {job.attempts}")

    settings = Settings(database_url="sqlite://", job_max_attempts=3)
    worker = Worker(database, settings, clock=lambda: clock[0], handlers={"test": broken})
    queue(database)
    for _ in range(6):
        worker.run_once()
        clock[0] += 60_000  # past any back-off
    assert calls == [1, 2, 3]
    [(_, _, status, attempts, error)] = all_jobs(database)
    assert (status, attempts, error) == ("failed", 3, "RuntimeError: boom 3")


def test_two_threads_claiming_at_once_never_take_the_same_job(
    database: Database, database_url: str
) -> None:
    setup = Database(database_url)
    for n in range(40):
        queue(setup, f"s{n}")
    setup.dispose()
    taken: list[int] = []
    lock = threading.Lock()

    def drain(name: str) -> None:
        db = Database(database_url)
        try:
            while (job := claim(db, name, T0, LEASE_MS)) is not None:
                with lock:
                    taken.append(job.job_id)
        finally:
            db.dispose()

    threads = [threading.Thread(target=drain, args=(f"w{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(taken) == sorted(set(taken)) and len(taken) == 40


def transcript_events(session_id: str) -> list[dict]:
    return [
        started(session_id, "m", T0),
        *visit(session_id, f"{session_id}-p", T0, T0 + 10 * MIN, display_name="Speaker"),
        *[transcript_segment(session_id, f"{session_id}-p", T0 + i, i * 1000, i * 1000 + 900,
                             f"We will review item number {i} of the plan today.")
          for i in range(12)],
    ]


@pytest.mark.parametrize("workers", [2])
def test_two_worker_processes_run_every_summary_job_exactly_once(
    database: Database, database_url: str, workers: int
) -> None:
    db = database
    sessions = [f"s{n}" for n in range(24)]
    lines = [msgspec.json.encode(e) for s in sessions for e in transcript_events(s)]
    assert ingest_items(db, "acc", "app", lines, T0).accepted == len(lines)
    with db.read() as conn:
        app_pk = find_app(conn, "acc", "app")
    params = msgspec.json.encode(SummaryParams()).decode()
    for session_id in sessions:
        enqueue(db, kind="summary", app_pk=app_pk, session_id=session_id, params=params,
                max_attempts=3, now_ms=int(time.time() * 1000))
    env = {**os.environ, "RTK_DATABASE_URL": database_url, "RTK_CONFIG_FILE": "",
           "RTK_JOB_POLL_SECONDS": "0.05"}
    procs = [subprocess.Popen([CLI, "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            rows = all_jobs(db)
            if all(status == "done" for _, _, status, _, _ in rows):
                break
            assert not any(status == "failed" for _, _, status, _, _ in rows), rows
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.terminate()
        errors = [proc.communicate(timeout=30)[1] for proc in procs]
    rows = all_jobs(db)
    with db.read() as conn:
        workers_used = set(conn.execute(select(jobs.c.worker_id)).scalars())
        summary_jobs = sorted(conn.execute(select(summaries.c.job_id)).scalars())
    assert [status for _, _, status, _, _ in rows] == ["done"] * len(sessions), errors
    assert [attempts for _, _, _, attempts, _ in rows] == [1] * len(sessions)  # each claimed once
    assert summary_jobs == sorted(job_id for job_id, *_ in rows)  # one summary per job
    assert len(workers_used) >= 1
