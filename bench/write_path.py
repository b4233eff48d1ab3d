"""The write path at scale (issue 31): ingest acknowledged, folded, read meanwhile, and
telemetry at rest, each beside a ceiling measured in the same run.

    RTK_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/write_path.py [--sessions 100000] [--seconds 60]
        [--only lifecycle,one_app,reads,at_rest]

- lifecycle: ``--sessions`` sessions (8 lifecycle events each) in 2 apps, 2 clients, JSON
  arrays of 2,000, to one SQLite ``serve``; ceiling: 2 threads of raw ``executemany`` of
  the same parsed events (``scale_out.ingest_ceiling``); then how long the folder takes
  to fold what was acknowledged (the drain), with nothing reading. Beside them, where
  the time goes: validating the events alone, and the whole append in-process (one
  thread, no HTTP, no folder).
- one_app (PostgreSQL): ONE app, 10,000 sessions then ~320,000 ``peer.stats`` samples
  (the demo's telemetry; each peer's events through one client), 2 clients, through 1
  and then 2 ``serve`` processes (a client each), each warmed up first with a batch of
  each kind to another app; ceiling per kind: psycopg ``executemany`` of the same events,
  2 threads, a transaction for each request's events;
  ``pg_stat_activity`` sampled every 20 ms: the share of active backends waiting on a
  lock.
- reads: the demo's mixed events at half the rate 2 clients reach unpaced, for
  ``--seconds``, while one client reads the sessions list and session details (p99), and
  a probe app gets a new session every 200 ms whose row is polled in the database
  directly (no read of ours to fold it): the folder's lag, ack to folded.
- at_rest: bytes per stats sample, as the log stored them before (revision 0011, the
  events table), as appended now before the folder compacts them (the inbox), and as
  stored now with the folder compacting between appends (as it keeps up), SQLite file
  and PostgreSQL relation growth (no VACUUM by the bench; PostgreSQL's autovacuum and
  the folder's own vacuum of the inbox run as they would).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import httpx
import msgspec
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_env, bench_token, demo_lines, percentile, report  # noqa: E402
from scale_out import (  # noqa: E402
    app_events,
    chunks,
    database,
    ingest_ceiling,
    iso,
    raw_connection,
    servers,
)

from rtk_sessions.ingest.normalize import validate_items  # noqa: E402
from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.jobs.folder import fold_round  # noqa: E402
from rtk_sessions.store.apps import ensure_app  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.log import insert_new_events  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402
from rtk_sessions.store.rows import EventRow  # noqa: E402

STATS_BATCH = 250  # peer.stats events a request (~20 samples each: ~2 MB)


def telemetry_lines(samples: int) -> list[bytes]:
    """The demo's ``peer.stats`` events (seeds 7, 8, ...: ids made distinct), until
    ``samples`` samples."""
    out, total, seed = [], 0, 7
    while total < samples:
        for line in demo_lines(seed):
            if b'"type":"peer.stats"' not in line:
                continue
            event = msgspec.json.decode(line)
            event["id"] = f"s{seed}-{event['id']}"
            event["peer_id"] = f"s{seed}-{event['peer_id']}"
            out.append(msgspec.json.encode(event))
            total += len(event["samples"])
            if total >= samples:
                break
        seed += 1
    return out


def client_of(base: str, secret: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    return httpx.Client(base_url=base, headers=headers, timeout=300)


def post(client: httpx.Client, app: str, body: list[bytes]) -> float:
    """POST one JSON array; the time it was acknowledged."""
    answer = client.post(
        f"/ingest/accounts/bench/apps/{app}/events", content=b"[" + b",".join(body) + b"]"
    )
    answer.raise_for_status()
    assert answer.json()["data"]["rejected"] == [], answer.text[:300]
    return time.monotonic()


def send_all(
    bases: list[str], secret: str, apps: list[str], per_client: list[list[bytes]], size: int
) -> tuple[float, float]:
    """Each client's lines in arrays of ``size`` to its app, clients in parallel (client i
    to server i mod servers); (events/s, time of the last ack)."""
    acks: list[float] = []

    def client(i: int) -> None:
        with client_of(bases[i % len(bases)], secret) as http:
            for chunk in chunks(per_client[i], size):
                acks.append(post(http, apps[i], chunk))

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(per_client))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = sum(map(len, per_client))
    return events / (max(acks) - started), max(acks)


def queued(url: str) -> int:
    with raw_connection(url) as conn:
        return conn.execute("SELECT count(*) FROM fold_queue").fetchone()[0]


def queued_events(url: str) -> int:
    with raw_connection(url) as conn:
        return conn.execute("SELECT coalesce(sum(events), 0) FROM fold_queue").fetchone()[0]


def drained_after(url: str, since: float) -> float:
    """Seconds from ``since`` until the fold queue is empty."""
    while queued(url):
        time.sleep(0.05)
    return time.monotonic() - since


# ---------------------------------------------------------------------------- lifecycle


def where_the_time_goes(per_app: list[list[bytes]], folder: Path) -> dict[str, float]:
    """events/s of the parts of an append, one thread, no HTTP and no folder: validating
    the events alone, and the whole append (validate, log, queue for the fold) into a
    fresh SQLite file."""
    batches = [chunk for lines in per_app for chunk in chunks(lines, 2_000)]
    events = sum(map(len, batches))
    started = time.perf_counter()
    for chunk in batches:
        validate_items(list(chunk))
    validating = events / (time.perf_counter() - started)
    with database("sqlite", folder) as url:
        db = Database(url)
        upgrade(db)
        started = time.perf_counter()
        for i, chunk in enumerate(batches):
            ingest_items(db, "bench", f"app{i % 2}", list(chunk), 0)
        appending = events / (time.perf_counter() - started)
        db.dispose()
    return {"validating alone": validating, "the whole append, in-process": appending}


def lifecycle(sessions: int, folder: Path) -> None:
    per_app = [[msgspec.json.encode(e) for e in app_events(a, sessions // 2)] for a in range(2)]
    events = sum(map(len, per_app))
    for part, rate in where_the_time_goes(per_app, folder).items():
        print(f"lifecycle, SQLite, {part}: {rate:,.0f} ev/s (1 thread, no HTTP, no folder)")
        report(f"... {part} (1 thread, no HTTP, no folder)", rate, "events/s")
    with database("sqlite", folder) as url:
        ceiling = ingest_ceiling(url, per_app)
        secret = bench_token(bench_env(url))
        with servers(url, 1, 1) as [(base, _)]:
            rate, last = send_all([base], secret, ["app0", "app1"], per_app, 2_000)
            backlog = queued_events(url)
            drain = drained_after(url, last)
    print(
        f"lifecycle, SQLite: {events:,} events, {rate:,.0f} ev/s acknowledged, ceiling "
        f"{ceiling:,.0f} ({rate / ceiling:.2f}); {backlog:,} events still to fold at the last "
        f"ack, folded {drain:.1f} s after it ({backlog / drain:,.0f} events/s)"
    )
    report(
        f"lifecycle ingest over HTTP, SQLite, {sessions:,} sessions",
        rate,
        "events/s",
        ceiling,
        "≥ 50% and ≥ 50,000/s",
    )
    report("... every acknowledged event folded, after the last ack", drain, "s")
    report("... the folder alone, the backlog left at the last ack", backlog / drain, "events/s")


# ---------------------------------------------------------------------------- one app, PG


class LockSampler:
    """Samples ``pg_stat_activity`` every 20 ms: active backends, those waiting on a lock."""

    def __init__(self, url: str) -> None:
        self.url, self.active, self.waiting = url, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.02):
                active, waiting = conn.execute(
                    "SELECT count(*), count(*) FILTER (WHERE wait_event_type = 'Lock') "
                    "FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchone()
                self.active += active
                self.waiting += waiting

    @property
    def share(self) -> float:
        return self.waiting / self.active if self.active else 0.0


def warm_up(bases: list[str], secret: str, cycle: list[bytes], stats: list[bytes]) -> None:
    """A batch of each kind to another app through each server before the clock starts:
    a server at work has its modules imported and its statements prepared."""
    for base in bases:
        with client_of(base, secret) as http:
            post(http, "warm", cycle)
            post(http, "warm", stats)


def one_app(sessions: int, samples: int, folder: Path, base_url: str) -> None:
    cycle = [msgspec.json.encode(e) for e in app_events(0, sessions)]
    warm_cycle = [msgspec.json.encode(e) for e in app_events(9, 250)]
    telemetry = telemetry_lines(samples)
    sample_count = sum(len(msgspec.json.decode(line)["samples"]) for line in telemetry)
    # lifecycle: alternate events to each client (the same sessions through both); stats:
    # each peer's events through one client, as a peer's SDK sends them, one batch after
    # the other (every 30-60 s), never two of one peer at once
    by_peer: list[list[bytes]] = [[], []]
    for line in telemetry:
        peer = msgspec.json.decode(line)["peer_id"]
        by_peer[zlib.crc32(peer.encode()) % 2].append(line)
    halves = {"lifecycle": [cycle[::2], cycle[1::2]], "stats": by_peer}
    batches = {"lifecycle": 2_000, "stats": STATS_BATCH}  # events a request, and a ceiling's txn
    print(
        f"one app, PostgreSQL: {len(cycle):,} lifecycle events ({sessions:,} sessions), "
        f"{len(telemetry):,} peer.stats events ({sample_count:,} samples), 2 clients"
    )
    by_processes: dict[int, float] = {}
    for processes in (1, 2):
        with database("postgres", folder) as url:
            ceilings = {}
            for kind, lines in halves.items():
                ceilings[kind] = ingest_ceiling(url, lines, batches[kind])
                with raw_connection(url) as conn:
                    conn.execute("DROP TABLE bare_events")
            secret = bench_token(bench_env(url))
            with servers(url, processes, 1) as started:
                bases = [base for base, _ in started]
                warm_up(bases, secret, warm_cycle, telemetry[:STATS_BATCH])
                with LockSampler(base_url) as locks:
                    ours = {
                        kind: send_all(bases, secret, ["app0"] * 2, lines, batches[kind])[0]
                        for kind, lines in halves.items()
                    }
        total = len(cycle) + len(telemetry)
        overall = total / (len(cycle) / ours["lifecycle"] + len(telemetry) / ours["stats"])
        ceiling = total / (len(cycle) / ceilings["lifecycle"] + len(telemetry) / ceilings["stats"])
        by_processes[processes] = overall
        where = f"{processes} process{'es' if processes > 1 else ''}"
        print(
            f"  {where}: {overall:,.0f} ev/s (ceiling {ceiling:,.0f}); lifecycle "
            f"{ours['lifecycle']:,.0f} (ceiling {ceilings['lifecycle']:,.0f}), stats "
            f"{ours['stats']:,.0f} (ceiling {ceilings['stats']:,.0f}); lock waits "
            f"{locks.share:.1%} of {locks.active:,} active backend samples"
        )
        report(f"PostgreSQL, one app, {where}, 2 clients: all events", overall, "events/s", ceiling)
        report(
            f"... lifecycle ({where})",
            ours["lifecycle"],
            "events/s",
            ceilings["lifecycle"],
            "≥ 50%",
        )
        report(f"... stats ({where})", ours["stats"], "events/s", ceilings["stats"], "≥ 90%")
        report(
            f"... backends waiting on a lock ({where})",
            100 * locks.share,
            "% of samples",
            None,
            "≤ 5%",
        )
    gain = by_processes[2] / by_processes[1]
    print(f"  2 processes / 1 process: {gain:.2f}x")
    report("PostgreSQL, one app: 2 processes / 1 process", gain, "x", None, "≥ 1.3x")


# ---------------------------------------------------------------------------- reads


def mixed_lines(seconds: float, rate: float) -> list[bytes]:
    """The demo's mixed events, as many as ``rate`` x ``seconds`` (seeds made distinct)."""
    out, seed = [], 20
    while len(out) < rate * seconds:
        for line in demo_lines(seed):
            event = msgspec.json.decode(line)
            for key in ("id", "session_id", "peer_id", "meeting_id", "parent_session_id"):
                if isinstance(event.get(key), str):
                    event[key] = f"r{seed}-{event[key]}"
            out.append(msgspec.json.encode(event))
        seed += 1
    return out[: int(rate * seconds)]


