"""Prometheus metrics (``GET /metrics``), correct across `serve`'s worker processes.

`serve` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder before its workers
start, so every worker's counters and histograms go to files there and a scrape
answered by any worker sums them all (prometheus-client's multiprocess mode).
Without it (tests, a single process) the process's own registry is used. Gauges
that describe the database (job queue depth) are read when scraped, not kept.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter(
    "rtk_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "rtk_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INGEST_EVENTS = Counter(
    "rtk_ingest_events_total",
    "Events received by the ingest doors, by door, event type and outcome "
    "(accepted, duplicate, rejected; the type of a rejected event is 'invalid' when it "
    "names no known type).",
    ["door", "type", "outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "rtk_webhook_deliveries_total",
    "RealtimeKit webhook deliveries, by event and outcome (stored, duplicate, "
    "refused, unreadable, too_large, too_slow, unavailable, error).",
    ["event", "outcome"],
)
JOBS = Counter(
    "rtk_jobs_total",
    "Job attempts finished, by kind and outcome (done, retry, failed).",
    ["kind", "outcome"],
)
RETENTION_PURGED = Counter(
    "rtk_retention_purged_total",
    "Rows purged by retention: events of each kind, whole top-level sessions, summaries.",
    ["kind"],
)
FOLD_LAG = Histogram(
    "rtk_fold_lag_seconds",
    "From an append's commit to the fold that took its events into sessions and peers.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60),
)
FOLDED_EVENTS = Counter(
    "rtk_folded_events_total",
    "Lifecycle and meeting events folded into meetings, sessions and peers.",
)
COMPACTED_STATS = Counter(
    "rtk_compacted_stats_events_total",
    "peer.stats events the folder compacted from the inbox into encoded rows.",
)
DATABASE_ERRORS = Counter(
    "rtk_database_unavailable_total",
    "Requests answered 503 because the database was down, full or locked.",
)


class QueueDepth:
    """Jobs queued and running, by kind, read from the database at each scrape."""

    def __init__(self, read: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self.read = read

    def collect(self):
        family = GaugeMetricFamily(
            "rtk_jobs_queue_depth",
            "Jobs waiting or running now, by kind and status.",
            labels=["kind", "status"],
        )
        for kind, status, count in self.read():
            family.add_metric([kind, status], count)
        yield family


def render(queue_depth: QueueDepth | None = None) -> bytes:
    """The exposition text of every process's metrics (and the database gauges)."""
    if os.environ.get(MULTIPROCESS_DIR):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
    else:
        processes = REGISTRY  # this process's own
    text = generate_latest(processes)
    if queue_depth is not None:
        database = CollectorRegistry()
        database.register(queue_depth)
        text += generate_latest(database)
    return text
