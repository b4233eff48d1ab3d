"""Telemetry at rest on both databases (``store.stats``, ``ingest.telemetry``): each
peer.stats event a compact row, found again by its key; re-deliveries (one at a time
or at once from many writers) are duplicates; a key two events share, or keys the
schema does not declare, keep the event in the log as received; rows encoded against
each other across batches and processes read back whole; erasure and retention.

Expected samples are the events' own JSON decoded here (``sent_samples``), never what
the store hands back."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy import func, select

from rtk_sessions.clock import iso_ms
from rtk_sessions.ingest import telemetry
from rtk_sessions.ingest.events import StatsSample
from rtk_sessions.ingest.normalize import validate_items
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.ingest.stored import stats_samples
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.erasure import erase_user
from rtk_sessions.store.log import append
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.retention import DAY_MS, RetentionPolicy, purge
from rtk_sessions.store.stats import StatsAppendRaced, load_stats, stats_versions
from rtk_sessions.store.stats_codec import row_base
from rtk_sessions.store.tables import events, stats, stats_peers
from tests.databases import fresh_database_url
from tests.factories import SEC, T0, started, visit

ADDRESS = "203.0.113.7"


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    with fresh_database_url(backend, tmp_path) as url:
        database = Database(url)
        upgrade(database)
        yield database
        database.dispose()


def poll(peer_id: str, n: int, *, session_id: str | None = "s1", **extra) -> dict:
    """Poll ``n`` of a peer: an audio and a video track, counters that grow."""
    ts = iso_ms(T0 + 7 * SEC * n)
    pair = {"id": "CP1", "local_candidate_address": ADDRESS, "local_candidate_port": 5000,
            "remote_candidate_address": "198.51.100.2", "bytes_sent": 1000 * n}
    samples = [
        {"ts": ts, "kind": "audio", "direction": "producer", "ssrc": 11, "mid": "0",
         "packets_sent": 350 * n, "bytes_sent": 28_000 * n + n * n, "jitter": 0.001 * (n % 5),
         "round_trip_time": 0.05, "candidate_pair": pair},
        {"ts": ts, "kind": "video", "direction": "producer", "ssrc": 12, "mid": "1",
         "packets_sent": 900 * n + 3 * (n % 4), "bytes_sent": 700_000 * n,
         "frames_encoded": 30 * 7 * n, "frame_width": 640, "frame_height": 480,
         "frames_per_second": 30 - n % 3, "quality_limitation_reason": "none"},
    ]
    event = {"id": f"{peer_id}-poll-{n}", "type": "peer.stats", "ts": ts, "peer_id": peer_id,
             "samples": samples, **extra}
    if session_id is not None:
        event["session_id"] = session_id
    return event


def sent_samples(evented: list[dict]) -> list[bytes]:
    """The samples of distinct events, as the events' JSON says, comparable as a multiset."""
    unique = {e["id"]: e for e in evented}.values()
    samples = [s for e in unique for s in e["samples"]]
    decoded = msgspec.json.decode(msgspec.json.encode(samples), type=list[StatsSample])
    return sorted(map(msgspec.json.encode, decoded))


def read_back(db: Database, peer_id: str, app: str = "app") -> list[bytes]:
    stored = load_stats(db, app_key(db, "acc", app), [peer_id])[peer_id]  # type: ignore[arg-type]
    return sorted(map(msgspec.json.encode, stats_samples(stored)))


def version(db: Database, peer_id: str) -> tuple[int, int, int]:
    app_pk = app_key(db, "acc", "app")
    with db.snapshot() as reads:
        return stats_versions(reads, app_pk, [peer_id])[peer_id]  # type: ignore[arg-type]


def ingest(db: Database, evented: list[dict], now: int = T0, app: str = "app"):
    report = ingest_items(db, "acc", app, [msgspec.json.encode(e) for e in evented], now)
    assert report.rejected == []
    return report


def rows_of(db: Database) -> list[tuple[int, bytes]]:
    with db.read() as conn:
        return [(h1, bytes(data)) for h1, data in conn.execute(select(stats.c.h1, stats.c.data))]


def logged_stats(db: Database) -> list[str]:
    with db.read() as conn:
        found = conn.execute(select(events.c.event_id).where(events.c.type == "peer.stats"))
        return sorted(event_id for (event_id,) in found)


