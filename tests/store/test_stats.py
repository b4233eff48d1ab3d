"""Telemetry at rest on both databases (``store.stats``, ``store.stats_compact``,
``ingest.telemetry``): each peer.stats event appended to the inbox as received, then
compacted by the folder into a row encoded against the one before; read back whole
either way; re-deliveries (one at a time or at once from many writers, beside a
compacting folder) are duplicates wherever the event is; a key two events share, or
keys the schema does not declare, keep the event in the log as received; a compaction
that raced a change of its rows is rolled back; erasure and retention.

Expected samples are the events' own JSON decoded here (``sent_samples``), never what
the store hands back."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from sqlalchemy import bindparam, func, select

from rtk_sessions.clock import iso_ms
from rtk_sessions.ingest import telemetry
from rtk_sessions.ingest.events import StatsSample
from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.ingest.stored import stats_samples
from rtk_sessions.jobs.folder import fold_round
from rtk_sessions.store import stats_compact
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.erasure import erase_user
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.prepared import Prepared
from rtk_sessions.store.retention import DAY_MS, RetentionPolicy, purge
from rtk_sessions.store.stats import load_stats, pending_json, stats_versions
from rtk_sessions.store.stats_codec import row_base
from rtk_sessions.store.tables import events, stats, stats_inbox, stats_peers
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


def inbox_of(db: Database) -> list[bytes]:
    """The inbox rows' events, as JSON."""
    with db.read() as conn:
        return [pending_json(d) for d in conn.execute(select(stats_inbox.c.data)).scalars()]


def compacted_count() -> float:
    return REGISTRY.get_sample_value("rtk_compacted_stats_events_total") or 0.0


def compacted(db: Database) -> int:
    """What the background folder does: rounds until nothing is left; the events."""
    done = 0
    while moved := fold_round(db):
        done += moved
    return done


def test_appended_as_received_then_compacted_each_row_against_the_one_before(
    db: Database,
) -> None:
    polls = [poll("ann", n) for n in range(1, 31)]
    for batch in (polls[:10], polls[10:25], polls[25:]):
        assert ingest(db, batch).accepted == len(batch)
        assert len(inbox_of(db)) == len(batch)  # the append encodes nothing
        assert read_back(db, "ann") == sent_samples(polls[: polls.index(batch[-1]) + 1])
        before, counted = version(db, "ann"), compacted_count()
        assert compacted(db) == len(batch)
        assert inbox_of(db) == [] and version(db, "ann") == before  # the same samples
        assert compacted_count() - counted == len(batch)  # rtk_compacted_stats_events_total
    rows = rows_of(db)
    assert len(rows) == 30 and logged_stats(db) == []
    assert sum(row_base(data) is None for _, data in rows) == 1  # only the very first
    assert read_back(db, "ann") == sent_samples(polls)
    assert sum(len(data) for _, data in rows) / 60 < 64  # bytes a sample, at most


def test_a_peer_read_while_part_of_it_waits_in_the_inbox(db: Database) -> None:
    polls = [poll("ann", n) for n in range(1, 9)]
    ingest(db, polls[:5])
    compacted(db)
    ingest(db, polls[5:])
    assert len(rows_of(db)) == 5 and len(inbox_of(db)) == 3
    assert read_back(db, "ann") == sent_samples(polls)
    assert version(db, "ann")[0] == 8


def test_a_redelivery_is_a_duplicate_in_the_inbox_and_once_compacted(db: Database) -> None:
    polls = [poll("ann", n) for n in range(1, 6)]
    ingest(db, polls[:3])
    compacted(db)
    ingest(db, polls[3:])
    again = ingest(db, [polls[1], polls[4], poll("ann", 6)])  # compact, inbox, new
    assert (again.accepted, again.duplicates) == (1, 2)
    assert len(rows_of(db)) + len(inbox_of(db)) == 6
    compacted(db)
    assert ingest(db, polls).duplicates == 5
    assert len(rows_of(db)) == 6 and inbox_of(db) == []
    assert read_back(db, "ann") == sent_samples([*polls, poll("ann", 6)])
    assert version(db, "ann")[0] == 6


