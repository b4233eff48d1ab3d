"""Migrations on both databases: each revision upgrades a populated database of the one
before it without losing data, and concurrent migrators (several replicas starting at
once) end with one schema at head."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.migrate import current_revision, head_revision, revisions, upgrade
from rtk_sessions.store.participants import ParticipantQuery, participants_page
from rtk_sessions.store.sessions import Page, SessionFilter, SessionQuery, sessions_page
from rtk_sessions.store.tables import events
from tests.databases import fresh_database_url
from tests.factories import T0

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "basic"
STEPS = list(zip(revisions(), revisions()[1:], strict=False))  # (from, to)


@pytest.fixture
def empty_db(backend: str, tmp_path: Path):
    with fresh_database_url(backend, tmp_path) as url:
        db = Database(url)
        yield db
        db.dispose()


def test_there_is_a_step_to_test() -> None:
    assert STEPS and STEPS[-1][1] == head_revision()


@pytest.mark.parametrize("old, new", STEPS, ids=[f"{a}-to-{b}" for a, b in STEPS])
def test_a_populated_database_upgrades_without_losing_data(empty_db: Database, old, new) -> None:
    """examples/basic ingested at the old revision reads back after the upgrade exactly as
    examples/basic/expected.json says (sessions, their peak concurrency, participants)."""
    expected = json.loads((EXAMPLE / "expected.json").read_text())
    account, app = expected["account_id"], expected["app_id"]
    assert upgrade(empty_db, old) == old
    lines = (EXAMPLE / "events.ndjson").read_bytes().splitlines()
    if revisions().index(old) < revisions().index(FOLD_QUEUE):
        populate_as_a_server_before_the_fold_queue(empty_db, account, app, lines)
    else:
        assert ingest_items(empty_db, account, app, lines, T0).accepted == len(lines)

    assert upgrade(empty_db, new) == new and current_revision(empty_db) == new
    with empty_db.read() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar() == len(lines)
    upgrade(empty_db)  # today's code reads today's schema: the rest of the way, then read
    query = SessionQuery(where=SessionFilter(), page=Page(0, 100))
    page = sessions_page(empty_db, account, app, query, now_ms=T0 + 10**12, grace_ms=60_000)
    listed = {s.session_id: s for s in page.sessions}
    top_level = {k: v for k, v in expected["sessions"].items() if v["parent_session_id"] is None}
    assert page.total == len(top_level) and set(listed) == set(top_level)
    for session_id, session in listed.items():
        assert session.max_concurrent == top_level[session_id]["max_concurrent_participants"]
        participants = participants_page(
            empty_db, account, app, session_id, ParticipantQuery(page=Page(0, 200)), T0
        )
        want = top_level[session_id]["participants_joinedAt_asc"]
        assert [v.peer.peer_id for v in participants.participants] == [p["id"] for p in want]


FOLD_QUEUE = "0011"  # appends queue their events for a later fold from here on


def populate_as_a_server_before_the_fold_queue(
    db: Database, account: str, app: str, lines: list[bytes]
) -> None:
    """Before 0011 a server logged and folded each batch in one transaction: the same
    steps, the same rows, without a queue (which that schema does not have)."""
    from rtk_sessions.ingest.fold import fold_events
    from rtk_sessions.ingest.normalize import validate_items
    from rtk_sessions.store.apps import ensure_app
    from rtk_sessions.store.log import insert_new_events
    from rtk_sessions.store.rows import EventRow
    from rtk_sessions.store.writer import AppWriter

    batch = validate_items(lines)  # type: ignore[arg-type]
    assert batch.rejected == []
    rows = [
        EventRow(e.event_id, e.type, e.ts_ms, e.session_id, e.peer_id, e.payload, T0)
        for e in batch.events
    ]
    with db.write() as conn:
        app_pk = ensure_app(db, conn, account, app, T0)
        assert len(insert_new_events(db, conn, app_pk, rows)) == len(lines)
        writer = AppWriter(db, conn, app_pk)
        fold_events(writer, batch.events)
        writer.writes.apply(conn)


def test_concurrent_migrators_end_with_one_schema_at_head(empty_db: Database) -> None:
    """Four replicas start at once: one migrates, the others wait and find it done."""
    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            upgrade(empty_db)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert current_revision(empty_db) == head_revision()
    with empty_db.read() as conn:
        tables = set(inspect(conn).get_table_names())
    assert {"events", "sessions", "peers", "meetings", "apps", "api_tokens"} <= tables


def test_the_migrations_build_exactly_the_declared_schema(empty_db: Database) -> None:
    """Alembic's autogenerate finds nothing to add: tables.py and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from rtk_sessions.store.tables import metadata

    def declared(name, kind, _parent) -> bool:
        # the search index (0005) is dialect-specific DDL: an FTS5 table and its
        # shadow tables on SQLite, a pg_trgm GIN index on PostgreSQL
        return not (name or "").startswith(("sessions_search", "ix_sessions_search_text_trgm"))

    upgrade(empty_db)
    with empty_db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": declared})
        assert compare_metadata(context, metadata) == []


