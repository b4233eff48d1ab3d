"""Database outages become StoreUnavailable (HTTP 503) and leave nothing half-written:
a full disk (SQLite's ``max_page_count`` makes the file "full" at a set size) and a
lock held past the busy timeout, on the store itself."""

from __future__ import annotations

import msgspec
import pytest
from sqlalchemy import event, func, select, text

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database, StoreUnavailable
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.tables import events, sessions
from tests.factories import MIN, SEC, T0, started, visit


def _batch(first: int, count: int) -> list[bytes]:
    return [
        msgspec.json.encode(e)
        for n in range(first, first + count)
        for e in (started(f"s{n}", f"m{n}", T0 + n * SEC),
                  *visit(f"s{n}", f"p{n}-" + "x" * 200, T0 + n * SEC, T0 + n * SEC + MIN))
    ]


def _counts(db: Database) -> tuple[int, int]:
    readable_app(db, "acc", "app")  # as a read path: what was acknowledged, folded
    with db.read() as conn:
        return (conn.execute(select(func.count()).select_from(events)).scalar_one(),
                conn.execute(select(func.count()).select_from(sessions)).scalar_one())


def test_a_full_disk_is_store_unavailable_and_the_batch_is_not_half_written(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'full.db'}")
    from rtk_sessions.store.migrate import upgrade

    upgrade(db)
    ingest_items(db, "acc", "app", _batch(0, 10), T0)
    before = _counts(db)
    with db.read() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar_one()
    db.dispose()

    @event.listens_for(db.engine, "connect")
    def _almost_full(dbapi_connection, _record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 8}")

    with pytest.raises(StoreUnavailable, match="full"):
        ingest_items(db, "acc", "app", _batch(10, 2_000), T0)  # far more than 8 pages

    assert _counts(db) == before  # nothing of the refused batch
    ingest_items(db, "acc", "app", _batch(10, 1), T0)  # small enough: the store goes on
    assert _counts(db) == (before[0] + 3, before[1] + 1)


def test_a_lock_held_past_the_busy_timeout_is_store_unavailable(database_url):
    db = Database(database_url, busy_timeout_ms=200)
    from rtk_sessions.store.migrate import upgrade

    upgrade(db)
    ingest_items(db, "acc", "app", _batch(0, 1), T0)
    before = _counts(db)
    holder = db.engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE")
    holder.begin()
    if not db.is_sqlite:
        holder.exec_driver_sql("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")
    try:
        with pytest.raises(StoreUnavailable):
            ingest_items(db, "acc", "app", _batch(1, 5), T0)
    finally:
        holder.rollback()
        holder.close()
    assert _counts(db) == before
    db.dispose()
