"""A loopback WebRTC call in Debian's Chromium with the JS collector on both ends
(``call.html``), served from its own origin so that the ingest is cross-origin (CORS)."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
COLLECTOR = ROOT / "clients" / "js" / "src" / "collector.js"
PAGE = Path(__file__).resolve().parent / "call.html"
CHROMIUM = Path(os.environ.get("RTK_TEST_CHROMIUM", "/usr/bin/chromium"))
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


class _PageFiles(http.server.BaseHTTPRequestHandler):
    files = {"/call.html": (PAGE, "text/html"), "/collector.js": (COLLECTOR, "text/javascript")}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        found = self.files.get(self.path.split("?")[0])
        if found is None:
            self.send_error(404)
            return
        body = found[0].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", found[1])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@contextmanager
def page_origin() -> Iterator[str]:
    """The call page and the collector, served on 127.0.0.1 at a port of their own."""
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _PageFiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def run_call(
    origin: str, ingest_url: str, token: str, session_id: str, seconds: float, pipe=None, **extra
) -> dict:
    """Load the page in headless Chromium with fake camera and microphone, wait for the
    call to end, and return what the page reports (collector errors, costs, recordings).
    With ``pipe`` (impairment.UdpPipe) all the call's packets cross it."""
    from playwright.sync_api import sync_playwright

    if pipe is not None:
        extra["pipe"] = "1"
    query = urlencode(
        {"ingest": ingest_url, "token": token, "session": session_id, "seconds": seconds, **extra}
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", *FAKE_MEDIA]
        )
        try:
            page = browser.new_page()
            if pipe is not None:
                page.expose_function(
                    "rtkPipe", lambda: {"ip": pipe.ip, "to_a": pipe.to_a, "to_b": pipe.to_b}
                )
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.on("pageerror", lambda error: console.append(f"error: {error}"))
            page.goto(f"{origin}/call.html?{query}")
            page.wait_for_function("window.result !== undefined", timeout=(seconds + 60) * 1000)
            result = page.evaluate("window.result")
            result["console"] = console
            return result
        finally:
            browser.close()
