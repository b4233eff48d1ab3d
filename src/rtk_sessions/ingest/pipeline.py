"""The one ingest pipeline behind every door (HTTP, files, demo, webhooks).

Validate each item, then append the valid ones to the app's event log in one
transaction (``store.log``): a batch is stored whole or not at all, and a
rejected item never touches stored state. The answer follows the commit (a 200
means durable). Folding the new lifecycle events into sessions and peers happens
after, in batches (``store.folding``); every read first folds what its app has
queued, so what it answers is as if the fold had been part of the append.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import msgspec

from rtk_sessions.ingest import fold as _fold  # noqa: F401 - registers the fold with the store
from rtk_sessions.ingest.normalize import (
    NormalizedEvent,
    Rejection,
    ValidatedBatch,
    validate_items,
)
from rtk_sessions.ingest.telemetry import prepare_stats
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import appended_signal
from rtk_sessions.store.log import Appended, append


@dataclass(slots=True)
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    by_type: Counter[tuple[str, str]] = field(default_factory=Counter)  # (type, outcome)

    def add(self, other: IngestReport, index_offset: int = 0) -> None:
        """Fold in the report of a later chunk whose items started at ``index_offset``."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += [Rejection(r.index + index_offset, r.id, r.error) for r in other.rejected]
        self.by_type.update(other.by_type)


def _append(
    db: Database, account_id: str, app_id: str, valid: list[NormalizedEvent], now_ms: int
) -> Appended:
    telemetry = prepare_stats([e for e in valid if e.type == "peer.stats"], now_ms)
    logged = [e.logged(now_ms) for e in valid if e.type != "peer.stats"]
    return append(db, account_id, app_id, logged, telemetry, now_ms)


def _by_type(
    valid: list[NormalizedEvent], new: list[NormalizedEvent], rejected: int, repeated: int
) -> Counter[tuple[str, str]]:
    """Events by (type, outcome): accepted, duplicate (stored before), rejected. A
    rejected event's type cannot be trusted, nor is a copy of an id earlier in the same
    batch decoded: those count under 'invalid' and 'unknown'."""
    stored_now = {e.event_id for e in new}
    counts: Counter[tuple[str, str]] = Counter(
        (e.type, "accepted" if e.event_id in stored_now else "duplicate") for e in valid
    )
    if rejected:
        counts[("invalid", "rejected")] += rejected
    if repeated:
        counts[("unknown", "duplicate")] += repeated
    return counts


def ingest_items(
    db: Database,
    account_id: str,
    app_id: str,
    items: list[bytes | Exception],
    now_ms: int,
) -> IngestReport:
    """Validate and store one batch of raw JSON events for an app."""
    batch = validate_items(items)  # type: ignore[arg-type]
    return _store(db, account_id, app_id, batch.events, batch, now_ms)


def ingest_delivery(
    db: Database,
    account_id: str,
    app_id: str,
    record: NormalizedEvent,
    mapped: list[dict[str, Any]],
    now_ms: int,
) -> IngestReport:
    """Store a webhook delivery: its record and the native events it maps onto, in one
    transaction (the record always; mapped events that fail validation are reported).
    ``accepted`` and ``duplicates`` count the record and the mapped events together."""
    batch = validate_items([msgspec.json.encode(event) for event in mapped])
    return _store(db, account_id, app_id, [record, *batch.events], batch, now_ms)


def _store(
    db: Database,
    account_id: str,
    app_id: str,
    valid: list[NormalizedEvent],
    batch: ValidatedBatch,
    now_ms: int,
) -> IngestReport:
    """Append ``valid`` to the app's log in one transaction (none when there is nothing
    to store) and report it with the batch's rejections and in-batch repeats."""
    new: list[NormalizedEvent] = []
    if valid:
        appended = _append(db, account_id, app_id, valid, now_ms)
        new = [e for e in valid if e.event_id in appended.new_ids]
        if appended.queued or appended.stats_pending:
            appended_signal(db).set()  # this process's folder starts at once
        db.note_written(len(new))
    repeated = batch.duplicates_in_batch
    return IngestReport(
        accepted=len(new),
        duplicates=len(valid) - len(new) + repeated,
        rejected=batch.rejected,
        by_type=_by_type(valid, new, len(batch.rejected), repeated),
    )
