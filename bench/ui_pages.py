"""The dashboard at scale: the sessions page of an app loaded by ``bench/generate.py``
(e.g. 1,000,000 sessions) and a one-hour peer's page, through a real server.

    .venv/bin/python bench/generate.py --sessions 1000000 --load sqlite:////tmp/m.db
    .venv/bin/python bench/ui_pages.py --database sqlite:////tmp/m.db [--repeat 40]

Server time is the page's ``Server-Timing: app;dur=`` (the whole handler: grant, the
list query, the per-day chart's query, rendering). Beside it, the API's answer for the
same page measured from the client, and the page measured the same way: the ratio is
what the dashboard costs over the API on the same data. The one-hour peer (4 tracks,
a sample every 7 s) is ingested into its own app; with Chromium at /usr/bin/chromium
its page is also loaded in the browser: time to ``load`` and the longest main-thread
task while it draws (a long task over 50 ms is what the browser calls jank).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_env, bench_token, percentile, report, serve_process  # noqa: E402

HOUR_MS, PERIOD_MS = 3_600_000, 7_000
PEER_START = 1_767_225_600_000 + 3_600_000  # 2026-01-01T01:00:00Z


def variants() -> list[tuple[str, str, str]]:
    """(name, dashboard query, the API's query for the same page)."""
    return [
        ("page 1", "", ""),
        ("status=LIVE", "?status=LIVE", "?status=LIVE&per_page=25"),
        ("sort by minutes", "?sort=minutesConsumed", "?sort_by=minutesConsumed&per_page=25"),
        ("page 2,001 (offset 50,000)", "?page=2001", "?page_no=2001&per_page=25"),
        (
            "participants 3..5, a week",
            "?participants=3:5&from=2026-03-01&to=2026-03-07",
            "?participants=3:5&start_time=2026-03-01T00:00:00Z&end_time=2026-03-07T23:59:59.999Z"
            "&per_page=25",
        ),
        ("search by a title word", "?search=quarterly", "?search=quarterly&per_page=25"),
    ]


def server_ms(answer: httpx.Response) -> float:
    return float(re.search(r"dur=([\d.]+)", answer.headers["server-timing"]).group(1))


def timed(client: httpx.Client, url: str, repeat: int) -> tuple[list[float], list[float]]:
    """(wall ms, Server-Timing ms) of ``repeat`` sequential GETs (after one warm-up)."""
    client.get(url).raise_for_status()
    walls, servers = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(url)
        walls.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
        found = re.search(r"dur=([\d.]+)", answer.headers.get("server-timing", ""))
        if found:
            servers.append(float(found.group(1)))
    return walls, servers


def one_hour_peer() -> list[dict]:
    """A session with one peer in it for an hour, sending and receiving audio and video."""
    from rtk_sessions.clock import iso_ms

    end = PEER_START + HOUR_MS
    events: list[dict] = [
        {"id": "s", "type": "session.started", "ts": iso_ms(PEER_START), "session_id": "hour"},
        {
            "id": "j",
            "type": "peer.joined",
            "ts": iso_ms(PEER_START),
            "session_id": "hour",
            "peer_id": "hour-peer",
            "user_id": "u",
            "display_name": "One hour",
        },
        {
            "id": "l",
            "type": "peer.left",
            "ts": iso_ms(end),
            "session_id": "hour",
            "peer_id": "hour-peer",
        },
    ]
    batch: list[dict] = []
    for n, at in enumerate(range(PEER_START, end, PERIOD_MS)):
        loss = 8 if 1800 <= n * 7 < 1900 else 0  # a bad minute and a half in the middle
        for kind in ("audio", "video"):
            for direction, counters in (("producer", "sent"), ("consumer", "received")):
                sample = {
                    "ts": iso_ms(at),
                    "kind": kind,
                    "direction": direction,
                    "ssrc": hash((kind, direction)) % 10_000,
                    f"packets_{counters}": n * 350,
                    f"bytes_{counters}": n * 350 * 900,
                    "packets_lost": n * loss,
                    "jitter": 0.008,
                    "round_trip_time": 0.06,
                }
                if kind == "video":
                    frames = "frames_encoded" if direction == "producer" else "frames_decoded"
                    sample |= {
                        frames: n * 210,
                        "frame_width": 1280,
                        "frame_height": 720,
                        "frames_per_second": 30,
                    }
                batch.append(sample)
        if len(batch) >= 40:
            events.append(
                {
                    "id": f"st{n}",
                    "type": "peer.stats",
                    "ts": iso_ms(at),
                    "peer_id": "hour-peer",
                    "samples": batch,
                }
            )
            batch = []
    return events


def in_browser(base: str, token: str, path: str) -> tuple[float, float, float] | None:
    """(ms to the load event, longest main-thread task, main-thread busy ms in all) of a
    page in Chromium; busy = layout + style + script, from the DevTools protocol."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").exists():
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        context = browser.new_context(base_url=base, bypass_csp=True)
        context.add_init_script(
            "window.__longest = 0; new PerformanceObserver(list => { for (const e of "
            "list.getEntries()) window.__longest = Math.max(window.__longest, e.duration); })"
            ".observe({type: 'longtask', buffered: true});"
        )
        page = context.new_page()
        page.goto("/ui/sign-in")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        devtools = context.new_cdp_session(page)
        devtools.send("Performance.enable")
        page.goto(path, wait_until="load")
        page.wait_for_timeout(500)
        metrics = {
            m["name"]: m["value"] for m in devtools.send("Performance.getMetrics")["metrics"]
        }
        busy = 1000 * sum(
            metrics[k] for k in ("LayoutDuration", "RecalcStyleDuration", "ScriptDuration")
        )
        load = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        longest = page.evaluate("window.__longest")
        browser.close()
        return load, longest, busy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--app", default="app0")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    env = bench_env(args.database)
    secret = bench_token(env)
    with serve_process(env, ready_path="/readyz") as (base, _):
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        ui = httpx.Client(base_url=base, timeout=60)
        assert ui.post("/ui/sign-in", data={"token": secret}).status_code == 303
        api_page = f"/client/v4/accounts/bench/realtime/kit/{args.app}/sessions"
        total = api.get(api_page).json()["paging"]["total_count"]
        where = f"{total:,} sessions" + (", SQLite" if "sqlite" in args.database else "")
        first = server_ms(ui.get(f"/ui/apps/{args.app}/sessions"))
        print(f"page 1, first view (the per-day chart summed, not yet kept): server {first:.1f} ms")
        report(
            f"dashboard sessions page, first view, server ({where})", first, "ms", None, "< 300 ms"
        )
        for name, ui_query, api_query in variants():
            walls, servers = timed(ui, f"/ui/apps/{args.app}/sessions{ui_query}", args.repeat)
            api_walls, _ = timed(api, api_page + (api_query or "?per_page=25"), args.repeat)
            p50, p99 = percentile(servers, 0.5), percentile(servers, 0.99)
            ratio = percentile(api_walls, 0.5) / percentile(walls, 0.5)
            print(
                f"{name:30} server p50 {p50:6.1f} p99 {p99:6.1f} ms; wall p50 "
                f"{percentile(walls, 0.5):6.1f} ms beside the API's {percentile(api_walls, 0.5):6.1f}"
                f" ms ({ratio:.2f})"
            )
            report(
                f"dashboard sessions page, {name}, server p99 ({where})",
                p99,
                "ms",
                None,
                "< 300 ms",
            )
            report(
                f"dashboard sessions page, {name}, wall p50 ({where})",
                percentile(walls, 0.5),
                "ms",
                percentile(api_walls, 0.5),
            )
        answer = api.post("/ingest/accounts/bench/apps/bench-hour/events", json=one_hour_peer())
        answer.raise_for_status()
        peer_path = "/ui/apps/bench-hour/peers/hour-peer"
        first_view = ui.get(peer_path)
        cold = server_ms(first_view)
        _, warm = timed(ui, peer_path, max(5, args.repeat // 4))
        size_kb = len(first_view.content) / 1024
        print(
            f"one-hour peer page (4 tracks, 515 samples each): server {cold:.0f} ms cold, "
            f"p50 {percentile(warm, 0.5):.0f} ms warm, {size_kb:.0f} KiB of HTML"
        )
        report("dashboard one-hour peer page, server, first view", cold, "ms", None, "< 1000 ms")
        browser = in_browser(base, secret, peer_path)
        if browser is not None:
            load, longest, busy = browser
            print(
                f"    in Chromium: load event at {load:.0f} ms, longest task {longest:.0f} ms, "
                f"layout + style + script {busy:.0f} ms in all"
            )
            report("dashboard one-hour peer page, Chromium load", load, "ms", None, "")
            report(
                "dashboard one-hour peer page, longest main-thread task",
                longest,
                "ms",
                None,
                "< 50 ms",
            )


if __name__ == "__main__":
    main()
