"""The one ingest pipeline behind every door (HTTP, files, demo, webhooks).

Validate each item, then store the valid ones in one transaction: a batch
is accepted whole or not at all at the storage level, and a rejected item
never touches stored state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from rtk_sessions.ingest.fold import fold_batch
from rtk_sessions.ingest.normalize import NormalizedEvent, Rejection, validate_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.writer import app_writer


@dataclass(slots=True)
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def add(self, other: IngestReport, index_offset: int = 0) -> None:
        """Fold in the report of a later chunk whose items started at ``index_offset``."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected += [Rejection(r.index + index_offset, r.id, r.error) for r in other.rejected]


def ingest_items(
    db: Database,
    account_id: str,
    app_id: str,
    items: list[bytes | Exception],
    now_ms: int,
) -> IngestReport:
    """Validate and store one batch of raw JSON events for an app."""
    batch = validate_items(items)  # type: ignore[arg-type]
    accepted = 0
    if batch.events:
        with app_writer(db, account_id, app_id, now_ms) as writer:
            accepted = fold_batch(writer, batch.events, now_ms)
        db.note_written(accepted)
    duplicates = len(batch.events) - accepted + batch.duplicates_in_batch
    return IngestReport(accepted=accepted, duplicates=duplicates, rejected=batch.rejected)


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
    with app_writer(db, account_id, app_id, now_ms) as writer:
        accepted = fold_batch(writer, [record, *batch.events], now_ms)
    db.note_written(accepted)
    stored = 1 + len(batch.events)
    return IngestReport(accepted=accepted, duplicates=stored - accepted, rejected=batch.rejected)
