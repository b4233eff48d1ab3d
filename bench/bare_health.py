"""The ceiling of /healthz: a bare ASGI callable with the same answer, no framework.

granian --interface asgi --loop uvloop bare_health:app   (PYTHONPATH=bench)
"""

from __future__ import annotations

BODY = b'{"status":"ok","detail":null}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"29")],
}


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    await send(START)
    await send({"type": "http.response.body", "body": BODY})
