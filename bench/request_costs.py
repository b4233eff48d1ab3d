"""What one request costs inside the app, without a server or a socket: the ASGI app called
directly in a loop, so the figures are the framework's and ours alone.

    .venv/bin/python bench/request_costs.py [--sessions 5000] [--requests 2000]

- ``/healthz``: routing and response encoding only (no auth, no database);
- an unknown session: auth (the token's grant, kept per process for
  RTK_TOKEN_CACHE_SECONDS), the app lookup (kept per process) and a 404;
- page 1 of the sessions list (20 rows): all of the above plus the page's queries and
  rendering;
- the same page with the grant read on every request (``RTK_TOKEN_CACHE_SECONDS=0``).

The ceiling is a bare ASGI callable answering the same ``/healthz`` body.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bare_health import app as bare  # noqa: E402
from common import report  # noqa: E402
from scale_out import app_events  # noqa: E402

from rtk_sessions.app import create_app  # noqa: E402
from rtk_sessions.config import Settings  # noqa: E402
from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402
from rtk_sessions.store.tokens import create_token  # noqa: E402

API = "/accounts/bench/realtime/kit/app0"


async def per_request_us(app, path: str, token: str, requests: int) -> float:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path.partition("?")[0],
        "raw_path": path.partition("?")[0].encode(),
        "query_string": path.partition("?")[2].encode(),
        "root_path": "",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
    }

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        return None

    for _ in range(50):
        await app(dict(scope, state={}), receive, send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(dict(scope, state={}), receive, send)
    return (time.perf_counter() - started) / requests * 1e6


async def measure(url: str, token: str, requests: int) -> None:
    db = Database(url)
    cached = create_app(Settings(database_url=url, jobs_in_serve=False), database=db)
    uncached = create_app(
        Settings(database_url=url, jobs_in_serve=False, token_cache_seconds=0), database=db
    )
    ceiling = await per_request_us(bare, "/healthz", token, requests)
    figures = {
        "/healthz": await per_request_us(cached, "/healthz", token, requests),
        "unknown session (auth, app lookup, 404)": await per_request_us(
            cached, f"{API}/sessions/no-such-session", token, requests
        ),
        "sessions list page 1": await per_request_us(cached, f"{API}/sessions", token, requests),
        "sessions list page 1, grant read every time": await per_request_us(
            uncached, f"{API}/sessions", token, requests
        ),
    }
    print(f"bare ASGI /healthz: {ceiling:8.1f} µs per request")
    for name, us in figures.items():
        print(f"{name:46} {us:8.1f} µs per request")
        bare_figure = ceiling / 1000 if name == "/healthz" else None
        report(f"in-process cost: {name} (SQLite)", us / 1000, "ms", bare_figure)
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        url = f"sqlite:///{Path(tmp) / 'costs.db'}"
        db = Database(url)
        upgrade(db)
        lines = [msgspec.json.encode(e) for e in app_events(0, args.sessions)]
        for start in range(0, len(lines), 5_000):
            ingest_items(db, "bench", "app0", lines[start : start + 5_000], 0)
        db.refresh_statistics()
        with db.write() as conn:
            _, token = create_token(
                conn,
                account_id="bench",
                app_ids=None,
                scopes=["read"],
                email=None,
                name="bench",
                now_ms=0,
            )
        db.dispose()
        asyncio.run(measure(url, token, args.requests))


if __name__ == "__main__":
    main()
