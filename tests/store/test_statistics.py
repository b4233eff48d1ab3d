"""Planner statistics are refreshed by ingest: on SQLite a peer's events are then an index
seek; on PostgreSQL the planner knows how many sessions a bulk load brought."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import text

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from tests.factories import SEC, T0, ended, started, visit

PEER_EVENTS_QUERY = (
    "EXPLAIN QUERY PLAN SELECT type, payload FROM events WHERE app_pk = 1 AND peer_id = 'p7' "
    "AND type IN ('peer.metadata', 'peer.event') ORDER BY ts_ms, event_id"
)


@pytest.fixture
def sqlite_db(database: Database) -> Database:
    if not database.is_sqlite:
        pytest.skip("SQLite's own statistics (sqlite_stat1)")
    return database


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


def session_events(count: int) -> list[bytes]:
    """Events about sessions only (no peer): their peer is NULL."""
    return [
        msgspec.json.encode(e)
        for n in range(count // 2)
        for e in (started(f"s{n}", f"m{n}", T0 + n * SEC), ended(f"s{n}", T0 + n * SEC + SEC))
    ]


def plan(db: Database) -> str:
    with db.read() as conn:
        return " ".join(str(row[-1]) for row in conn.execute(text(PEER_EVENTS_QUERY)))


def test_statistics_appear_after_enough_events_and_steer_the_plan(sqlite_db: Database):
    database = sqlite_db
    ingest_items(database, "acc", "app", peer_events(500), T0)
    with database.read() as conn:
        assert not conn.execute(
            text("SELECT name FROM sqlite_master WHERE name='sqlite_stat1'")
        ).all()
    ingest_items(database, "acc", "app", peer_events(1_500)[500:], T0 + SEC)
    with database.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar() > 0
    assert "ix_events_app_pk_peer_id_type_ts_ms" in plan(database)


def test_a_peer_s_events_stay_an_index_seek_among_many_events_without_a_peer(
    sqlite_db: Database,
):
    """Thousands of session events (no peer) beside a few peers' events: the sampled
    statistics must still find the per-peer index selective (it holds no NULLs)."""
    ingest_items(sqlite_db, "acc", "app", session_events(4_000), T0)
    ingest_items(sqlite_db, "acc", "app", peer_events(400), T0)
    sqlite_db.refresh_statistics()
    assert "ix_events_app_pk_peer_id_type_ts_ms" in plan(sqlite_db)


def test_statistics_refresh_when_the_data_doubles_not_at_every_batch(sqlite_db: Database):
    """After a refresh at 1,200 events, fewer than 1,200 more (within the minute) do not
    refresh again; reaching twice the data does."""
    database = sqlite_db

    def stats_rows() -> int:
        with database.read() as conn:
            return conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar()

    events = peer_events(2_500)
    ingest_items(database, "acc", "app", events[:1_200], T0)
    with database.write() as conn:
        conn.execute(text("DELETE FROM sqlite_stat1"))
    ingest_items(database, "acc", "app", events[1_200:2_300], T0)  # 1,100 more: < 1,200
    assert stats_rows() == 0
    ingest_items(database, "acc", "app", events[2_300:], T0)  # 1,300 more: doubled
    assert stats_rows() > 0


def test_postgresql_learns_the_size_of_a_bulk_load(database: Database):
    """Right after a load, before autovacuum comes by, the planner must not think the
    sessions table is empty (it then sorted a whole app's sessions for one page)."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL's statistics (pg_class.reltuples)")
    lifecycle = [
        msgspec.json.encode(e)
        for n in range(600)  # 1,200 events: past the 1,000 that trigger a refresh
        for e in (
            started(f"s{n}", f"m{n % 7}", T0 + n * SEC),
            *visit(f"s{n}", f"p{n}", T0 + n * SEC, None),
        )
    ]
    ingest_items(database, "acc", "app", lifecycle, T0)
    readable_app(database, "acc", "app")  # a read folds the load into sessions first
    with database.read() as conn:
        reltuples = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'sessions'::regclass")
        ).scalar()
    assert reltuples == 600


def test_postgresql_sessions_are_vacuumed_after_a_bulk_load(database: Database):
    """Index-only scans (the list's page ids, deep offsets) need the visibility map,
    which only VACUUM sets; autovacuum may come by a minute later."""
    if database.is_sqlite:
        pytest.skip("PostgreSQL's visibility map (pg_class.relallvisible)")
    lifecycle = [
        msgspec.json.encode(e)
        for n in range(600)
        for e in (
            started(f"s{n}", f"m{n % 7}", T0 + n * SEC),
            *visit(f"s{n}", f"p{n}", T0 + n * SEC, None),
        )
    ]
    ingest_items(database, "acc", "app", lifecycle, T0)
    readable_app(database, "acc", "app")  # a read folds the load into sessions first
    with database.read() as conn:
        visible, pages = conn.execute(
            text("SELECT relallvisible, relpages FROM pg_class WHERE oid = 'sessions'::regclass")
        ).one()
    assert pages > 0 and visible == pages


def test_a_refresh_running_in_another_process_is_not_waited_for(database: Database) -> None:
    """On PostgreSQL one process refreshes statistics at a time: another finds it running
    and skips, instead of waiting on its table locks (two ANALYZEs of a table wait for
    each other)."""
    import threading

    import psycopg

    from rtk_sessions.store.database import _PG_STATISTICS_LOCK

    if database.is_sqlite:
        pytest.skip("PostgreSQL's VACUUM and ANALYZE")
    url = database.engine.url.render_as_string(hide_password=False)
    other = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        # another process "refreshing": it holds the refresh lock and the tables' lock
        other.execute("SELECT pg_advisory_lock(%(space)s, %(key)s)", _PG_STATISTICS_LOCK)
        other.execute("LOCK TABLE sessions IN SHARE UPDATE EXCLUSIVE MODE")
        refresh = threading.Thread(target=database.refresh_statistics, daemon=True)
        refresh.start()
        refresh.join(timeout=60)
        assert not refresh.is_alive(), "waited for the other process's refresh"
        other.rollback()
        other.execute("SELECT pg_advisory_unlock(%(space)s, %(key)s)", _PG_STATISTICS_LOCK)
        other.commit()
        # without it, the refresh runs (and would wait on a lock of the tables)
        other.execute("LOCK TABLE sessions IN SHARE UPDATE EXCLUSIVE MODE")
        blocked = threading.Thread(target=database.refresh_statistics, daemon=True)
        blocked.start()
        blocked.join(timeout=1)
        assert blocked.is_alive()
        other.rollback()
        blocked.join(timeout=60)
        assert not blocked.is_alive()
    finally:
        other.close()
