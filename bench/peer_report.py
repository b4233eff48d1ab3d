"""The peer report of a 1-hour participant through a real server, beside the bare SQL fetch.

    .venv/bin/python bench/peer_report.py [--requests 200] [--other-peers 300]

Builds an app in a fresh SQLite file (through the ingest pipeline): one
participant who stayed an hour and sent raw WebRTC stats for 4 tracks (audio
and video, sent and received) every 7 s, about 2,060 samples in peer.stats
events of 6 instants each, as RealtimeKit batches them; beside it
``--other-peers`` peers of other sessions with 10 minutes of stats each, so
the peer's events are found by index among many. Then ``rtk-sessions serve``
on it, and sequential GETs from one client on the same machine:

- the peer report (everything) and the participant details of the same peer
  (its ``quality_stats``), **cold** (a server with ``RTK_QUALITY_CACHE_MB=0``,
  so every request reads, decodes and scores the samples, as the first request
  after a peer's stats changed does) and **warm** (the default: the derived
  quality is kept until the peer's stats change);
- the ceiling of the same run: the bare SQL fetch of the same samples with
  the stdlib ``sqlite3`` on the same file (the payloads the report decodes),
  and that fetch plus ``json.loads`` of every payload.

Prints p50/p99 in ms and the ratio of each p50 to the bare fetch's.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import percentile, report, served  # noqa: E402

from rtk_sessions.clock import iso_ms  # noqa: E402
from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.jobs.folder import fold_round  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402
from rtk_sessions.store.stats_codec import decode_rows  # noqa: E402
from rtk_sessions.store.stats_rewrite import in_base_order  # noqa: E402

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z
PERIOD_MS = 7_000
TRACKS = [
    ("audio", "producer"),
    ("audio", "consumer"),
    ("video", "producer"),
    ("video", "consumer"),
]


def track_sample(rng: random.Random, kind: str, direction: str, n: int, at_ms: int) -> dict:
    """The n-th sample of a track: cumulative counters of n periods of media."""
    audio = kind == "audio"
    packets = n * (350 if audio else 900)
    lost = int(packets * 0.01)
    sample = {
        "ts": iso_ms(at_ms),
        "kind": kind,
        "direction": direction,
        "ssrc": hash((kind, direction)) & 0xFFFFFFFF,
        "mid": str(TRACKS.index((kind, direction))),
        "track_id": f"{kind}-{direction}",
        "packets_lost": lost,
        "jitter": round(0.004 + 0.01 * rng.random(), 4),
    }
    if direction == "producer":
        sample |= {
            "packets_sent": packets,
            "bytes_sent": packets * (100 if audio else 1100),
            "round_trip_time": round(0.04 + 0.05 * rng.random(), 4),
        }
    else:
        sample |= {
            "packets_received": packets - lost,
            "bytes_received": (packets - lost) * (100 if audio else 1100),
            "jitter_buffer_delay": n * 9.5,
            "jitter_buffer_emitted_count": n * 336,
        }
    if audio:
        if direction == "consumer":
            sample["concealment_events"] = n // 5
        return sample
    frames = n * 7 * 24
    sample |= {
        "frame_width": 1280,
        "frame_height": 720,
        "frames_per_second": 24.0,
        "pli_count": n // 9,
        "fir_count": 0,
    }
    if direction == "producer":
        sample |= {
            "frames_encoded": frames,
            "key_frames_encoded": n // 2,
            "quality_limitation_reason": "none",
            "quality_limitation_durations": {
                "cpu": 0.0,
                "bandwidth": 0.0,
                "none": n * 7.0,
                "other": 0.0,
            },
            "quality_limitation_resolution_changes": 0,
        }
    else:
        sample |= {
            "frames_decoded": frames,
            "frames_dropped": n // 20,
            "key_frames_decoded": n // 2,
        }
    return sample


def participant_events(peer: str, session: str, start_ms: int, minutes: int, rng) -> list[dict]:
    """A peer's join, leave, metadata and stats batched 6 instants an event."""
    instants = minutes * 60_000 // PERIOD_MS
    events = [
        {
            "id": f"{peer}-start",
            "type": "session.started",
            "ts": iso_ms(start_ms - 1000),
            "session_id": session,
            "meeting_id": f"m-{session}",
        },
        {
            "id": f"{peer}-join",
            "type": "peer.joined",
            "ts": iso_ms(start_ms),
            "session_id": session,
            "peer_id": peer,
            "user_id": f"u-{peer}",
            "display_name": f"Peer {peer}",
        },
        {
            "id": f"{peer}-left",
            "type": "peer.left",
            "ts": iso_ms(start_ms + minutes * 60_000),
            "session_id": session,
            "peer_id": peer,
        },
        {
            "id": f"{peer}-meta",
            "type": "peer.metadata",
            "ts": iso_ms(start_ms + 1000),
            "peer_id": peer,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "ip": "8.8.8.8",
        },
    ]
    for first in range(0, instants, 6):
        samples = [
            track_sample(rng, kind, direction, n, start_ms + n * PERIOD_MS)
            for n in range(first, min(first + 6, instants))
            for kind, direction in TRACKS
        ]
        samples[0]["candidate_pair"] = {
            "id": "CP1",
            "local_candidate_type": "srflx",
            "current_round_trip_time": 0.05,
        }
        events.append(
            {
                "id": f"{peer}-stats-{first}",
                "type": "peer.stats",
                "ts": iso_ms(start_ms + (first + 6) * PERIOD_MS),
                "peer_id": peer,
                "session_id": session,
                "samples": samples,
            }
        )
    return events