def test_each_event_a_compact_row_encoded_against_the_one_before(db: Database) -> None:
    polls = [poll("ann", n) for n in range(1, 31)]
    for batch in (polls[:10], polls[10:25], polls[25:]):
        assert ingest(db, batch).accepted == len(batch)
    rows = rows_of(db)
    assert len(rows) == 30 and logged_stats(db) == []
    assert sum(row_base(data) is None for _, data in rows) == 1  # only the very first
    assert read_back(db, "ann") == sent_samples(polls)
    assert sum(len(data) for _, data in rows) / 60 < 64  # bytes a sample, at most


def test_a_redelivery_is_a_duplicate(db: Database) -> None:
    polls = [poll("ann", n) for n in range(1, 6)]
    ingest(db, polls)
    again = ingest(db, [polls[2], polls[4], poll("ann", 6)])
    assert (again.accepted, again.duplicates) == (1, 2)
    assert len(rows_of(db)) == 6
    assert read_back(db, "ann") == sent_samples([*polls, poll("ann", 6)])


def test_a_new_process_starts_each_peer_afresh(db: Database) -> None:
    """Another process (another Database, no remembered rows) stores the same peer: its
    first row has no base, and both runs read back together."""
    ingest(db, [poll("ann", n) for n in range(1, 4)])
    other = Database(db.url)
    try:
        ingest(other, [poll("ann", n) for n in range(4, 8)])
        ingest(db, [poll("ann", n) for n in range(8, 10)])  # goes on from its own poll 3
    finally:
        other.dispose()
    bases = {h1: row_base(data) for h1, data in rows_of(db)}
    key = {n: telemetry.event_id_hashes(f"ann-poll-{n}")[0] for n in range(1, 10)}
    assert [n for n in key if bases[key[n]] is None] == [1, 4]
    assert bases[key[8]] == key[3]
    assert read_back(db, "ann") == sent_samples([poll("ann", n) for n in range(1, 10)])


def shared_key(event_id: str) -> tuple[int, int]:
    """The key hashes, with the ids ending in -7 and -8 sharing h1 (a collision, which
    no real pair of ids is known to make), told apart by h2."""
    h1, h2 = real_hashes(event_id)
    if event_id.endswith(("-7", "-8")):
        return 4242, h2
    return h1, h2


real_hashes = telemetry.event_id_hashes


def test_an_event_whose_key_is_taken_stays_in_the_log(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "event_id_hashes", shared_key)
    polls = [poll("ann", n) for n in range(1, 10)]
    assert ingest(db, polls[:7]).accepted == 7  # ann-poll-7 takes the key
    assert ingest(db, polls[7:]).accepted == 2  # ann-poll-8 finds it taken
    assert logged_stats(db) == ["ann-poll-8"] and len(rows_of(db)) == 8
    again = ingest(db, [polls[6], polls[7]])  # both again: both duplicates
    assert (again.accepted, again.duplicates) == (0, 2)
    assert read_back(db, "ann") == sent_samples(polls)
    assert version(db, "ann")[0] == 9


def test_keys_the_schema_does_not_declare_keep_the_event_as_received(db: Database) -> None:
    polls = [poll("ann", 1), poll("ann", 2, vendor={"x": 1}), poll("ann", 3)]
    ingest(db, polls)
    assert logged_stats(db) == ["ann-poll-2"]
    with db.read() as conn:
        payload = conn.execute(select(events.c.payload)).scalars().all()
    assert [msgspec.json.decode(p).get("vendor") for p in payload] == [{"x": 1}]
    assert read_back(db, "ann") == sent_samples(polls)
    assert ingest(db, [polls[1]]).duplicates == 1


def test_an_append_that_raced_a_redelivery(db: Database) -> None:
    """Rows prepared before another writer stored one of the same events (poll 3): a row
    encoded against this writer's copy of it (poll 4) cannot be stored (the stored copy
    may be encoded otherwise), so the append stores nothing; prepared again it stores the
    two others. Rows encoded each on their own leave poll 3 out and store the rest."""
    ingest(db, [poll("ann", 1)])
    batch = [poll("ann", 2), poll("ann", 3), poll("ann", 4)]
    items = validate_items([msgspec.json.encode(e) for e in batch]).events
    app_pk = app_key(db, "acc", "app")
    chained = telemetry.prepare_stats(db, app_pk, items, T0)
    unchained = telemetry.prepare_stats(db, app_pk, items, T0, chained=False)
    assert [row_base(r.data) for r in unchained.rows] == [None, None, None]
    assert ingest(Database(db.url), [batch[1]]).accepted == 1  # another process, in between
    with pytest.raises(StatsAppendRaced):
        append(db, "acc", "app", [], chained.rows, T0)
    assert len(rows_of(db)) == 2
    appended = append(db, "acc", "app", [], unchained.rows, T0)
    assert appended.stats.keys == {unchained.keys[e["id"]] for e in (batch[0], batch[2])}
    assert len(rows_of(db)) == 4
    assert version(db, "ann")[0] == 4  # poll 3 counted once
    assert ingest(db, batch).duplicates == 3
    assert read_back(db, "ann") == sent_samples([poll("ann", n) for n in (1, 2, 3, 4)])


