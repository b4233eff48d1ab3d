"""The sessions list of an app loaded by ``bench/generate.py --load`` (e.g. 1,000,000
sessions), through a real server, beside the bare app on the same file.

    .venv/bin/python bench/generate.py --sessions 1000000 --load sqlite:////tmp/m.db
    .venv/bin/python bench/list_at_scale.py --database sqlite:////tmp/m.db [--seconds 10]

Page 1 through ``wrk -c16`` beside ``bench/bare_list.py`` (same SQL on the raw driver),
then each filter, both sorts, a 50,000-row offset and search by title word, meeting id
and session id, sequentially (``wrk -c1``), and the serve process group's RSS.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_env, bench_token, report, serve_process  # noqa: E402
from scale_out import app_pk_of, bare_server, group_rss_mb, wrk  # noqa: E402


def variants(seed: int) -> list[tuple[str, str, int]]:
    """(name, query, p99 goal ms); ids as generate.py makes them for ``seed``."""
    session_42 = f"{seed:08x}-0000-4000-8000-{0x4242:012x}"
    meeting_161 = f"{seed:08x}-0004-4000-8000-{161:012x}"
    return [
        ("page 2,501 (offset 50,000)", "?page_no=2501&per_page=20", 25),
        ("sort by minutes", "?sort_by=minutesConsumed", 25),
        ("status=LIVE", "?status=LIVE", 25),
        ("status=ENDED, oldest first", "?status=ENDED&sort_order=ASC", 25),
        (
            "participants 3..5, a week",
            "?participants=3:5&start_time=2026-03-01T00:00:00Z&end_time=2026-03-08T00:00:00Z",
            25,
        ),
        ("associated_id (a meeting's sessions)", f"?associated_id={meeting_161}", 25),
        ("search by session id", f"?search={session_42[-12:]}", 50),
        ("search by meeting id", f"?search={meeting_161}", 50),
        ("search by a title word", "?search=quarterly", 50),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--app", default="app0")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    env = bench_env(args.database)
    secret = bench_token(env)
    with serve_process(env, ready_path="/readyz") as (base, pgid):
        page = f"{base}/client/v4/accounts/bench/realtime/kit/{args.app}/sessions"
        first = httpx.get(page, headers={"Authorization": f"Bearer {secret}"}).json()
        total = first["paging"]["total_count"]
        rate, p50, p99 = wrk(page, args.seconds, secret)
        measured = {
            name: (wrk(page + query, max(2, args.seconds // 2), secret, connections=1), goal)
            for name, query, goal in variants(args.seed)
        }
        rss = group_rss_mb(pgid)
    with bare_server(args.database, 1, app_pk_of(args.database, args.app)) as bare_url:
        bare, _, bare_p99 = wrk(bare_url, args.seconds)
    where = f"{total:,} sessions, SQLite" if "sqlite" in args.database else f"{total:,} sessions"
    print(
        f"{where}: page 1 c16 {rate:,.0f} req/s p50 {p50:.1f} p99 {p99:.1f} ms; bare "
        f"{bare:,.0f} req/s p99 {bare_p99:.1f} ms; ratio {rate / bare:.2f}"
    )
    report(f"sessions list page 1, wrk -c16 ({where})", rate, "req/s", bare, "≥ 50%")
    report(f"sessions list page 1 p99 ({where})", p99, "ms", None, "≤ 25 ms")
    for name, ((v_rate, _, v_p99), goal) in measured.items():
        print(f"    {name:38} {v_rate:8,.0f} req/s  sequential p99 {v_p99:6.1f} ms")
        report(
            f"sessions list, {name}, sequential p99 ({where})", v_p99, "ms", None, f"≤ {goal} ms"
        )
    print(f"    serve RSS (all processes, summed) {rss:.0f} MB")
    report(f"serve RSS after the list runs ({where})", rss, "MB", None, "≤ 200 MB")


if __name__ == "__main__":
    main()
