"""Retention on both databases: each kind purged past its age and nothing else, whole
sessions with everything hanging off them, list totals exact afterwards, and the
periodic job queued once however many workers ask."""

from __future__ import annotations

import msgspec
from sqlalchemy import func, select

from rtk_sessions.clock import iso_ms
from rtk_sessions.config import Settings
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.jobs.worker import Worker
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.jobs import SummaryRow
from rtk_sessions.store.retention import DAY_MS, RetentionPolicy, purge
from rtk_sessions.store.sessions import Page, SessionFilter, SessionQuery, sessions_page
from rtk_sessions.store.tables import (
    apps,
    events,
    jobs,
    peers,
    sessions,
    stats,
    stats_inbox,
    stats_peers,
    summaries,
)
from tests.factories import MIN, SEC, T0, chat_message, ended, started, transcript_segment, visit

NOW = T0 + 200 * DAY_MS
RECENT = NOW - DAY_MS


def call(sid: str, start: int, *, parent: str | None = None, still_in: bool = False) -> list:
    peer = f"{sid}-p"
    out = [started(sid, f"m-{sid}", start, parent=parent)]
    out += visit(sid, peer, start, None if still_in else start + 10 * MIN, user_id=f"u-{sid}")
    out += [
        {"id": f"md-{sid}", "type": "peer.metadata", "ts": iso_ms(start + SEC), "peer_id": peer,
         "ip": "203.0.113.9", "user_agent": "UA"},
        {"id": f"st-{sid}", "type": "peer.stats", "ts": iso_ms(start + 30 * SEC),
         "peer_id": peer, "samples": [{"ts": iso_ms(start + 7 * SEC), "kind": "audio",
                                        "direction": "producer", "packets_sent": 10}]},
        chat_message(sid, peer, start + 2 * SEC, f"c-{sid}", "hello"),
        transcript_segment(sid, peer, start + 3 * SEC, 0, 1_000, "hello world"),
    ]
    if not still_in and parent is None:
        out.append(ended(sid, start + 10 * MIN))
    return out


def load(db: Database) -> int:
    scenario = [*call("old-1", T0), *call("old-1-room", T0 + MIN, parent="old-1"),
                *call("old-2", T0 + 2 * MIN), *call("old-live", T0 + 3 * MIN, still_in=True),
                *call("new-1", RECENT)]
    report = ingest_items(db, "acc", "app", [msgspec.json.encode(e) for e in scenario], NOW)
    assert report.rejected == []
    app_pk = app_key(db, "acc", "app")
    with db.write() as conn:
        for sid, created in (("old-1", T0 + DAY_MS), ("new-1", RECENT)):
            conn.execute(summaries.insert().values(
                app_pk=app_pk, **msgspec.structs.asdict(SummaryRow(
                    session_id=sid, text="s", text_format="plain_text", params="{}",
                    transcript_version="", job_id=1, created_ms=created))))
    return app_pk


def count(db: Database, table, **where) -> int:
    query = select(func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column].in_(value) if isinstance(value, list)
                            else table.c[column] == value)
    with db.read() as conn:
        return conn.execute(query).scalar_one()


def listed_ids(db: Database, app_pk: int) -> tuple[list[str], int]:
    page = sessions_page(db, "acc", "app", SessionQuery(where=SessionFilter(),
                                                        page=Page(0, 100)),
                         now_ms=NOW, grace_ms=60_000)
    return sorted(s.session_id for s in page.sessions), page.total


def test_whole_sessions_go_with_everything_and_totals_stay_exact(database: Database):
    app_pk = load(database)
    old = ["old-1", "old-1-room", "old-2"]
    old_peers = [f"{sid}-p" for sid in old]

    report = purge(database, RetentionPolicy(sessions=180), NOW, batch=20)

    assert report.purged["sessions"] == 2  # old-1 (with its room) and old-2
    assert count(database, sessions, session_id=old) == 0
    assert count(database, peers, session_id=old) == 0
    assert count(database, events, session_id=old) == 0
    assert count(database, events, peer_id=old_peers) == 0  # metadata too
    assert count(database, stats_peers, peer_id=old_peers) == 0  # and telemetry
    assert count(database, summaries, session_id="old-1") == 0
    ids, total = listed_ids(database, app_pk)
    assert ids == ["new-1", "old-live"]  # someone is still in old-live: kept
    assert total == 2
    with database.read() as conn:
        kept = conn.execute(select(apps.c.listed_sessions).where(apps.c.app_pk == app_pk))
        assert kept.scalar_one() == 2
    assert count(database, events, session_id="new-1") > 0
    assert purge(database, RetentionPolicy(sessions=180), NOW).purged["sessions"] == 0


def test_each_kind_of_event_goes_past_its_own_age_and_nothing_else(database: Database):
    app_pk = load(database)
    before = {kind: count(database, events, type=kind)
              for kind in ("session.started", "peer.joined", "peer.left", "session.ended")}

    report = purge(database, RetentionPolicy(telemetry=30, chat=30, transcripts=30,
                                             peer_metadata=30), NOW, batch=2)

    assert report.purged == {"telemetry": 4, "chat": 4, "transcripts": 4, "peer_metadata": 4,
                             "sessions": 0}
    assert report.summaries == 1
    # telemetry is stored compactly (stats), a peer's at a time: only new-1's peer's is left
    with database.read() as conn:
        left_stats = conn.execute(select(stats_peers.c.peer_id, stats_peers.c.rows)).all()
    assert [(peer_id, n) for peer_id, n in left_stats] == [("new-1-p", 1)]
    assert count(database, stats) + count(database, stats_inbox) == 1  # compacted or not yet
    for kind in ("chat.message", "transcript.segment", "peer.metadata"):
        assert count(database, events, type=kind) == 1  # new-1's
        with database.read() as conn:
            left = conn.execute(select(events.c.session_id, events.c.peer_id)
                                .where(events.c.type == kind)).one()
        assert "new-1" in (left.session_id or left.peer_id)
    for kind, n in before.items():
        assert count(database, events, type=kind) == n  # lifecycle untouched
    assert count(database, summaries) == 1 and count(database, summaries, session_id="new-1") == 1
    assert listed_ids(database, app_pk)[1] == 5 - 1  # every session still listed (no room)


def test_the_retention_job_is_queued_once_and_purges(database: Database, database_url: str):
    load(database)
    settings = Settings(database_url=database_url, retain_chat_days=30)
    workers = [Worker(database, settings, clock=lambda: NOW) for _ in range(3)]
    for worker in workers:
        worker.schedule()  # three workers, one job
    assert count(database, jobs, kind="retention") == 1
    purged_before = _purged_metric("chat")
    assert workers[0].run_once() is not None
    assert _purged_metric("chat") - purged_before == 4  # counted for Prometheus
    with database.read() as conn:
        status = conn.execute(select(jobs.c.status).where(jobs.c.kind == "retention")).scalar()
    assert status == "done"
    assert count(database, events, type="chat.message") == 1
    workers[0].schedule()  # not due again before the interval
    assert count(database, jobs, kind="retention") == 1
    idle = Worker(database, Settings(database_url=database_url), clock=lambda: NOW)
    idle.schedule()  # no retention set: nothing queued
    assert count(database, jobs, kind="retention") == 1


def _purged_metric(kind: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("rtk_retention_purged_total", {"kind": kind}) or 0.0