def test_a_new_process_compacts_each_peer_afresh(db: Database) -> None:
    """Another process (another Database, no remembered rows) compacts the same peer's
    later events: its first row has no base; the first process goes on from its own last
    row, still stored; all read back together."""
    ingest(db, [poll("ann", n) for n in range(1, 4)])
    compacted(db)
    other = Database(db.url)
    try:
        ingest(other, [poll("ann", n) for n in range(4, 8)])
        compacted(other)
    finally:
        other.dispose()
    ingest(db, [poll("ann", n) for n in range(8, 10)])
    compacted(db)
    bases = {h1: row_base(data) for h1, data in rows_of(db)}
    key = {n: telemetry.event_id_hashes(f"ann-poll-{n}")[0] for n in range(1, 10)}
    assert [n for n in key if bases[key[n]] is None] == [1, 4]
    assert bases[key[8]] == key[3]
    assert read_back(db, "ann") == sent_samples([poll("ann", n) for n in range(1, 10)])


def shared_key(event_id: str) -> tuple[int, int]:
    """The key hashes, with the ids ending in -7, -8 and -9 sharing h1 (a collision,
    which no real pair of ids is known to make), told apart by h2."""
    h1, h2 = real_hashes(event_id)
    if event_id.endswith(("-7", "-8", "-9")):
        return 4242, h2
    return h1, h2


real_hashes = telemetry.event_id_hashes


