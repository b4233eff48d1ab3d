"""The retention job: purges what is older than the ``RTK_RETAIN_*_DAYS`` settings.

Every job worker queues one each ``RTK_RETENTION_INTERVAL_MINUTES`` while any
retention is set; the queue keeps at most one waiting or running, whichever worker
queued it, so the purge runs once per interval across all processes and replicas.
"""

from __future__ import annotations

import logging

from rtk_sessions.config import Settings
from rtk_sessions.metrics import RETENTION_PURGED
from rtk_sessions.store.database import Database
from rtk_sessions.store.jobs import JobRow, complete, enqueue_periodic
from rtk_sessions.store.retention import KINDS, RetentionPolicy, purge

KIND = "retention"
log = logging.getLogger("rtk_sessions.retention")


def policy_of(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        telemetry=settings.retain_telemetry_days,
        chat=settings.retain_chat_days,
        transcripts=settings.retain_transcripts_days,
        peer_metadata=settings.retain_peer_metadata_days,
        sessions=settings.retain_sessions_days,
    )


def queue_retention(db: Database, settings: Settings, now_ms: int) -> JobRow:
    return enqueue_periodic(db, KIND, settings.job_max_attempts, now_ms)


def run_retention(db: Database, settings: Settings, job: JobRow, now_ms: int) -> None:
    report = purge(db, policy_of(settings), now_ms)
    for kind in KINDS:
        RETENTION_PURGED.labels(kind).inc(report.purged[kind])
    RETENTION_PURGED.labels("summaries").inc(report.summaries)
    log.info(
        "retention purged %s",
        ", ".join(f"{kind} {report.purged[kind]}" for kind in KINDS)
        + f", summaries {report.summaries}",
    )
    complete(db, job, now_ms)
