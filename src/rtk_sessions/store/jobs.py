"""The durable job queue (a table in the same database), summaries and instance secrets.

A job is ``queued``, then ``running`` under a lease held by one worker, then ``done``
or ``failed``. Claiming is one UPDATE of the oldest runnable job: on PostgreSQL its
row is picked ``FOR UPDATE SKIP LOCKED`` (concurrent workers take different jobs); on
SQLite the write transaction is the only writer. A ``running`` job whose lease ran out
(its worker died) is claimable again; one that has used all its attempts is recorded
as failed instead. A job's result is written in the same transaction that marks it
done, and only while its worker still holds it, so no job's result lands twice.
"""

from __future__ import annotations

import secrets
from typing import Literal
from weakref import WeakKeyDictionary

import msgspec
from sqlalchemy import Connection, Engine, and_, case, func, or_, select, update

from rtk_sessions.store.database import Database
from rtk_sessions.store.rows import first_row, select_rows
from rtk_sessions.store.tables import instance_secrets, jobs, summaries

SUMMARY_JOB = "summary"  # the kind of job that writes a session's summary
JobStatus = Literal["queued", "running", "done", "failed"]
ACTIVE = ("queued", "running")


class JobRow(msgspec.Struct, frozen=True):
    job_id: int
    kind: str
    app_pk: int
    session_id: str
    params: str  # JSON object
    status: str
    attempts: int
    max_attempts: int
    run_after_ms: int
    lease_until_ms: int | None
    worker_id: str | None
    error: str | None
    created_ms: int
    updated_ms: int
    finished_ms: int | None


class SummaryRow(msgspec.Struct, frozen=True):
    session_id: str
    text: str
    text_format: str
    params: str
    transcript_version: str
    job_id: int
    created_ms: int


def enqueue(
    db: Database,
    *,
    kind: str,
    app_pk: int,
    session_id: str,
    params: str,
    max_attempts: int,
    now_ms: int,
) -> JobRow:
    """Queue a job, unless one of this kind is already queued or running for the session:
    then that one is returned and nothing is queued."""
    with db.write() as conn:
        db.serialize_app_writes(conn, app_pk)
        active = newest_job(conn, app_pk, session_id, kind, only_active=True)
        if active is not None:
            return active
        job_id = conn.execute(
            jobs.insert()
            .values(
                kind=kind,
                app_pk=app_pk,
                session_id=session_id,
                params=params,
                status="queued",
                attempts=0,
                max_attempts=max_attempts,
                run_after_ms=now_ms,
                created_ms=now_ms,
                updated_ms=now_ms,
            )
            .returning(jobs.c.job_id)
        ).scalar_one()
        return _job(conn, job_id)


EVERY_APP = (0, "*")  # (app_pk, session_id) of a job about no one app, e.g. a purge


def enqueue_periodic(db: Database, kind: str, max_attempts: int, now_ms: int) -> JobRow:
    """Queue a job about every app, unless one of ``kind`` is queued or running already:
    whichever worker or replica asks, one runs at a time."""
    app_pk, session_id = EVERY_APP
    return enqueue(
        db,
        kind=kind,
        app_pk=app_pk,
        session_id=session_id,
        params="{}",
        max_attempts=max_attempts,
        now_ms=now_ms,
    )


def latest_job(db: Database, app_pk: int, session_id: str, kind: str) -> JobRow | None:
    with db.read() as conn:
        return newest_job(conn, app_pk, session_id, kind, only_active=False)