def reads(seconds: int, kind: str, folder: Path) -> None:
    warm = mixed_lines(1, 120_000)
    with database(kind, folder) as url:
        secret = bench_token(bench_env(url))
        with servers(url, 1, 1) as [(base, _)]:
            full, _ = send_all([base], secret, ["app"] * 2, [warm[::2], warm[1::2]], 2_000)
            half = full / 2
            load = mixed_lines(seconds, half)
            ids = httpx.get(
                f"{base}/client/v4/accounts/bench/realtime/kit/app/sessions?per_page=100",
                headers={"Authorization": f"Bearer {secret}"},
            ).json()["data"]["sessions"]
            stop = threading.Event()
            latencies: dict[str, list[float]] = {"list": [], "details": []}
            lags: list[float] = []
            threads = [
                threading.Thread(target=_paced, args=(base, secret, load[i::2], half / 2, stop))
                for i in range(2)
            ]
            threads += [
                threading.Thread(
                    target=_reader, args=(base, secret, [s["id"] for s in ids], latencies, stop)
                ),
                threading.Thread(target=_prober, args=(base, secret, url, lags, stop)),
            ]
            for thread in threads:
                thread.start()
            threads[0].join()
            threads[1].join()
            stop.set()
            for thread in threads[2:]:
                thread.join()
    where = "SQLite" if kind == "sqlite" else "PostgreSQL"
    print(
        f"reads during {seconds} s of mixed ingest at {half:,.0f} ev/s (half of {full:,.0f}), {where}:"
    )
    for name, values in latencies.items():
        print(
            f"  {name}: {len(values):,} requests, p50 {percentile(values, 0.5):.1f} ms, "
            f"p99 {percentile(values, 0.99):.1f} ms"
        )
        report(
            f"{name} p99 during a sustained ingest ({where})",
            percentile(values, 0.99),
            "ms",
            None,
            "≤ 50 ms",
        )
    print(
        f"  fold lag (ack -> row in the database): {len(lags)} probes, p50 "
        f"{percentile(lags, 0.5) * 1000:.0f} ms, p99 {percentile(lags, 0.99) * 1000:.0f} ms"
    )
    report(
        f"fold lag p99 under that load ({where})",
        percentile(lags, 0.99) * 1000,
        "ms",
        None,
        "≤ 1,000 ms",
    )