COMPACT_STATS = "0012"  # peer.stats leave the log for compact rows of their own


@pytest.mark.skipif(COMPACT_STATS not in revisions(), reason="no such revision")
def test_telemetry_moves_out_of_the_log_with_every_value(empty_db: Database) -> None:
    """A server at 0011 logged peer.stats events as received; after 0012 every sample
    reads back exactly (as the events' own JSON says, decoded here on its own), the
    peer report is still quality.md's worked example, and an event with a key the schema
    does not declare stays in the log as it came."""
    import msgspec

    from rtk_sessions.api.quality_cache import derive_quality
    from rtk_sessions.demo import generate_demo_events
    from rtk_sessions.ingest.events import StatsSample
    from rtk_sessions.ingest.stored import stats_samples
    from rtk_sessions.store.stats import load_stats
    from tests.api.test_peer_report import WORKED, at, call_events

    demo = generate_demo_events(datetime(2026, 12, 1, tzinfo=UTC), seed=3)
    demo_stats = [e for e in demo if e["type"] == "peer.stats"][:600]
    odd = {**call_events()[-1], "id": "odd-one", "ts": at(50), "vendor_note": "kept"}
    evented = [*call_events(), *demo_stats, odd]
    assert upgrade(empty_db, "0011") == "0011"
    lines = [msgspec.json.encode(e) for e in evented]
    populate_as_a_server_before_the_fold_queue(empty_db, "acc", "app", lines)

    assert upgrade(empty_db) == head_revision()
    with empty_db.read() as conn:
        logged = conn.execute(select(events.c.event_id).where(events.c.type == "peer.stats"))
        assert [event_id for (event_id,) in logged] == ["odd-one"]
        app_pk = conn.execute(select(events.c.app_pk).limit(1)).scalar()
    peers = sorted({e["peer_id"] for e in evented if e["type"] == "peer.stats"})
    stored = load_stats(empty_db, app_pk, peers)
    for peer_id in peers:
        sent = [s for e in evented if e.get("peer_id") == peer_id and e["type"] == "peer.stats"
                for s in e["samples"]]
        want = msgspec.json.decode(msgspec.json.encode(sent), type=list[StatsSample])
        got = stats_samples(stored[peer_id])
        assert sorted(map(msgspec.json.encode, got)) == sorted(map(msgspec.json.encode, want))
        assert stored[peer_id].version[0] == sum(
            1 for e in evented if e.get("peer_id") == peer_id and e["type"] == "peer.stats")

    report = derive_quality("ann", stored["ann"], 7.0, report=True)
    rows = msgspec.json.decode(report.quality)["audio_consumer"]  # type: ignore[arg-type]
    assert [r["timestamp"] for r in rows] == [at(t) for t, *_ in WORKED[1:]]
    assert [r.get("mos_quality", "absent") for r in rows] == [1.0, 0.64, 0.07, "absent", 1.0]
