"""bench/generate.py: a small data set is deterministic, valid and shaped as described."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import select

from rtk_sessions.ingest.normalize import validate_items
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.tables import apps

SESSIONS = 300
_PATH = Path(__file__).resolve().parents[2] / "bench" / "generate.py"
_SPEC = importlib.util.spec_from_file_location("bench_generate", _PATH)
generate_module = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(generate_module)


@pytest.fixture(scope="module")
def lines() -> list[bytes]:
    return list(generate_module.generate(SESSIONS, seed=5, telemetry_every=100))


@pytest.fixture(scope="module")
def events(lines: list[bytes]) -> list[dict]:
    return [msgspec.json.decode(line) for line in lines]


def test_same_seed_same_bytes_other_seed_other_bytes(lines: list[bytes]) -> None:
    assert list(generate_module.generate(SESSIONS, seed=5, telemetry_every=100)) == lines
    assert list(generate_module.generate(SESSIONS, seed=6, telemetry_every=100)) != lines


def test_every_line_validates_and_ids_are_unique(lines: list[bytes], events: list[dict]) -> None:
    batch = validate_items(lines)
    assert batch.rejected == []
    assert batch.duplicates_in_batch == 0
    assert len({e["id"] for e in events}) == len(events)
    assert all(not line.endswith(b"\n") for line in lines)


def test_sessions_rooms_and_peers(events: list[dict]) -> None:
    starts = [e for e in events if e["type"] == "session.started"]
    top_level = [e for e in starts if "parent_session_id" not in e]
    rooms = [e for e in starts if "parent_session_id" in e]
    assert len(top_level) == SESSIONS
    assert 0 < len({r["parent_session_id"] for r in rooms}) < SESSIONS * 0.1
    peers = [e for e in events if e["type"] == "peer.joined"]
    assert 3.5 <= len(peers) / SESSIONS <= 7
    meetings = [e for e in events if e["type"] == "meeting.upserted"]
    assert len(meetings) == SESSIONS // 20
    assert {s["meeting_id"] for s in starts} == {m["meeting_id"] for m in meetings}


def test_some_users_rejoin(events: list[dict]) -> None:
    per_session = Counter(
        (e["session_id"], e["user_id"]) for e in events if e["type"] == "peer.joined"
    )
    rejoins = sum(1 for count in per_session.values() if count > 1)
    assert 0.03 < rejoins / len(per_session) < 0.2


def test_some_sessions_carry_telemetry(events: list[dict]) -> None:
    kinds = Counter(e["type"] for e in events)
    for kind in ("peer.metadata", "peer.stats", "chat.message", "transcript.segment"):
        assert kinds[kind] > 0, kind
    sample = next(e for e in events if e["type"] == "peer.stats")["samples"][0]
    assert {"kind", "direction", "ssrc", "packets_sent", "jitter", "round_trip_time"} <= set(sample)


def test_the_last_sessions_are_live(events: list[dict]) -> None:
    top_level = [
        e["session_id"]
        for e in events
        if e["type"] == "session.started" and "parent_session_id" not in e
    ]
    ended = {e["session_id"] for e in events if e["type"] == "session.ended"}
    live = [s for s in top_level if s not in ended]
    assert live and live == top_level[-len(live) :]


def test_timestamps_never_go_back_within_a_session(events: list[dict]) -> None:
    last: dict[str, str] = {}
    peers_session = {e["peer_id"]: e["session_id"] for e in events if e["type"] == "peer.joined"}
    for e in events:
        session = e.get("session_id") or peers_session.get(e.get("peer_id"))
        if session is None:
            continue
        assert e["ts"].endswith("Z") and len(e["ts"]) == 24, e["ts"]
        assert e["ts"] >= last.get(session, ""), e
        last[session] = e["ts"]


def test_sessions_come_in_start_order(events: list[dict]) -> None:
    starts = [
        e["ts"] for e in events if e["type"] == "session.started" and "parent_session_id" not in e
    ]
    assert starts == sorted(starts)


def test_loaded_sessions_list_counts_every_top_level_session(
    tmp_path: Path, lines: list[bytes], events: list[dict]
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'generated.db'}")
    upgrade(db)
    accepted = 0
    for start in range(0, len(lines), 5_000):
        report = ingest_items(db, "bench", "app0", lines[start : start + 5_000], 2 * 10**12)
        assert report.rejected == []
        accepted += report.accepted
    readable_app(db, "bench", "app0")  # as a read path does: the queue folded first
    with db.read() as conn:
        listed = conn.execute(select(apps.c.listed_sessions)).scalar_one()
    db.dispose()
    assert accepted == len(lines)
    top_level = {
        e["session_id"]
        for e in events
        if e["type"] == "session.started" and "parent_session_id" not in e
    }
    assert listed == len(top_level) == SESSIONS
