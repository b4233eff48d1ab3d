"""Participants of a 1,000-peer webinar with breakout rooms through a real server, beside
the bare SQL fetch of the same peers.

    .venv/bin/python bench/participants.py [--requests 200]

The webinar: one session with 1,000 users, 300 of them rejoining once (1,300 peers),
and 5 breakout rooms with 60 of the users each, built through the ingest pipeline in
a fresh SQLite file among 2,000 other sessions. Then ``rtk-sessions serve`` and
sequential GETs from one client: the consolidated view (one row per user over the
session and its rooms, page 1 of 25, sorted by duration, which needs every user's
total), the raw view (page 1), and one participant's details (a peer without stats;
a 1-hour peer with stats is bench/peer_report.py). Ceiling: the bare ``sqlite3`` fetch
of every peer row of the session and its rooms.
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
from common import percentile, report, served  # noqa: E402
from scale_out import app_events, chunks, iso  # noqa: E402

from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402

T0 = 1_767_225_600_000
MIN = 60_000
USERS, REJOINING, ROOMS, ROOM_USERS = 1_000, 300, 5, 60


def visit(session: str, peer: str, user: str, joined: int, left: int) -> list[dict]:
    base = {"session_id": session, "peer_id": peer}
    return [
        {
            "id": f"{peer}-j",
            "type": "peer.joined",
            "ts": iso(joined),
            **base,
            "user_id": user,
            "display_name": f"Person {user}",
            "preset_name": "webinar_viewer",
        },
        {"id": f"{peer}-l", "type": "peer.left", "ts": iso(left), **base},
    ]


def webinar() -> list[dict]:
    start = T0 + 400 * 24 * 60 * MIN  # after the other sessions
    events = [
        {
            "id": "w-start",
            "type": "session.started",
            "ts": iso(start),
            "session_id": "webinar",
            "meeting_id": "webinar-m",
        }
    ]
    for u in range(USERS):
        joined = start + (u % 60) * 1_000
        events += visit("webinar", f"w-p{u}", f"user-{u}", joined, joined + 50 * MIN)
        if u < REJOINING:
            events += visit(
                "webinar", f"w-p{u}-again", f"user-{u}", joined + 51 * MIN, joined + 70 * MIN
            )
    for r in range(ROOMS):
        room = f"webinar-room-{r}"
        events.append(
            {
                "id": f"{room}-start",
                "type": "session.started",
                "ts": iso(start + 10 * MIN),
                "session_id": room,
                "meeting_id": "webinar-m",
                "parent_session_id": "webinar",
            }
        )
        for k in range(ROOM_USERS):
            u = r * ROOM_USERS + k
            events += visit(room, f"{room}-p{u}", f"user-{u}", start + 10 * MIN, start + 30 * MIN)
    events.append(
        {
            "id": "w-end",
            "type": "session.ended",
            "ts": iso(start + 80 * MIN),
            "session_id": "webinar",
            "reason": "HOST_ENDED_MEETING",
        }
    )
    return events


def timed(client: httpx.Client, path: str, requests: int) -> tuple[float, float]:
    client.get(path).raise_for_status()
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        client.get(path).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 0.5), percentile(times, 0.99)


def bare_fetch(path: Path, requests: int) -> float:
    conn = sqlite3.connect(path)
    query = (
        "SELECT * FROM peers WHERE app_pk = 1 AND session_id IN "
        "(SELECT session_id FROM sessions WHERE app_pk = 1 AND "
        "(session_id = 'webinar' OR parent_session_id = 'webinar'))"
    )
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        assert len(conn.execute(query).fetchall()) == USERS + REJOINING + ROOMS * ROOM_USERS
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        path = Path(tmp) / "webinar.db"
        db = Database(f"sqlite:///{path}")
        upgrade(db)
        lines = [msgspec.json.encode(e) for e in app_events(0, 2_000) + webinar()]
        for chunk in chunks(lines):
            assert not ingest_items(db, "bench", "app", chunk, T0).rejected
        db.refresh_statistics()
        db.dispose()
        ceiling = bare_fetch(path, args.requests)
        api = "/accounts/bench/realtime/kit/app/sessions/webinar/participants"
        figures = {
            "consolidated view, page 1 by duration": (
                f"{api}?view=consolidated&sort_by=duration&sort_order=DESC",
                "≤ 30 ms",
            ),
            "raw view, page 1": (api, ""),
            "participant details (no stats)": (f"{api}/w-p7", "≤ 10 ms"),
        }
        with served(f"sqlite:///{path}") as (base, token):
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
                users = client.get(f"{api}?view=consolidated").json()["paging"]["total_count"]
                assert users == USERS, users
                print(
                    f"webinar: {USERS:,} users, 1,300 peers, {ROOMS} rooms; bare peer "
                    f"fetch p50 {ceiling:.2f} ms"
                )
                for name, (path_query, goal) in figures.items():
                    p50, p99 = timed(client, path_query, args.requests)
                    print(f"{name:40} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
                    report(f"{name}, p99 (1,000-peer webinar, SQLite)", p99, "ms", ceiling, goal)


if __name__ == "__main__":
    main()