def claim(db: Database, worker_id: str, now_ms: int, lease_ms: int) -> JobRow | None:
    """Take the oldest runnable job (queued and due, or running with its lease run out)."""
    with db.write() as conn:
        conn.execute(  # leases run out on their last attempt: the job failed
            update(jobs)
            .where(
                jobs.c.status == "running",
                jobs.c.lease_until_ms < now_ms,
                jobs.c.attempts >= jobs.c.max_attempts,
            )
            .values(
                status="failed",
                error="its worker stopped before finishing (lease expired) on the last attempt",
                finished_ms=now_ms,
                updated_ms=now_ms,
                lease_until_ms=None,
            )
        )
        runnable = or_(
            and_(jobs.c.status == "queued", jobs.c.run_after_ms <= now_ms),
            and_(jobs.c.status == "running", jobs.c.lease_until_ms < now_ms),
        )
        oldest = (
            select(jobs.c.job_id)
            .where(runnable)
            .order_by(jobs.c.job_id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = conn.execute(
            update(jobs)
            .where(jobs.c.job_id == oldest)
            .values(
                status="running",
                attempts=jobs.c.attempts + 1,
                lease_until_ms=now_ms + lease_ms,
                worker_id=worker_id,
                updated_ms=now_ms,
                error=case(
                    (jobs.c.status == "running", "its worker stopped (lease expired); retried"),
                    else_=jobs.c.error,
                ),
            )
            .returning(jobs.c.job_id)
        ).scalar()
        return _job(conn, claimed) if claimed is not None else None


def fail(db: Database, job: JobRow, error: str, now_ms: int, retry_in_ms: int) -> str | None:
    """Record a failed attempt: queued again after ``retry_in_ms``, or failed for good on
    its last attempt. Returns the new status (None: the job is no longer this worker's)."""
    final = job.attempts >= job.max_attempts
    status = "failed" if final else "queued"
    with db.write() as conn:
        changed = conn.execute(
            update(jobs)
            .where(*_still_held(job))
            .values(
                status=status,
                error=error[:4000],
                run_after_ms=now_ms + retry_in_ms,
                lease_until_ms=None,
                updated_ms=now_ms,
                finished_ms=now_ms if final else None,
            )
        ).rowcount
    return status if changed else None


def complete_summary(db: Database, job: JobRow, summary: SummaryRow, now_ms: int) -> bool:
    """Store the summary and mark its job done, together; False if the job was no longer
    this worker's (its lease ran out and another took it): nothing is written then."""
    with db.write() as conn:
        if not _mark_done(conn, job, now_ms):
            return False
        values = {"app_pk": job.app_pk, **msgspec.structs.asdict(summary)}
        statement = db.insert(summaries).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[summaries.c.app_pk, summaries.c.session_id],
            set_={k: statement.excluded[k] for k in values if k not in ("app_pk", "session_id")},
        )
        conn.execute(statement)
    return True


def complete(db: Database, job: JobRow, now_ms: int) -> bool:
    """Mark a job done whose work is already stored (idempotently: a job that ran twice
    wrote the same rows); False if it was no longer this worker's."""
    with db.write() as conn:
        return _mark_done(conn, job, now_ms)


def _mark_done(conn: Connection, job: JobRow, now_ms: int) -> bool:
    changed = conn.execute(
        update(jobs)
        .where(*_still_held(job))
        .values(status="done", finished_ms=now_ms, updated_ms=now_ms, lease_until_ms=None)
    ).rowcount
    return changed > 0


def load_summary(db: Database, app_pk: int, session_id: str) -> SummaryRow | None:
    with db.read() as conn:
        return stored_summary(conn, app_pk, session_id)


def stored_summary(conn: Connection, app_pk: int, session_id: str) -> SummaryRow | None:
    return first_row(
        conn,
        SummaryRow,
        select_rows(SummaryRow, summaries).where(
            summaries.c.app_pk == app_pk, summaries.c.session_id == session_id
        ),
    )


def queue_depth(db: Database) -> list[tuple[str, str, int]]:
    """(kind, status, count) of the jobs queued or running now."""
    query = (
        select(jobs.c.kind, jobs.c.status, func.count())
        .where(jobs.c.status.in_(ACTIVE))
        .group_by(jobs.c.kind, jobs.c.status)
    )
    with db.read() as conn:
        return [(kind, status, count) for kind, status, count in conn.execute(query)]


# A secret, once made, never changes: each process reads it once per database.
_SECRETS: WeakKeyDictionary[Engine, dict[str, str]] = WeakKeyDictionary()


def instance_secret(db: Database, name: str, now_ms: int) -> str:
    """A random secret kept in the database under ``name``, made on first use (every
    process and replica on the database then shares it); read once per process."""
    known = _SECRETS.setdefault(db.engine, {})
    if name not in known:
        known[name] = _stored_secret(db, name, now_ms)
    return known[name]


def _stored_secret(db: Database, name: str, now_ms: int) -> str:
    with db.read() as conn:
        found = conn.execute(
            select(instance_secrets.c.value).where(instance_secrets.c.name == name)
        ).scalar()
    if found is not None:
        return found
    with db.write() as conn:
        conn.execute(
            db.insert(instance_secrets)
            .values(name=name, value=secrets.token_hex(32), created_ms=now_ms)
            .on_conflict_do_nothing()
        )
        return conn.execute(
            select(instance_secrets.c.value).where(instance_secrets.c.name == name)
        ).scalar_one()


def _still_held(job: JobRow) -> tuple:
    return (
        jobs.c.job_id == job.job_id,
        jobs.c.status == "running",
        jobs.c.worker_id == job.worker_id,
        jobs.c.attempts == job.attempts,
    )


def _job(conn, job_id: int) -> JobRow | None:
    return first_row(conn, JobRow, select_rows(JobRow, jobs).where(jobs.c.job_id == job_id))


def newest_job(
    conn: Connection, app_pk: int, session_id: str, kind: str, *, only_active: bool
) -> JobRow | None:
    """The session's latest job of ``kind`` (only a queued or running one if ``only_active``)."""
    query = select_rows(JobRow, jobs).where(
        jobs.c.app_pk == app_pk, jobs.c.session_id == session_id, jobs.c.kind == kind
    )
    if only_active:
        query = query.where(jobs.c.status.in_(ACTIVE))
    return first_row(conn, JobRow, query.order_by(jobs.c.job_id.desc()).limit(1))
