"""Several server processes on one database: the end state is the one a single writer makes.

Two ``rtk-sessions serve`` processes (one with ``--workers 2``) run on one
database, as behind a load balancer: a PostgreSQL schema, and a SQLite file.
Four clients at once send every event of a busy scenario (meetings whose
sessions supersede each other, breakout rooms, rejoins, conflicting joins,
renamed meetings, telemetry), each in its own random order and batching,
with re-deliveries, two clients to each process. Then:

- every event was accepted exactly once over all clients (the rest are
  counted as duplicates) and is stored once;
- the derived sessions, peers, meetings and the app's kept total equal those
  of one writer ingesting the same events once, in order, in-process;
- at most one session per meeting is live, and both processes answer the
  same list.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import msgspec
from sqlalchemy import func, select

from rtk_sessions.ingest.pipeline import ingest_items
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import readable_app
from rtk_sessions.store.migrate import upgrade
from rtk_sessions.store.tables import apps, events, meetings, peers, sessions
from tests.conftest import free_port, wait_for_server
from tests.databases import fresh_database_url
from tests.factories import MIN, SEC, T0, ended, event, joined, left, meeting, started, visit

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
ACCOUNT, APP = "acc-scale", "app-scale"
CLIENTS = 4


def busy_scenario(seed: int) -> list[dict]:
    """About 1,500 events: 6 meetings x 3 sessions (the later ones supersede open ones),
    breakout rooms, users who rejoin, duplicate joins of one peer, renames, telemetry."""
    rnd = random.Random(seed)
    out: list[dict] = []
    for m in range(6):
        meeting_id = f"m{m}"
        out += [
            meeting(meeting_id, f"Room {m}", T0),
            meeting(meeting_id, f"Room {m} (v2)", T0 + MIN),
        ]
        for k in range(3):
            session_id = f"s{m}-{k}"
            start = T0 + k * 90 * MIN + m * SEC
            out.append(started(session_id, meeting_id, start))
            for p in range(14):
                peer = f"{session_id}-p{p}"
                user = f"u{m}-{p % 10}"  # four users have two peers: a rejoin
                join = start + rnd.randint(0, 20) * MIN
                stays = rnd.random() < 0.15
                out += visit(
                    session_id,
                    peer,
                    join,
                    None if stays else join + rnd.randint(1, 60) * MIN,
                    user_id=user,
                )
                if p % 5 == 0:  # a second join of the same peer, later, with another name
                    out.append(
                        joined(
                            session_id,
                            peer,
                            join + 7 * SEC,
                            user_id=user,
                            display_name=f"late {peer}",
                        )
                    )
                    out.append(left(session_id, peer, join + 61 * MIN))
                out.append(event("peer.event", join + SEC, peer_id=peer, name="tab_hidden"))
            if k == 0:
                room = f"{session_id}-room"
                out.append(started(room, meeting_id, start + 10 * MIN, parent=session_id))
                out += visit(
                    room, f"{room}-p0", start + 10 * MIN, start + 30 * MIN, user_id=f"u{m}-0"
                )
                out += visit(room, f"{room}-p1", start + 11 * MIN, None, user_id=f"u{m}-1")
            if k == 1:
                out.append(ended(session_id, start + 80 * MIN, "HOST_ENDED_MEETING"))
    return out


def derived_state(db: Database) -> dict:
    """Every derived row of the app (without the internal app key) and its kept total,
    read as a read path reads: what is queued, folded first."""
    app_pk = readable_app(db, ACCOUNT, APP)
    with db.read() as conn:
        state = {
            name: sorted(
                tuple(row)[1:]
                for row in conn.execute(select(table).where(table.c.app_pk == app_pk))
            )
            for name, table in (("sessions", sessions), ("peers", peers), ("meetings", meetings))
        }
        state["listed"] = conn.execute(
            select(apps.c.listed_sessions).where(apps.c.app_pk == app_pk)
        ).scalar()
        state["events"] = conn.execute(
            select(func.count()).select_from(events).where(events.c.app_pk == app_pk)
        ).scalar()
    return state


def single_writer_state(backend: str, directory: Path, scenario: list[dict]) -> dict:
    with fresh_database_url(backend, directory) as url:
        db = Database(url)
        try:
            upgrade(db)
            report = ingest_items(db, ACCOUNT, APP, [msgspec.json.encode(e) for e in scenario], T0)
            assert report.rejected == []
            return derived_state(db)
        finally:
            db.dispose()


def start(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [CLI, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def process_group(pgid: int) -> list[int]:
    """Live processes of a process group (read from /proc)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=15)


