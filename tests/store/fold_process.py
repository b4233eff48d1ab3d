"""A process that appends or folds, for the folding tests (``tests/store/test_folding.py``).

    python fold_process.py append <database_url> <app> <batches.json>
        appends each batch; prints the batch's index once the append returned (acknowledged)
    python fold_process.py fold <database_url> <app> <intervals file> <seconds>
        prints "ready" once imported, then folds the app's queue in small batches until
        the time is up, writing to the file, for each fold that committed, when its fold of the events began and ended
        (epoch ns: after it took the app, before it committed)
    python fold_process.py fold-all <database_url> <app>
        folds the whole queue in one fold, and in its commit, once half of the fold's
        writes are made (uncommitted), prints "halfway" and waits to be killed
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import msgspec

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store import folding
from rtk_sessions.store.apps import app_key
from rtk_sessions.store.database import Database
from rtk_sessions.store.derive import PendingWrites

ACCOUNT = "acc"


def main(mode: str, url: str, app: str, *rest: str) -> None:
    db = Database(url)
    if mode == "append":
        batches = json.loads(Path(rest[0]).read_text())
        for index, batch in enumerate(batches):
            report = ingest_items(db, ACCOUNT, app, [msgspec.json.encode(e) for e in batch], 1)
            assert report.rejected == [], report.rejected
            print(index, flush=True)
    elif mode == "fold":
        out, deadline = Path(rest[0]), time.monotonic() + float(rest[1])
        print("ready", flush=True)  # imported and connected: the test starts appending
        app_pk = _app_pk(db, app)
        fold, timed = folding._fold(), []

        def timed_fold(writer, rows) -> None:
            timed.append(time.time_ns())
            fold(writer, rows)
            timed.append(time.time_ns())

        folding.register_fold(timed_fold)
        with out.open("a") as intervals:
            while time.monotonic() < deadline:
                timed.clear()
                if folding.fold_pending(db, app_pk, wait=False, max_events=300):
                    intervals.write(f"{timed[-2]} {timed[-1]}\n")  # the fold that committed
                    intervals.flush()
    elif mode == "fold-all":
        app_pk = _app_pk(db, app)
        PendingWrites.apply = _half_then_wait  # type: ignore[method-assign]
        folding.fold_pending(db, app_pk, wait=True, max_events=10**9)
        print("folded", flush=True)
    db.dispose()


def _half_then_wait(writes: PendingWrites, conn) -> None:
    steps = writes._steps
    for step in steps[: len(steps) // 2 or 1]:
        step(conn)
    print("halfway", flush=True)
    time.sleep(3600)


def _app_pk(db: Database, app: str) -> int:
    while (app_pk := app_key(db, ACCOUNT, app)) is None:
        time.sleep(0.01)
    return app_pk


if __name__ == "__main__":
    main(*sys.argv[1:])
