"""The ceiling of the sessions list: a bare ASGI app, no framework, no auth, the raw driver.

It answers any GET with page 1 of app ``BARE_APP_PK``'s listed sessions (20 rows, newest
first), their breakout rooms and the kept total, read with the same SQL our store runs,
straight from ``sqlite3`` or ``psycopg`` and encoded with msgspec. Served by granian:

    BARE_DATABASE_URL=sqlite:///x.db granian --interface asgi bench.bare_list:app
"""

from __future__ import annotations

import os
import sqlite3
import threading

import msgspec
import psycopg

URL = os.environ["BARE_DATABASE_URL"]
APP_PK = int(os.environ.get("BARE_APP_PK", "1"))
PAGE = (
    "SELECT * FROM sessions WHERE app_pk = {p} AND listed = TRUE "
    "ORDER BY started_ms DESC, session_id DESC LIMIT 20 OFFSET 0"
)
ROOMS = (
    "SELECT * FROM sessions WHERE app_pk = {p} AND parent_session_id IN ({ids}) "
    "AND started_ms IS NOT NULL ORDER BY started_ms, session_id"
)
TOTAL = "SELECT listed_sessions FROM apps WHERE app_pk = {p}"
_local = threading.local()
_encode = msgspec.json.Encoder().encode


def _connection():
    conn = getattr(_local, "conn", None)
    if conn is None:
        if URL.startswith("sqlite"):
            conn = sqlite3.connect(URL.split("///", 1)[1], check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        else:
            libpq = "postgresql://" + URL.split("://", 1)[1]
            conn = psycopg.connect(libpq, autocommit=True)
        _local.conn = conn
    return conn


def _page() -> bytes:
    conn = _connection()
    sqlite = isinstance(conn, sqlite3.Connection)
    mark = "?" if sqlite else "%s"
    cursor = conn.execute(PAGE.format(p=mark), (APP_PK,))
    names = [d[0] for d in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    ids = [row["session_id"] for row in rows]
    rooms = []
    if ids:
        holders = ", ".join([mark] * len(ids))
        cursor = conn.execute(ROOMS.format(p=mark, ids=holders), (APP_PK, *ids))
        rooms = cursor.fetchall()
    total = conn.execute(TOTAL.format(p=mark), (APP_PK,)).fetchone()[0]
    return _encode({"sessions": rows, "rooms": len(rooms), "total": total})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = _page()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
