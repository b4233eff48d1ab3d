"""What the browser collector costs the page: ``getStats()`` plus the mapping, per sample,
in a real 30 s loopback call in Chromium (both ends sampled every 7 s and, to have more
samples, every second in a second run), and the mapping alone in Node over recorded
``getStats()`` output (the ceiling: no browser work at all).

    .venv/bin/python bench/collector_cost.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from tests.api.support import running_server  # noqa: E402
from tests.collector.call import page_origin, run_call  # noqa: E402
from tests.conftest import make_token  # noqa: E402

MAPPING_ONLY = """
import { readFileSync } from "node:fs";
import { mapStats } from "./src/collector.js";
const [, snapshot] = JSON.parse(readFileSync("test/fixtures/chromium-156-loopback.json"));
const report = new Map(snapshot.map((s) => [s.id, s]));
for (let i = 0; i < 2000; i += 1) mapStats(report);
const rounds = 20000, started = performance.now();
for (let i = 0; i < rounds; i += 1) mapStats(report);
console.log(((performance.now() - started) / rounds) * 1000);
"""


def main() -> None:
    mapping_us = float(
        subprocess.run(
            ["node", "--input-type=module", "-e", MAPPING_ONLY],
            cwd=ROOT / "clients" / "js",
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    print(f"mapping alone (Node, 25 stats objects, 4 streams): {mapping_us:.1f} µs a sample")
    report("collector mapping alone, per sample (Node)", mapping_us, "µs", None, "")
    for interval in (7000, 1000):
        with page_origin() as origin, tempfile.TemporaryDirectory() as directory:
            with running_server("sqlite", Path(directory), ingest_cors_origins=origin) as server:
                token = make_token(server.db, "acc-1", scopes=("ingest",))
                ingest = f"{server.url}/ingest/accounts/acc-1/apps/cost/events"
                started = time.monotonic()
                result = run_call(origin, ingest, token, "cost", 30, interval=interval)
                took = time.monotonic() - started
        for peer, cost in zip(("peer-a", "peer-b"), result["costs"], strict=True):
            print(
                f"every {interval / 1000:g} s, {peer}: {cost['samples']} samples, getStats() + "
                f"mapping {cost['averageMs']:.2f} ms on average, {cost['maxMs']:.1f} ms at most "
                f"(call and page {took:.0f} s)"
            )
            report(
                f"collector getStats() + mapping per sample, every {interval / 1000:g} s, {peer}",
                cost["averageMs"],
                "ms",
                None,
                "",
            )


if __name__ == "__main__":
    main()
