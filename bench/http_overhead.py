"""HTTP overhead: ``GET /healthz`` of ``rtk-sessions serve`` beside a bare ASGI app on the
same server (granian, uvloop, one worker), each through ``wrk -c32`` in the same run.

    .venv/bin/python bench/http_overhead.py [--seconds 10]

serve answers /healthz ahead of the framework (``api.health.liveness_first``); what the
framework, auth and the app lookup cost per request is ``bench/request_costs.py``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import bench_env, free_port, report, serve_process, wait_until_answering  # noqa: E402
from scale_out import wrk  # noqa: E402

GRANIAN = str(Path(sys.executable).with_name("granian"))


@contextmanager
def bare_health():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent)}
    command = [
        GRANIAN,
        "--interface",
        "asgi",
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        "bare_health:app",
    ]
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_answering(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}/healthz"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        env = bench_env(f"sqlite:///{Path(tmp) / 'health.db'}")
        with serve_process(env) as (base, _):
            ours, _, ours_p99 = wrk(base + "/healthz", args.seconds, connections=32)
    with bare_health() as url:
        bare, _, bare_p99 = wrk(url, args.seconds, connections=32)
    print(f"/healthz, wrk -c32 {args.seconds}s, 1 worker")
    print(f"  ours: {ours:10,.0f} req/s  p99 {ours_p99:5.1f} ms")
    print(f"  bare: {bare:10,.0f} req/s  p99 {bare_p99:5.1f} ms   ratio {ours / bare:.2f}")
    report("/healthz over HTTP, wrk -c32 (granian, 1 worker)", ours, "req/s", bare, "≥ 85%")


if __name__ == "__main__":
    main()