def test_an_event_whose_key_is_taken_stays_in_the_log(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poll 7 takes the key; poll 8 finds it in the inbox, poll 9 (the same batch) too,
    and once poll 7 is compacted, its re-delivery and theirs are duplicates."""
    monkeypatch.setattr(telemetry, "event_id_hashes", shared_key)
    polls = [poll("ann", n) for n in range(1, 10)]
    assert ingest(db, polls[:7]).accepted == 7
    assert ingest(db, polls[7:]).accepted == 2
    assert logged_stats(db) == ["ann-poll-8", "ann-poll-9"]
    compacted(db)
    assert len(rows_of(db)) == 7
    again = ingest(db, polls[6:])  # all three again: duplicates
    assert (again.accepted, again.duplicates) == (0, 3)
    assert read_back(db, "ann") == sent_samples(polls)
    assert version(db, "ann")[0] == 9


def test_two_events_of_one_batch_sharing_a_key(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telemetry, "event_id_hashes", shared_key)
    polls = [poll("ann", n) for n in range(6, 10)]
    assert ingest(db, polls).accepted == 4
    assert logged_stats(db) == ["ann-poll-8", "ann-poll-9"] and len(inbox_of(db)) == 2
    assert read_back(db, "ann") == sent_samples(polls)


def test_keys_the_schema_does_not_declare_keep_the_event_as_received(db: Database) -> None:
    polls = [poll("ann", 1), poll("ann", 2, vendor={"x": 1}), poll("ann", 3)]
    ingest(db, polls)
    compacted(db)
    assert logged_stats(db) == ["ann-poll-2"]
    with db.read() as conn:
        payload = conn.execute(select(events.c.payload)).scalars().all()
    assert [msgspec.json.decode(p).get("vendor") for p in payload] == [{"x": 1}]
    assert read_back(db, "ann") == sent_samples(polls)
    assert ingest(db, [polls[1]]).duplicates == 1


def test_writers_redelivering_the_same_events_at_once_beside_a_folder(db: Database) -> None:
    """Four writers (own connections) store the same 3 peers' events in batches of
    their own order at once, while a folder of yet another process compacts: every
    event stored once, all read back."""
    evented = [poll(peer, n) for peer in ("ann", "bob", "cy") for n in range(1, 41)]
    errors: list[BaseException] = []
    accepted = []
    writing = threading.Event()

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

    def folder() -> None:
        own = Database(db.url)
        try:
            while not writing.is_set():
                compacted(own)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    folding = threading.Thread(target=folder)
    folding.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    writing.set()
    folding.join(timeout=300)
    assert errors == []
    assert sum(accepted) == len(evented)
    compacted(db)
    assert len(rows_of(db)) == len(evented) and inbox_of(db) == []
    for peer in ("ann", "bob", "cy"):
        assert read_back(db, peer) == sent_samples([e for e in evented if e["peer_id"] == peer])
        assert version(db, peer)[0] == 40


def test_a_compaction_whose_rows_changed_meanwhile_is_rolled_back(db: Database) -> None:
    """Worked out, then retention took the peer's rows: it commits nothing and the
    next round finds nothing to do; worked out against a row since rewritten (erasure):
    nothing either, and worked out again it reads back whole."""
    ingest(db, [poll("old", n) for n in range(1, 4)])
    app_pk = app_key(db, "acc", "app")
    with db.read() as conn:
        stale = stats_compact._plan(db, conn, app_pk, max_events=100)  # noqa: SLF001
    purge(db, RetentionPolicy(telemetry=30), T0 + 90 * DAY_MS)
    with pytest.raises(stats_compact._Changed), db.write() as conn:  # noqa: SLF001
        stats_compact._commit(db, conn, app_pk, stale)  # type: ignore[arg-type]  # noqa: SLF001
    assert rows_of(db) == [] and inbox_of(db) == [] and compacted(db) == 0

    calls = [started("s1", "m1", T0), *visit("s1", "ann", T0, None, user_id="u-ann")]
    ingest(db, calls + [poll("ann", n) for n in range(1, 4)])
    compacted(db)
    ingest(db, [poll("ann", 4)])
    with db.read() as conn:
        stale = stats_compact._plan(db, conn, app_pk, max_events=100)  # noqa: SLF001
    assert stale is not None and stale.bases  # poll 4 against poll 3
    erase_user(db, app_pk, "u-ann", T0 + 60 * SEC)  # type: ignore[arg-type]
    with pytest.raises(stats_compact._Changed), db.write() as conn:  # noqa: SLF001
        stats_compact._commit(db, conn, app_pk, stale)  # noqa: SLF001
    assert inbox_of(db) == []  # the erasure compacted poll 4 itself, then scrubbed it
    assert all(ADDRESS.encode() not in data for _, data in rows_of(db))


def test_erasure_removes_the_addresses_and_keeps_every_other_value(db: Database) -> None:
    calls = [started("s1", "m1", T0), *visit("s1", "ann", T0, None, user_id="u-ann")]
    polls = [poll("ann", n) for n in range(1, 13)]
    ingest(db, calls + polls[:8])
    compacted(db)
    ingest(db, polls[8:])  # these wait in the inbox
    app_pk = app_key(db, "acc", "app")
    before = version(db, "ann")
    assert erase_user(db, app_pk, "u-ann", T0 + 60 * SEC).peers == 1  # type: ignore[arg-type]
    assert version(db, "ann") != before  # what was derived from the rows is derived again
    assert all(ADDRESS.encode() not in data for _, data in rows_of(db))
    assert all(ADDRESS.encode() not in event for event in inbox_of(db))
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
    compacted(db)
    assert read_back(db, "ann") == sent_samples([*scrubbed, poll("ann", 13)])


def test_retention_removes_a_peer_whose_latest_sample_is_past_it(db: Database) -> None:
    ingest(db, [poll("old", n) for n in range(1, 5)] + [poll("new", 1)])
    compacted(db)
    ingest(db, [poll("old", 5), poll("new", 1_000_000)])  # ~81 days later; in the inbox
    ingest(db, [poll("old", 6)])
    report = purge(db, RetentionPolicy(telemetry=30), T0 + 90 * DAY_MS)
    assert report.purged["telemetry"] == 6
    with db.read() as conn:
        peers = conn.execute(select(stats_peers.c.peer_id)).scalars().all()
        assert sorted(peers) == ["new"]
        assert conn.execute(select(func.count()).select_from(stats)).scalar() == 1
    assert len(inbox_of(db)) == 1
    assert read_back(db, "new") == sent_samples([poll("new", 1), poll("new", 1_000_000)])


def inbox_bytes(db: Database) -> int:
    """What the inbox takes: on PostgreSQL its relation with TOAST and indexes; on SQLite
    the pages in use in the file (freed ones are reused by the next rows)."""
    with db.read() as conn:
        if db.is_sqlite:
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar_one()
            return (pages - free) * conn.exec_driver_sql("PRAGMA page_size").scalar_one()
        return conn.exec_driver_sql("SELECT pg_total_relation_size('stats_inbox')").scalar_one()


def test_the_inbox_space_is_reused_round_after_round(db: Database) -> None:
    """Appended and compacted five times over: the inbox holds no more than after the
    first round (without the folder's vacuum, PostgreSQL's would hold all five)."""
    sizes = []
    for round_ in range(5):
        ingest(db, [poll(f"p{n}", round_ + 1) for n in range(60)])
        assert compacted(db) == 60
        sizes.append(inbox_bytes(db))
    assert sizes[-1] <= sizes[0] * 1.5, sizes
    assert len(rows_of(db)) == 300


def test_an_inbox_event_todays_schema_refuses_goes_to_the_log_as_received(
    db: Database,
) -> None:
    """An event appended when the schema was looser (a key since refused, here put in the
    inbox directly) is kept in the log as received when its turn comes, and the events
    behind it are compacted: it does not hold the queue up."""
    ingest(db, [poll("ann", 1)])
    loose = poll("ann", 2, vendor={"x": 1})
    with db.write() as conn:
        key = conn.execute(select(stats_peers.c.peer_key)).scalar_one()
        h1, h2 = real_hashes(loose["id"])
        conn.execute(stats_inbox.insert().values(
            app_pk=app_key(db, "acc", "app"), peer_key=key, h1=h1, h2=h2,
            data=msgspec.json.encode(loose)))
    ingest(db, [poll("ann", 3)])
    assert compacted(db) == 3
    assert inbox_of(db) == [] and len(rows_of(db)) == 2
    assert logged_stats(db) == ["ann-poll-2"]
    assert read_back(db, "ann") == sent_samples([poll("ann", 1), loose, poll("ann", 3)])


_APPS = itertools.count()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    operations=st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(1, 8)),
            st.tuples(st.just("compact"), st.integers(1, 5)),
            st.tuples(st.just("read"), st.just(0)),
        ),
        min_size=1,
        max_size=20,
    ),
    seed=st.integers(0, 10**6),
)
def test_any_interleaving_of_appends_compactions_and_reads(db, operations, seed) -> None:
    """Two peers' polls (shuffled, some sent twice) appended in batches, compacted a few at
    a time and read, in any order: every read gives back exactly the distinct polls
    acknowledged before it, and the end holds each poll once, compact."""
    rnd = random.Random(seed)
    polls = [poll(peer, n) for peer in ("ann", "bob") for n in range(1, 13)]
    stream = polls + rnd.sample(polls, 5)
    rnd.shuffle(stream)
    app = f"mix-{next(_APPS)}"  # one database for every example: an app each
    sent = 0
    for kind, size in operations:
        if kind == "append" and sent < len(stream):
            ingest(db, stream[sent : sent + size], app=app)
            sent = min(len(stream), sent + size)
        elif kind == "compact" and sent:
            stats_compact.compact_pending(db, app_key(db, "acc", app), max_events=size)
        elif kind == "read" and sent:
            for peer in ("ann", "bob"):
                acknowledged = [e for e in stream[:sent] if e["peer_id"] == peer]
                if acknowledged:
                    assert read_back(db, peer, app) == sent_samples(acknowledged)
    ingest(db, stream[sent:], app=app)
    while stats_compact.compact_pending(db, app_key(db, "acc", app)):
        pass
    for peer in ("ann", "bob"):
        assert read_back(db, peer, app) == sent_samples([e for e in polls if e["peer_id"] == peer])
    app_pk = app_key(db, "acc", app)
    with db.read() as conn:
        kept = conn.execute(
            select(func.count()).select_from(stats).where(stats.c.app_pk == app_pk)
        ).scalar_one()
        waiting = conn.execute(
            select(func.count()).select_from(stats_inbox).where(stats_inbox.c.app_pk == app_pk)
        ).scalar_one()
    assert (kept, waiting) == (len(polls), 0)


def test_a_read_sees_a_peer_whole_while_a_compaction_commits(db: Database) -> None:
    """A snapshot sees every statement as of its first: a compaction that moves a peer's
    events from the inbox to compact rows between two of a read's statements leaves
    them seen once, not in neither (PostgreSQL's read committed would)."""
    polls = [poll("ann", n) for n in range(1, 6)]
    ingest(db, polls)
    app_pk = app_key(db, "acc", "app")
    inbox = Prepared(select(func.count()).where(stats_inbox.c.app_pk == bindparam("app_pk")))
    compact = Prepared(select(func.count()).where(stats.c.app_pk == bindparam("app_pk")))
    with db.snapshot() as reads:
        assert list(reads.fetch(compact, {"app_pk": app_pk})[0]) == [0]
        assert compacted(db) == 5  # another connection, committed meanwhile
        assert list(reads.fetch(inbox, {"app_pk": app_pk})[0]) == [5]  # as the read began
    assert read_back(db, "ann") == sent_samples(polls)
    assert inbox_of(db) == []