def test_an_append_that_raced_another_event_with_its_key_is_rolled_back(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another event stored under the same key meanwhile (a 64-bit collision, forced
    here): nothing of the batch is stored; prepared again, the event is kept as received."""
    ingest(db, [poll("ann", 1)])
    batch = [poll("ann", 2), poll("ann", 3)]
    items = validate_items([msgspec.json.encode(e) for e in batch]).events
    prepared = telemetry.prepare_stats(db, app_key(db, "acc", "app"), items, T0)
    real = telemetry.event_id_hashes
    clash = real(batch[1]["id"])[0]
    monkeypatch.setattr(
        telemetry,
        "event_id_hashes",
        lambda event_id: (clash, 7) if event_id == "intruder" else real(event_id),
    )
    assert ingest(Database(db.url), [dict(poll("bob", 1), id="intruder")]).accepted == 1
    with pytest.raises(StatsAppendRaced):
        append(db, "acc", "app", [], prepared.rows, T0)
    assert len(rows_of(db)) == 2
    assert ingest(db, batch).accepted == 2
    assert read_back(db, "ann") == sent_samples([poll("ann", n) for n in (1, 2, 3)])


def test_writers_redelivering_the_same_events_at_once(db: Database) -> None:
    """Four writers (own connections, own remembered rows) store the same 3 peers' events
    in batches of their own order at once: every event stored once, all read back."""
    evented = [poll(peer, n) for peer in ("ann", "bob", "cy") for n in range(1, 41)]
    errors: list[BaseException] = []
    accepted = []

    def writer(seed: int) -> None:
        own = Database(db.url)
        try:
            order = evented[:]
            random.Random(seed).shuffle(order)
            for at in range(0, len(order), 15):
                accepted.append(ingest(own, order[at : at + 15]).accepted)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    assert sum(accepted) == len(evented) == len(rows_of(db))
    for peer in ("ann", "bob", "cy"):
        assert read_back(db, peer) == sent_samples([e for e in evented if e["peer_id"] == peer])


def test_erasure_removes_the_addresses_and_keeps_every_other_value(db: Database) -> None:
    calls = [started("s1", "m1", T0), *visit("s1", "ann", T0, None, user_id="u-ann")]
    polls = [poll("ann", n) for n in range(1, 13)]
    ingest(db, calls + polls[:8])
    ingest(db, polls[8:])
    app_pk = app_key(db, "acc", "app")
    before = version(db, "ann")
    assert erase_user(db, app_pk, "u-ann", T0 + 60 * SEC).peers == 1  # type: ignore[arg-type]
    assert version(db, "ann") != before  # what was derived from the rows is derived again
    assert all(ADDRESS.encode() not in data for _, data in rows_of(db))
    scrubbed = []
    for event in polls:
        for sample in event["samples"]:
            if "candidate_pair" in sample:
                sample["candidate_pair"] = {k: v for k, v in sample["candidate_pair"].items()
                                            if not k.endswith("_address")}
        scrubbed.append(event)
    assert read_back(db, "ann") == sent_samples(scrubbed)
    later = poll("ann", 13)  # a poll after the erasure keeps what it says
    ingest(db, [later])
    assert read_back(db, "ann") == sent_samples([*scrubbed, poll("ann", 13)])


def test_retention_removes_a_peer_whose_latest_sample_is_past_it(db: Database) -> None:
    ingest(db, [poll("old", n) for n in range(1, 5)] + [poll("new", 1)])
    ingest(db, [poll("new", 1_000_000)])  # ~81 days later
    report = purge(db, RetentionPolicy(telemetry=30), T0 + 90 * DAY_MS)
    assert report.purged["telemetry"] == 4
    with db.read() as conn:
        peers = conn.execute(select(stats_peers.c.peer_id)).scalars().all()
        assert sorted(peers) == ["new"]
        assert conn.execute(select(func.count()).select_from(stats)).scalar() == 2
    assert read_back(db, "new") == sent_samples([poll("new", 1), poll("new", 1_000_000)])
