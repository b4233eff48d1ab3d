"""Telemetry on its way in: each ``peer.stats`` event a row for the store's inbox.

The append stores an event as received (its JSON, compressed) under a 64-bit hash of
its id, the key a re-delivery is found by; the background folder compacts it later
(``store.stats_compact``). An event with keys the schema does not declare is kept in
the log as received instead (the log keeps every key), as is one whose key turns out
to be another event's (told apart by a second hash of the id).
"""

from __future__ import annotations

from rtk_sessions.ingest.events import PeerStats
from rtk_sessions.ingest.normalize import NormalizedEvent
from rtk_sessions.store.rows import StatsRow
from rtk_sessions.store.stats import last_sample_ms, pending_data
from rtk_sessions.store.stats_codec import event_id_hashes


def prepare_stats(items: list[NormalizedEvent], received_ms: int) -> list[StatsRow]:
    """Rows for the batch's (valid, distinct) ``peer.stats`` events."""
    rows = []
    for item in items:
        event = item.event
        assert isinstance(event, PeerStats)
        h1, h2 = event_id_hashes(item.event_id)
        last_ms = last_sample_ms(event.samples)
        data = b"" if item.unknown_keys else pending_data(item.payload)
        rows.append(
            StatsRow(
                event.peer_id,
                event.session_id,
                h1,
                h2,
                last_ms,
                received_ms,
                data,
                logged=item.logged(received_ms),
                kept=item.unknown_keys,
            )
        )
    return rows
