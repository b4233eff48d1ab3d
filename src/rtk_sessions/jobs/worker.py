"""A job worker: claims one job at a time from the database queue and runs it.

``serve`` runs one in a thread of each server process (``RTK_JOBS_IN_SERVE``);
``rtk-sessions worker`` runs one alone. Any number may share a database: claiming
is safe (``store.jobs.claim``). A failing job is retried with back-off until its
attempts are used up, then recorded as failed with its error.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

from rtk_sessions.clock import Clock, system_clock
from rtk_sessions.config import Settings
from rtk_sessions.jobs.alerts import DELIVERY, SCAN, queue_scan, run_delivery, run_scan
from rtk_sessions.jobs.retention import KIND as RETENTION
from rtk_sessions.jobs.retention import policy_of, queue_retention, run_retention
from rtk_sessions.jobs.summary import KIND as SUMMARY
from rtk_sessions.jobs.summary import run_summary
from rtk_sessions.jobs.webhook_files import KINDS as FETCHES
from rtk_sessions.jobs.webhook_files import run_fetch
from rtk_sessions.metrics import JOBS
from rtk_sessions.store.alerts import targets as alert_targets
from rtk_sessions.store.database import Database
from rtk_sessions.store.jobs import JobRow, claim, fail

log = logging.getLogger("rtk_sessions.jobs")
Handler = Callable[[Database, Settings, JobRow, int], None]
HANDLERS: dict[str, Handler] = {
    SUMMARY: run_summary,
    RETENTION: run_retention,
    SCAN: run_scan,
    DELIVERY: run_delivery,
} | {kind: run_fetch for kind in FETCHES}
RETRY_BASE_MS = 2_000


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock = system_clock,
        handlers: dict[str, Handler] | None = None,
    ) -> None:
        self.db, self.settings, self.clock = db, settings, clock
        self.handlers = handlers or HANDLERS
        self.worker_id = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._retention_due_ms = 0  # queued at the first chance, then every interval
        self._alerts_due_ms = 0

    def schedule(self) -> None:
        """Queue the periodic jobs that are due: retention when any is set, the alert
        scan when any app has an alert webhook (each one at a time, across workers)."""
        now_ms = self.clock()
        if now_ms >= self._retention_due_ms and policy_of(self.settings).active:
            queue_retention(self.db, self.settings, now_ms)
            self._retention_due_ms = now_ms + int(self.settings.retention_interval_minutes * 60_000)
        if now_ms >= self._alerts_due_ms:
            self._alerts_due_ms = now_ms + int(self.settings.alerts_scan_seconds * 1000)
            if alert_targets(self.db):
                queue_scan(self.db, self.settings, now_ms)

    def run_once(self) -> JobRow | None:
        """Claim and run one job; the job as claimed, or None when there was none."""
        lease_ms = int(self.settings.job_lease_seconds * 1000)
        job = claim(self.db, self.worker_id, self.clock(), lease_ms)
        if job is None:
            return None
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for jobs of kind {job.kind!r}")
            handler(self.db, self.settings, job, self.clock())
            JOBS.labels(job.kind, "done").inc()
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
            error = f"{type(exc).__name__}: {exc}"
            retry_ms = RETRY_BASE_MS * 2 ** (job.attempts - 1)
            status = fail(self.db, job, error, self.clock(), retry_ms)
            JOBS.labels(job.kind, "failed" if status == "failed" else "retry").inc()
            log.warning(
                "job %s (%s) attempt %s failed: %s -> %s",
                job.job_id,
                job.kind,
                job.attempts,
                error,
                status,
            )
        return job

    def run_until(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set, waiting ``job_poll_seconds`` when there is nothing."""
        while not stop.is_set():
            try:
                self.schedule()
                ran = self.run_once()
            except Exception:  # noqa: BLE001 - e.g. the database is briefly unreachable
                log.exception("job worker %s: claiming failed; retrying", self.worker_id)
                ran = None
            if ran is None:
                stop.wait(self.settings.job_poll_seconds)


def start_worker_thread(
    db: Database, settings: Settings, clock: Clock = system_clock
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    worker = Worker(db, settings, clock)
    thread = threading.Thread(target=worker.run_until, args=(stop,), name="rtk-jobs", daemon=True)
    thread.start()
    return thread, stop