def _paced(base: str, secret: str, lines: list[bytes], rate: float, stop: threading.Event) -> None:
    started = time.monotonic()
    with client_of(base, secret) as http:
        for at in range(0, len(lines), 500):
            due = started + at / rate
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            post(http, "app", lines[at : at + 500])


def _reader(base: str, secret: str, ids: list[str], latencies: dict, stop: threading.Event) -> None:
    path = f"{base}/client/v4/accounts/bench/realtime/kit/app/sessions"
    rng = random.Random(1)
    with httpx.Client(headers={"Authorization": f"Bearer {secret}"}, timeout=60) as client:
        while not stop.is_set():
            for name, url in (("list", path), ("details", f"{path}/{rng.choice(ids)}")):
                started = time.perf_counter()
                client.get(url).raise_for_status()
                latencies[name].append((time.perf_counter() - started) * 1000)
            time.sleep(0.01)


def _prober(base: str, secret: str, url: str, lags: list[float], stop: threading.Event) -> None:
    mark = "?" if url.startswith("sqlite") else "%s"
    n = 0
    with raw_connection(url) as conn, client_of(base, secret) as http:
        while not stop.wait(0.2):
            n += 1
            ms = int(time.time() * 1000)
            event = {
                "id": f"p{n}",
                "type": "session.started",
                "ts": iso(ms),
                "session_id": f"p{n}",
                "meeting_id": "probe",
            }
            acked = post(http, "probe", [msgspec.json.encode(event)])
            while not conn.execute(
                f"SELECT 1 FROM sessions WHERE session_id = {mark}", (f"p{n}",)
            ).fetchone():
                time.sleep(0.005)
            lags.append(time.monotonic() - acked)


