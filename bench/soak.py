"""A bounded soak: mixed ingest and reads from several clients against a real `serve`
for a few minutes; every answer must be a success, and memory must stay flat.

    .venv/bin/python bench/soak.py [--minutes 3] [--database sqlite:////tmp/soak.db]
        [--writers 2] [--readers 4] [--workers 1]

Writers send batches of new sessions (lifecycle, peer metadata, WebRTC stats, chat,
transcript) as JSON and NDJSON, and re-send an earlier batch now and then (duplicates);
readers walk the sessions list (pages, sorts, filters, search), session details,
participants, participant details and peer reports, and ask for chat and transcript
links. The serve process group's RSS is sampled every 10 s; the report gives requests,
failures by status, latency percentiles and RSS at the start and the end.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import bench_env, bench_token, percentile, serve_process  # noqa: E402
from bench.scale_out import group_rss_mb  # noqa: E402
from rtk_sessions.clock import iso_ms  # noqa: E402

T0 = 1_767_225_600_000
MIN, SEC = 60_000, 1_000


def session_batch(n: int) -> list[dict]:
    """Batch ``n``: 10 sessions of 4 peers, with metadata, stats, chat and transcript."""
    events: list[dict] = []
    for k in range(10):
        sid, start = f"soak-{n}-{k}", T0 + (n * 10 + k) * MIN

        def event(kind: str, ts: int, sid: str = sid, **fields) -> dict:
            return {"id": f"{sid}:{len(events)}", "type": kind, "ts": iso_ms(ts), **fields}

        events.append(event("meeting.upserted", start, meeting_id=f"m-{k}", title=f"Soak {k}"))
        events.append(event("session.started", start, session_id=sid, meeting_id=f"m-{k}"))
        for p in range(4):
            peer = f"{sid}-p{p}"
            events.append(event("peer.joined", start + p * SEC, session_id=sid, peer_id=peer,
                                user_id=f"u{p}", display_name=f"User {p}"))
            events.append(event("peer.metadata", start + p * SEC, peer_id=peer, session_id=sid,
                                user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
                                ip="81.2.69.142"))
            samples = [
                {"ts": iso_ms(start + p * SEC + i * 7 * SEC), "kind": "audio",
                 "direction": "producer", "ssrc": 1, "track_id": f"{peer}-a",
                 "packets_sent": 350 * i, "bytes_sent": 28_000 * i, "packets_lost": i // 3,
                 "jitter": 0.01, "round_trip_time": 0.05}
                for i in range(1, 9)
            ]
            events.append(event("peer.stats", start + 60 * SEC, peer_id=peer, session_id=sid,
                                samples=samples))
            events.append(event("peer.left", start + 10 * MIN, session_id=sid, peer_id=peer))
        events.append(event("chat.message", start + 2 * SEC, session_id=sid, message_id="c1",
                            peer_id=f"{sid}-p0", payload="hello"))
        events.append(event("transcript.segment", start + 5 * SEC, session_id=sid,
                            peer_id=f"{sid}-p1", start_ms=1_000, end_ms=4_000,
                            text="We ship on Friday."))
        events.append(event("session.ended", start + 10 * MIN, session_id=sid,
                            reason="ALL_PARTICIPANTS_LEFT"))
    return events


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.events_sent = 0

    def record(self, what: str, status: int | str, seconds: float) -> None:
        with self.lock:
            self.statuses[f"{what} {status}"] += 1
            self.latencies.append(seconds)


def writer(base: str, token: str, lane: int, lanes: int, stop: threading.Event, tally: Tally):
    rng = random.Random(lane)
    path = f"{base}/ingest/accounts/bench/apps/soak/events"
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        for n in itertools.count(lane, lanes):
            if stop.is_set():
                return
            batch = session_batch(rng.randrange(n + 1) if rng.random() < 0.1 else n)
            started = time.perf_counter()
            if n % 2:
                lines = b"\n".join(msgspec.json.encode(e) for e in batch)
                answer = http.post(path, content=lines,
                                   headers={"content-type": "application/x-ndjson"})
            else:
                answer = http.post(path, json=batch)
            tally.record("ingest", answer.status_code, time.perf_counter() - started)
            if answer.status_code == 200 and answer.json()["data"]["rejected"]:
                tally.record("ingest-rejected", "event", 0)
            with tally.lock:
                tally.events_sent += len(batch)


def reader(base: str, token: str, seed: int, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(seed)
    api = f"{base}/client/v4/accounts/bench/realtime/kit/soak"
    lists = [{}, {"page_no": 3}, {"sort_by": "minutesConsumed"}, {"status": "ENDED"},
             {"search": "Soak 3"}, {"participants": "4"}, {"sort_order": "ASC", "per_page": 50}]
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            listed = http.get(f"{api}/sessions", params=rng.choice(lists))
            tally.record("list", listed.status_code, time.perf_counter() - started)
            sessions = listed.json().get("data", {}).get("sessions", []) if listed.is_success else []
            if not sessions:
                time.sleep(0.05)
                continue
            sid = rng.choice(sessions)["id"]
            peer = f"{sid}-p{rng.randrange(4)}"
            for what, url in (
                ("session", f"{api}/sessions/{sid}"),
                ("participants", f"{api}/sessions/{sid}/participants"),
                ("participant", f"{api}/sessions/{sid}/participants/{peer}"),
                ("peer-report", f"{api}/sessions/peer-report/{peer}"),
                ("chat", f"{api}/sessions/{sid}/chat"),
                ("transcript", f"{api}/sessions/{sid}/transcript"),
            ):
                started = time.perf_counter()
                answer = http.get(url)
                tally.record(what, answer.status_code, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--database", default=None)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    scratch = tempfile.mkdtemp(prefix="rtk-soak-")
    database = args.database or f"sqlite:///{scratch}/soak.db"
    env = bench_env(database)
    token = bench_token(env)
    tally, stop = Tally(), threading.Event()
    with serve_process(env, args.workers) as (base, pgid):
        httpx.post(f"{base}/ingest/accounts/bench/apps/soak/events",
                   headers={"Authorization": f"Bearer {token}"}, json=session_batch(10**6))
        rss = [(0.0, group_rss_mb(pgid))]
        threads = [threading.Thread(target=writer, args=(base, token, w, args.writers, stop,
                                                         tally)) for w in range(args.writers)]
        threads += [threading.Thread(target=reader, args=(base, token, r, stop, tally))
                    for r in range(args.readers)]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        while time.monotonic() - began < args.minutes * 60:
            time.sleep(10)
            rss.append((time.monotonic() - began, group_rss_mb(pgid)))
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        alive = httpx.get(f"{base}/healthz").status_code
    failures = {k: v for k, v in tally.statuses.items() if not k.split()[-1].startswith("2")}
    total = sum(tally.statuses.values())
    print(f"soak: {args.minutes:g} min, {args.writers} writers, {args.readers} readers, "
          f"{args.workers} worker(s), {database.split(':')[0]}")
    print(f"requests: {total:,} ({total / (args.minutes * 60):,.0f}/s), events sent "
          f"{tally.events_sent:,}, failures: {failures or 'none'}, /healthz after: {alive}")
    print(f"latency: p50 {percentile(tally.latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(tally.latencies, 0.99) * 1000:.1f} ms")
    print("RSS (MB) every 10 s: " + ", ".join(f"{mb:.0f}" for _, mb in rss))
    print(f"RSS start {rss[0][1]:.0f} MB, end {rss[-1][1]:.0f} MB, "
          f"after the first minute {next((mb for t, mb in rss if t >= 60), rss[-1][1]):.0f} MB")
    print("by request: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(tally.statuses.items())))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
