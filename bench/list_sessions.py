"""Latency of the sessions list on the demo data set, through a real server.

    .venv/bin/python bench/list_sessions.py [--requests 300]

Loads the demo app (through the ingest pipeline) into a fresh SQLite file,
serves it with `rtk-sessions serve`, and times sequential GETs of several
list queries from one client on the same machine. Figures are latencies
including HTTP and JSON on both ends; /healthz (no database, no auth) is
measured in the same run as the floor.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import demo_lines, percentile, served  # noqa: E402

from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402

QUERIES = {
    "healthz (floor)": "/healthz",
    "page 1 (default)": "{api}/sessions",
    "page 1, per_page=100": "{api}/sessions?per_page=100",
    "page 5 of 20": "{api}/sessions?page_no=5",
    "status=LIVE": "{api}/sessions?status=LIVE",
    "sort minutesConsumed": "{api}/sessions?sort_by=minutesConsumed",
    "search 'sync'": "{api}/sessions?search=sync",
    "participants of a session": "{api}/sessions/{session}/participants",
    "session details + rooms": "{api}/sessions/{session}?include_breakout_rooms=true",
    "participant details": "{api}/sessions/{session}/participants/{peer}",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        url = f"sqlite:///{Path(tmp) / 'list.db'}"
        db = Database(url)
        upgrade(db)
        lines = demo_lines()
        for start in range(0, len(lines), 5000):
            ingest_items(db, "bench", "app", lines[start : start + 5000], int(time.time() * 1000))
        db.dispose()
        with served(url) as (base, token):
            api = "/accounts/bench/realtime/kit/app"
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
                first = c.get(f"{api}/sessions").json()
                total = first["paging"]["total_count"]
                session = first["data"]["sessions"][0]["id"]
                peers = c.get(f"{api}/sessions/{session}/participants").json()
                peer = peers["data"]["participants"][0]["id"]
                print(
                    f"demo app: {total} listed sessions; {args.requests} sequential requests each"
                )
                print(f"{'query':28} {'p50 ms':>8} {'p99 ms':>8} {'rows':>5}")
                for name, template in QUERIES.items():
                    path = template.format(api=api, session=session, peer=peer)
                    timings = []
                    for _ in range(args.requests):
                        started = time.perf_counter()
                        answer = c.get(path)
                        timings.append((time.perf_counter() - started) * 1000)
                        answer.raise_for_status()
                    body = answer.json()
                    rows = (
                        len(
                            body.get("data", {}).get(
                                "sessions", body.get("data", {}).get("participants", [])
                            )
                        )
                        if "data" in body
                        else 0
                    )
                    print(
                        f"{name:28} {percentile(timings, 0.5):8.2f} "
                        f"{percentile(timings, 0.99):8.2f} {rows:5}"
                    )


if __name__ == "__main__":
    main()