def build(url: str, other_peers: int) -> int:
    """The app; returns how many samples the hour-long peer sent."""
    db = Database(url)
    upgrade(db)
    rng = random.Random(1)
    events = participant_events("hour-peer", "s-hour", T0, 60, rng)
    samples = sum(len(e.get("samples", [])) for e in events)
    for i in range(other_peers):
        events += participant_events(f"peer-{i}", f"s-{i % 50}", T0 + i * 60_000, 10, rng)
    lines = [json.dumps(e).encode() for e in events]
    for start in range(0, len(lines), 2000):
        ingest_items(db, "bench", "app", lines[start : start + 2000], T0 + 86_400_000)
    while fold_round(db):  # as the folder does: sessions folded, telemetry compacted
        pass
    db.refresh_statistics()
    db.dispose()
    return samples


def timed(requests: int, call) -> list[float]:
    call()  # warm: first use compiles the UA regexes and loads the IP data
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--other-peers", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        path = Path(tmp) / "report.db"
        url = f"sqlite:///{path}"
        samples = build(url, args.other_peers)
        raw = sqlite3.connect(path)
        app_pk = raw.execute("SELECT app_pk FROM apps WHERE app_id = 'app'").fetchone()[0]
        total = raw.execute("SELECT sum(rows) FROM stats_peers").fetchone()[0]
        # the peer's stored rows (compact: store/stats_codec), as the server reads them
        fetch_sql = (
            "SELECT s.h1, s.data FROM stats s JOIN stats_peers p ON p.peer_key = s.peer_key "
            "WHERE p.app_pk = ? AND p.peer_id = ?"
        )

        def bare_fetch() -> list:
            return raw.execute(fetch_sql, (app_pk, "hour-peer")).fetchall()

        def fetch_and_decode() -> list:
            return decode_rows(in_base_order([(h1, bytes(data)) for h1, data in bare_fetch()]))

        results = {
            "bare SQL fetch (ceiling)": timed(args.requests, bare_fetch),
            "bare fetch + decoding the samples": timed(args.requests, fetch_and_decode),
        }
        # cold: a server that keeps no derived quality, so every request reads and scores
        # the samples (as the first request after a peer's stats change); warm: the default
        for label, settings in (("cold", {"RTK_QUALITY_CACHE_MB": "0"}), ("warm", {})):
            with served(url, **settings) as (base, token):
                api = "/accounts/bench/realtime/kit/app/sessions"
                with httpx.Client(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
                ) as client:
                    size = 0

                    def get(path: str):
                        def call() -> None:
                            nonlocal size
                            answer = client.get(path)
                            answer.raise_for_status()
                            size = len(answer.content)

                        return call

                    for name, path in (
                        ("peer report", f"{api}/peer-report/hour-peer"),
                        ("participant details", f"{api}/s-hour/participants/hour-peer"),
                    ):
                        timings = timed(args.requests, get(path))
                        results[f"{name}, {label} [{size // 1024} KiB]"] = timings
        print(
            f"1-hour peer: {samples} samples (4 tracks); app: {total} peer.stats events; "
            f"{args.requests} sequential requests each"
        )
        ceiling = percentile(results["bare SQL fetch (ceiling)"], 0.5)
        print(f"{'what':48} {'p50 ms':>8} {'p99 ms':>8} {'p50 / bare fetch':>17}")
        for name, timings in results.items():
            p50 = percentile(timings, 0.5)
            print(f"{name:48} {p50:8.2f} {percentile(timings, 0.99):8.2f} {p50 / ceiling:16.1f}x")
            if "ceiling" not in name:
                report(f"{name} of a 1-hour peer, p50 (SQLite)", p50, "ms", ceiling)


if __name__ == "__main__":
    main()
