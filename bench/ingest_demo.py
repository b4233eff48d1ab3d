"""Ingest throughput of the demo data set, against a ceiling measured in the same run.

    .venv/bin/python bench/ingest_demo.py [--batch 5000]

ceiling: raw sqlite3 ``executemany`` of the same events (id, type, ts,
session, peer, payload, parsed from the JSON with msgspec) into a table
with the same primary key, in a file in the same folder, one transaction
per batch, WAL + synchronous=NORMAL. Batches: at most --batch events and
9 MiB (the server's default body limit is 10 MiB).
pipeline: ``ingest_items`` (validation, event log with its indexes,
lifecycle merge and derivation), same batches, same folder.
http: POST of the same batches as NDJSON to a real ``rtk-sessions serve``.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Envelope, batches, demo_lines, report, served  # noqa: E402

from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402


def ceiling(lines: list[bytes], folder: Path, batch: int) -> float:
    conn = sqlite3.connect(folder / "ceiling.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (app_pk INTEGER, event_id TEXT, type TEXT, ts TEXT, "
        "session_id TEXT, peer_id TEXT, payload TEXT, PRIMARY KEY (app_pk, event_id))"
        " WITHOUT ROWID"
    )
    decoder = msgspec.json.Decoder(Envelope)
    started = time.perf_counter()
    for chunk in batches(lines, batch):
        rows = []
        for line in chunk:
            e = decoder.decode(line)
            rows.append((1, e.id, e.type, e.ts, e.session_id, e.peer_id, line.decode()))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def pipeline(lines: list[bytes], folder: Path, batch: int) -> float:
    db = Database(f"sqlite:///{folder / 'pipeline.db'}")
    upgrade(db)
    started = time.perf_counter()
    for chunk in batches(lines, batch):
        report = ingest_items(db, "bench", "app", chunk, 0)
        assert not report.rejected, report.rejected[:3]
    elapsed = time.perf_counter() - started
    db.dispose()
    return elapsed


def http(lines: list[bytes], folder: Path, batch: int) -> float:
    with served(f"sqlite:///{folder / 'http.db'}") as (base, token):
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            started = time.perf_counter()
            for chunk in batches(lines, batch):
                body = b"\n".join(chunk)
                answer = client.post("/ingest/accounts/bench/apps/app/events", content=body)
                answer.raise_for_status()
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    lines = demo_lines()
    megabytes = sum(map(len, lines)) / 1e6
    print(f"demo data set: {len(lines)} events, {megabytes:.1f} MB, batches of {args.batch}")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        base = ceiling(lines, folder, args.batch)
        print(f"ceiling  (raw executemany): {len(lines) / base:10,.0f} events/s")
        for name, run in (("pipeline", pipeline), ("http", http)):
            elapsed = run(lines, folder, args.batch)
            report(
                f"ingest of the demo's mixed events ({name}, SQLite)",
                len(lines) / elapsed,
                "events/s",
                len(lines) / base,
                "≥ 50%",
            )
            print(
                f"{name:9}(ours)           : {len(lines) / elapsed:10,.0f} events/s  "
                f"= {base / elapsed:5.1%} of the ceiling"
            )


if __name__ == "__main__":
    main()
