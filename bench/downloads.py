"""Downloads at size: the chat CSV of a 100,000-message session and the transcript of a
3-hour session, through a real server, each beside the bare SQL read of the same rows.

    .venv/bin/python bench/downloads.py [--messages 100000] [--hours 3] [--postgres URL]

The events are ingested through the pipeline into a fresh database (SQLite in a folder
here; PostgreSQL in a new schema of ``--postgres`` or ``RTK_TEST_POSTGRES_URL`` when
given), then ``rtk-sessions serve`` answers the link requests and the downloads. Each
figure is the time from asking for the link to the file's last byte, over HTTP on
127.0.0.1. The ceiling is the raw driver reading the same event payloads in the same
order (no decoding, no CSV). Peak memory is the server worker's peak RSS (VmHWM) before
and after the downloads.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import httpx
import msgspec
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report, served  # noqa: E402

from rtk_sessions.ingest.pipeline import ingest_items  # noqa: E402
from rtk_sessions.store.database import Database  # noqa: E402
from rtk_sessions.store.migrate import upgrade  # noqa: E402

T0 = 1_767_225_600_000
WORDS = "we will review the roadmap budget numbers and ship the release after testing it".split()


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def events(messages: int, hours: float) -> list[bytes]:
    out = [
        {
            "id": "start-chat",
            "type": "session.started",
            "ts": iso(T0),
            "session_id": "chat",
            "meeting_id": "m",
        },
        {
            "id": "start-talk",
            "type": "session.started",
            "ts": iso(T0),
            "session_id": "talk",
            "meeting_id": "m2",
        },
    ]
    for p in range(8):
        for session in ("chat", "talk"):
            out.append(
                {
                    "id": f"join-{session}-{p}",
                    "type": "peer.joined",
                    "ts": iso(T0 + p),
                    "session_id": session,
                    "peer_id": f"{session}-p{p}",
                    "display_name": f"Person {p}",
                    "user_id": f"u{p}",
                }
            )
    for n in range(messages):
        text = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(4 + n % 9))
        out.append(
            {
                "id": f"msg-{n}",
                "type": "chat.message",
                "ts": iso(T0 + 1000 + n * 50),
                "session_id": "chat",
                "message_id": f"m{n}",
                "peer_id": f"chat-p{n % 8}",
                "display_name": f"Person {n % 8}",
                "payload": text,
            }
        )
    segment, cursor, n = 3_500, 2_000, 0
    while cursor + segment < hours * 3_600_000:
        text = " ".join(WORDS[(n + i) % len(WORDS)] for i in range(6 + n % 7)) + "."
        out.append(
            {
                "id": f"seg-{n}",
                "type": "transcript.segment",
                "ts": iso(T0 + cursor),
                "session_id": "talk",
                "peer_id": f"talk-p{n % 8}",
                "start_ms": cursor,
                "end_ms": cursor + segment - 300,
                "text": text,
            }
        )
        cursor, n = cursor + segment, n + 1
    return [msgspec.json.encode(e) for e in out]


def bare_read(url: str, session_id: str, event_type: str) -> tuple[float, int]:
    """Seconds to read the payloads with the raw driver, and how many rows."""
    query = (
        "SELECT payload FROM events WHERE app_pk = 1 AND session_id = {m} AND type = {m} "
        "ORDER BY ts_ms, event_id"
    )
    started = time.perf_counter()
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as conn:
            rows = conn.execute(query.format(m="?"), (session_id, event_type)).fetchall()
    else:
        with psycopg.connect("postgresql://" + url.split("://", 1)[1]) as conn:
            rows = conn.execute(query.format(m="%s"), (session_id, event_type)).fetchall()
    return time.perf_counter() - started, len(rows)


def worker_peak_rss_kb(server_pid_hint: int | None = None) -> int:
    """The highest VmHWM among this machine's granian worker processes of the bench."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
            cmdline = (status.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if b"rtk_sessions.asgi" not in cmdline and b"rtk-sessions" not in cmdline:
            continue
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
    return peak


def timed_download(http: httpx.Client, api: str, path: str, **params: str) -> tuple[float, int]:
    started = time.perf_counter()
    link = http.get(f"{api}{path}", params=params)
    link.raise_for_status()
    data = link.json()["data"]
    url = next(v for k, v in data.items() if k.endswith(("download_url", "DownloadUrl")))
    size = 0
    with httpx.stream("GET", url, timeout=120) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
    return time.perf_counter() - started, size


def run(url: str, lines: list[bytes]) -> None:
    db = Database(url)
    upgrade(db)
    for start in range(0, len(lines), 5_000):
        ingested = ingest_items(db, "bench", "app", lines[start : start + 5_000], T0)
        assert not ingested.rejected, ingested.rejected[:2]
    db.dispose()
    chat_bare, chat_rows = bare_read(url, "chat", "chat.message")
    talk_bare, talk_rows = bare_read(url, "talk", "transcript.segment")
    with served(url, RTK_JOBS_IN_SERVE="false") as (base, token):
        api = "/accounts/bench/realtime/kit/app/sessions"
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as http:
            http.get(f"{api}/chat/chat").raise_for_status()  # warm: imports, secret
            before = worker_peak_rss_kb()
            chat_s, chat_bytes = timed_download(http, api, "/chat/chat")
            after = worker_peak_rss_kb()
            kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
            report(
                f"chat CSV of {chat_rows:,} messages to the last byte ({kind})",
                chat_s,
                "s",
                chat_bare,
                "≤ 2 s",
            )
            report(f"chat CSV download: server worker peak RSS ({kind})", after / 1024, "MiB")
            print(
                f"chat CSV, {chat_rows:,} messages: {chat_s:6.3f} s to the last byte "
                f"({chat_bytes / 1e6:.1f} MB); bare SQL read {chat_bare:6.3f} s "
                f"= {chat_bare / chat_s:.0%} of ours; worker peak RSS "
                f"{before / 1024:.0f} -> {after / 1024:.0f} MiB"
            )
            for fmt in ("CSV", "JSON", "SRT", "VTT"):
                talk_s, talk_bytes = timed_download(http, api, "/talk/transcript", format=fmt)
                report(
                    f"transcript {fmt} of a 3-hour session ({talk_rows:,} segments, {kind})",
                    talk_s,
                    "s",
                    talk_bare,
                    "≤ 1 s",
                )
                print(
                    f"transcript {fmt:4}, {talk_rows:,} segments: {talk_s:6.3f} s "
                    f"({talk_bytes / 1e3:.0f} kB); bare SQL read {talk_bare:6.3f} s"
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--postgres", default=os.environ.get("RTK_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    lines = events(args.messages, args.hours)
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        print("-- SQLite")
        run(f"sqlite:///{Path(tmp) / 'downloads.db'}", lines)
    if args.postgres:
        schema = f"rtk_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            print("-- PostgreSQL")
            run(f"{args.postgres}?options={quote(f'-csearch_path={schema}')}", lines)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
