"""Run every benchmark and write BENCHMARKS.md: ``python -m bench`` (or ``make bench``).

    RTK_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench \\
        [--sessions 100000] [--seconds 10] [--only scale_out,downloads,...]
        [--at-scale sqlite:////tmp/m.db   # an app loaded by bench/generate.py --load]

Each benchmark is a script in this folder that measures its figures beside a ceiling
in the same run and prints ``RESULT {...}`` lines (``common.report``); this runner
runs them one after another (never two at once: they would share the 2 cores), keeps
their full output, and writes one table: figure, ours, ceiling, ratio, goal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def benchmarks(args: argparse.Namespace) -> dict[str, list[str]]:
    postgres = ["--postgres", os.environ["RTK_TEST_POSTGRES_URL"]] if _postgres() else []
    return {
        "scale_out": ["--sessions", str(args.sessions), "--seconds", str(args.seconds)]
        + ([] if _postgres() else ["--only", "sqlite"]),
        "ingest_demo": [],
        "request_costs": [],
        "http_overhead": [],
        "peer_report": ["--requests", "100"],
        "participants": ["--requests", "200"],
        "downloads": postgres,
        "write_path": [],
    }


def _postgres() -> bool:
    return bool(os.environ.get("RTK_TEST_POSTGRES_URL"))


def run(name: str, extra: list[str]) -> tuple[list[dict], str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    lines = done.stdout.splitlines()
    shown = "\n".join(line for line in lines if not line.startswith("RESULT "))
    output = shown + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else "")
    results = [
        json.loads(line.removeprefix("RESULT "))
        for line in done.stdout.splitlines()
        if line.startswith("RESULT ")
    ]
    if done.returncode:
        results.append(
            {
                "figure": f"{name}: FAILED (exit {done.returncode})",
                "ours": 0,
                "unit": "",
                "ceiling": None,
                "goal": "",
            }
        )
    return results, output, time.monotonic() - started


def ratio(result: dict) -> str:
    ours, ceiling = result["ours"], result["ceiling"]
    if not ceiling or not ours:
        return ""
    rate = result["unit"].endswith("/s")
    return f"{(ours / ceiling if rate else ceiling / ours):.2f}"


def number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def machine() -> list[str]:
    versions = {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": str(os.cpu_count()),
        "platform": platform.platform(),
    }
    if _postgres():
        import psycopg

        with psycopg.connect(os.environ["RTK_TEST_POSTGRES_URL"]) as conn:
            versions["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return [f"- {k}: {v}" for k, v in versions.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--only", default="", help="comma-separated benchmark names")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument(
        "--at-scale",
        metavar="DATABASE_URL",
        help="also measure the list and the dashboard of an app loaded by generate.py --load "
        "(list_at_scale, ui_pages)",
    )
    args = parser.parse_args()
    chosen = benchmarks(args)
    if args.at_scale:
        chosen["list_at_scale"] = ["--database", args.at_scale]
        chosen["ui_pages"] = ["--database", args.at_scale]
    if args.only:
        chosen = {k: v for k, v in chosen.items() if k in args.only.split(",")}
    rows, sections = [], []
    for name, extra in chosen.items():
        print(f"running {name} {' '.join(extra)}", file=sys.stderr, flush=True)
        results, output, seconds = run(name, extra)
        rows += results
        sections += [f"### {name} ({seconds:.0f} s)", "", "```", output.strip(), "```", ""]
    table = ["| figure | ours | ceiling (same run) | ratio | goal |", "|---|---|---|---|---|"]
    for r in rows:
        ceiling = f"{number(r['ceiling'])} {r['unit']}" if r["ceiling"] else ""
        table.append(
            f"| {r['figure']} | {number(r['ours'])} {r['unit']} | {ceiling} | {ratio(r)} "
            f"| {r['goal']} |"
        )
    command = "python -m bench " + " ".join(sys.argv[1:])
    text = [
        "# Benchmarks",
        "",
        f"Written by `{command.strip()}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "Each figure beside a ceiling measured in the same run (ratio: ours / ceiling for "
        "rates, ceiling / ours for times). Absolute times on shared machines drift 2-3x "
        "between runs; the ratios hold.",
        "",
        "## Machine",
        "",
        *machine(),
        "",
        "## Figures",
        "",
        *table,
        "",
        "## Output of each benchmark",
        "",
        *sections,
    ]
    Path(args.out).write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