# ---------------------------------------------------------------------------- at rest


def at_rest(samples: int, kind: str, folder: Path) -> None:
    lines = telemetry_lines(samples)
    count = sum(len(msgspec.json.decode(line)["samples"]) for line in lines)
    where = "SQLite" if kind == "sqlite" else "PostgreSQL"
    sizes = {}
    stages = (
        ("before (the log, revision 0011)", "0011"),
        ("now, appended, before the folder compacts it (the inbox)", "inbox"),
        ("now (appended, compacted by the folder as it keeps up)", None),
    )
    for label, stage in stages:
        with database(kind, folder) as url:
            db = Database(url)
            upgrade(db, stage) if stage == "0011" else upgrade(db)
            db.dispose()
            empty = _size(url)
            for chunk in chunks(lines, STATS_BATCH):
                if stage == "0011":  # as a server at 0011 logged them
                    _log_as_before(db, chunk)
                    continue
                assert not ingest_items(db, "bench", "app", chunk, 0).rejected
                if stage is None:  # what the folder does between two appends
                    while fold_round(db):
                        pass
            db.dispose()
            sizes[label] = float(_size(url) - empty) / count
        print(f"{where} {label}: {sizes[label]:.1f} B a sample ({count:,} samples)")
        report(
            f"stats at rest, {where}, {label}",
            sizes[label],
            "B/sample",
            None,
            "≤ 64" if stage is None else "",
        )