def client_stream(scenario: list[dict], seed: int) -> list[list[dict]]:
    """All events in a random order, ~10% of them twice, cut into batches of 1..150."""
    rnd = random.Random(seed)
    stream = scenario + rnd.sample(scenario, len(scenario) // 10)
    rnd.shuffle(stream)
    batches, position = [], 0
    while position < len(stream):
        size = rnd.randint(1, 150)
        batches.append(stream[position : position + size])
        position += size
    return batches


def send_all(base: str, token: str, batches: list[list[dict]]) -> Counter:
    totals: Counter = Counter()
    path = f"/ingest/accounts/{ACCOUNT}/apps/{APP}/events"
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        for batch in batches:
            response = http.post(path, json=batch)
            assert response.status_code == 200, response.text
            report = response.json()["data"]
            assert report["rejected"] == [], report
            totals.update(accepted=report["accepted"], duplicates=report["duplicates"])
    return totals


def without_minutes(session: dict) -> dict:
    return {key: value for key, value in session.items() if key != "minutes_consumed"}


def test_two_servers_three_processes_one_truth(database_url, backend, tmp_path):
    scenario = busy_scenario(seed=16)
    assert len({e["id"] for e in scenario}) == len(scenario)
    env = {
        **os.environ,
        "RTK_DATABASE_URL": database_url,
        "RTK_CONFIG_FILE": "",
        "RTK_LOG_LEVEL": "warning",
    }
    created = subprocess.run(
        [CLI, "token", "create", "--account", ACCOUNT, "--scope", "ingest", "--scope", "read"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token = created.stdout.strip().splitlines()[-1]

    ports = (free_port(), free_port())
    logs = (tmp_path / "a.log", tmp_path / "b.log")
    # Both start (and migrate) at once: the migration lock is exercised too.
    servers = [start(env, ports[0], 2, logs[0]), start(env, ports[1], 1, logs[1])]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, server, log in zip(bases, servers, logs, strict=True):
            wait_for_server(base, server, log)
        assert len(process_group(servers[0].pid)) >= 3  # granian's supervisor + 2 workers
        streams = [client_stream(scenario, seed) for seed in range(CLIENTS)]
        with ThreadPoolExecutor(CLIENTS) as pool:
            totals = sum(
                pool.map(
                    send_all, [bases[i % 2] for i in range(CLIENTS)], [token] * CLIENTS, streams
                ),
                Counter(),
            )
        sent = sum(len(batch) for stream in streams for batch in stream)
        assert totals["accepted"] == len(scenario)  # each event stored by exactly one request
        assert totals["duplicates"] == sent - len(scenario)

        lists = []
        for base in bases:
            response = httpx.get(
                f"{base}/client/v4/accounts/{ACCOUNT}/realtime/kit/{APP}/sessions",
                params={"per_page": 100, "status": "LIVE"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200, response.text
            lists.append(response.json()["data"]["sessions"])
        # (the minutes of a live session grow with the clock between the two requests)
        assert [without_minutes(s) for s in lists[0]] == [without_minutes(s) for s in lists[1]]
        live_per_meeting = Counter(s["associated_id"] for s in lists[0])
        assert live_per_meeting and max(live_per_meeting.values()) == 1
    finally:
        for server in servers:
            stop(server)

    db = Database(database_url)
    try:
        served = derived_state(db)
    finally:
        db.dispose()
    expected = single_writer_state(backend, tmp_path, scenario)
    assert served["events"] == len(scenario)
    for part in ("meetings", "sessions", "peers", "listed", "events"):
        assert served[part] == expected[part], part
