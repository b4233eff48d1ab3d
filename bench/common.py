"""Helpers shared by the benchmarks: the demo data set, a real server subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec

from rtk_sessions.demo import generate_demo_events

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
FIXED_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def demo_lines(seed: int = 7, now: datetime = FIXED_NOW) -> list[bytes]:
    """The demo app's events as NDJSON lines (deterministic for a seed and "now")."""
    return [msgspec.json.encode(e) for e in generate_demo_events(now, seed=seed)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(env: dict, *args: str) -> str:
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def bench_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of our CLI and server for a benchmark's database (quiet logs)."""
    return {**os.environ, "RTK_DATABASE_URL": database_url, "RTK_LOG_LEVEL": "warning", **settings}


def bench_token(env: dict) -> str:
    """A new token of account ``bench`` with both scopes."""
    created = cli(
        env, "token", "create", "--account", "bench", "--scope", "read", "--scope", "ingest"
    )
    return created.strip().splitlines()[-1]


@contextmanager
def serve_process(env: dict, workers: int = 1, ready_path: str = "/healthz"):
    """A real ``rtk-sessions serve`` on a free port, in its own process group; yields
    (base URL, process group id) once it answers, and stops the whole group after."""
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(base + ready_path)
        yield base, process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def served(database_url: str, workers: int = 1, **settings: str):
    """A real `rtk-sessions serve` on a free port; yields (base_url, token).

    ``settings`` are more RTK_* variables, e.g. ``RTK_QUALITY_CACHE_MB="0"``.
    """
    env = bench_env(database_url, **settings)
    token = bench_token(env)
    with serve_process(env, workers) as (base, _):
        yield base, token


def wait_until_answering(url: str, timeout_s: float = 60) -> None:
    """Poll ``url`` until it answers 200 (a server just started)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout_s:.0f} s")


class Envelope(msgspec.Struct):
    """The fields of an event a raw ``executemany`` ceiling stores beside its JSON."""

    id: str
    type: str
    ts: str
    session_id: str | None = None
    peer_id: str | None = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def batches(lines: list[bytes], max_events: int, max_bytes: int = 9 * 1024 * 1024):
    """Consecutive slices of at most ``max_events`` events and ``max_bytes`` of NDJSON."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and (len(batch) >= max_events or size + len(line) + 1 > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += len(line) + 1
    if batch:
        yield batch


def report(
    figure: str, ours: float, unit: str, ceiling: float | None = None, goal: str = ""
) -> None:
    """One figure for the runner's table (``python -m bench``): a ``RESULT`` JSON line.

    ``ceiling`` is the bare figure measured in the same run (same unit), when there is
    one; the ratio is ours / ceiling for rates and ceiling / ours for times.
    """
    line = {"figure": figure, "ours": ours, "unit": unit, "ceiling": ceiling, "goal": goal}
    print("RESULT " + json.dumps(line), flush=True)