def _log_as_before(db: Database, chunk: list[bytes]) -> None:
    batch = validate_items(chunk)
    rows = [
        EventRow(e.event_id, e.type, e.ts_ms, e.session_id, e.peer_id, e.payload, 0)
        for e in batch.events
    ]
    with db.write() as conn:
        insert_new_events(db, conn, ensure_app(db, conn, "bench", "app", 0), rows)


def _size(url: str) -> int:
    """Bytes the database holds: the SQLite file once its WAL is checkpointed into it, or
    the PostgreSQL schema's tables with their indexes and TOAST."""
    with raw_connection(url) as conn:
        if url.startswith("sqlite"):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            return pages * conn.execute("PRAGMA page_size").fetchone()[0]
        return conn.execute(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
        ).fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--pg-sessions", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=320_000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--only", default="lifecycle,one_app,reads,at_rest")
    args = parser.parse_args()
    only = args.only.split(",")
    postgres = os.environ.get("RTK_TEST_POSTGRES_URL")
    kinds = ["sqlite"] + (["postgres"] if postgres else [])
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        if "lifecycle" in only:
            lifecycle(args.sessions, folder)
        if "one_app" in only and postgres:
            one_app(args.pg_sessions, args.samples, folder, postgres)
        if "reads" in only:
            for kind in kinds:
                reads(args.seconds, kind, folder)
        if "at_rest" in only:
            for kind in kinds:
                at_rest(args.samples, kind, folder)


if __name__ == "__main__":
    main()
