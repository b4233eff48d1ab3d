"""SQLite's planner statistics are refreshed by ingest, so a peer's events are an index seek."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import text

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from tests.factories import SEC, T0

PEER_EVENTS_QUERY = (
    "EXPLAIN QUERY PLAN SELECT type, payload FROM events WHERE app_pk = 1 AND peer_id = 'p7' "
    "AND type IN ('peer.metadata', 'peer.event') ORDER BY ts_ms, event_id"
)


@pytest.fixture(scope="module")
def backend() -> str:
    """SQLite only: these are SQLite's statistics (PostgreSQL's autovacuum keeps its own)."""
    return "sqlite"


def peer_events(count: int) -> list[bytes]:
    return [
        msgspec.json.encode(
            {
                "id": f"e{i}",
                "type": "peer.event",
                "peer_id": f"p{i % 50}",
                "name": "tab_hidden",
                "ts": f"2026-01-01T00:00:{i % 60:02d}Z",
            }
        )
        for i in range(count)
    ]


def plan(db: Database) -> str:
    with db.read() as conn:
        return " ".join(str(row[-1]) for row in conn.execute(text(PEER_EVENTS_QUERY)))


def test_statistics_appear_after_enough_events_and_steer_the_plan(database: Database):
    ingest_items(database, "acc", "app", peer_events(500), T0)
    with database.read() as conn:
        assert not conn.execute(
            text("SELECT name FROM sqlite_master WHERE name='sqlite_stat1'")
        ).all()
    ingest_items(database, "acc", "app", peer_events(1_500)[500:], T0 + SEC)
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar() > 0
    assert "ix_events_app_pk_peer_id_type_ts_ms" in plan(database)


def test_no_statistics_refresh_more_than_once_a_minute(database: Database):
    ingest_items(database, "acc", "app", peer_events(1_200), T0)
    with database.write() as conn:
        conn.execute(text("DELETE FROM sqlite_stat1"))
    ingest_items(database, "acc", "app", peer_events(3_000)[1_200:], T0)
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar() == 0
