"""The files RealtimeKit's chat, transcript and summary webhooks link to: fetched by a
job from a real file server on 127.0.0.1 when ``RTK_WEBHOOKS_FETCH_FILES`` is on, then
served by our own downloads; only recorded when it is off (the default)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rtk_sessions.clock import iso_ms
from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key
from tests.api.support import running_server
from tests.conftest import ACCOUNT, LiveServer
from tests.factories import MIN, SEC, T0
from tests.rtk_webhooks import delivery, meeting, meeting_started, participant_joined, public_pem

_apps = itertools.count(1)
SESSION = "s-files"
M = meeting("m-files", SESSION, "Files call", T0)

CHAT_CSV = (  # RealtimeKit's chat CSV (exports.md), as their link serves it
    "id,participantId,sessionId,meetingId,displayName,pinned,isEdited,payloadType,payload,"
    "createdAt\r\n"
    f"m1,p-ann,{SESSION},m-files,Ann,false,false,TEXT_MESSAGE,Hello all,{iso_ms(T0 + 2 * SEC)}\r\n"
    f'm2,p-bob,{SESSION},m-files,Bob,true,true,TEXT_MESSAGE,"two\nlines, ünï",'
    f"{iso_ms(T0 + 5 * SEC)}\r\n"
)
TRANSCRIPT_CSV = (
    "Timestamp,Participant ID,User ID,Custom Participant ID,Participant Name,Transcript\r\n"
    "1000,p-ann,u-ann,,Ann,Welcome everyone to the call\r\n"  # 5 words: ends at next start
    "2500,p-bob,u-bob,,Bob,Thanks\r\n"  # 1 word: 400 ms
    "9000,p-ann,u-ann,,Ann,Let us begin\r\n"  # last: 3 words, 1,200 ms
)
SUMMARY = "The team met and agreed to ship on Friday."


class FileServer:
    """Serves ``files`` by path on 127.0.0.1; the first ``failures[path]`` GETs get a 500."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}
        self.failures: dict[str, int] = {}
        self.requests: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.requests.append(self.path)
                if outer.failures.get(self.path, 0) > 0:
                    outer.failures[self.path] -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.end_headers()
                self.wfile.write((body or "").encode())

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def files() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def fetching(backend: str, tmp_path_factory) -> Iterator[LiveServer]:
    with running_server(backend, tmp_path_factory.mktemp("fetch"), webhooks_fetch_files=True,
                        job_poll_seconds=0.05) as live:
        yield live


def call_app(live: LiveServer, http: httpx.Client) -> str:
    """A new app with a key, holding a started session with two peers (by webhook)."""
    app_id = f"files-{next(_apps)}"
    set_webhook_key(live.db, WebhookKeyRow(ACCOUNT, app_id, public_pem(), "f" * 64, T0))
    for peer, name in (("p-ann", "Ann"), ("p-bob", "Bob")):
        joined = {"peerId": peer, "userId": f"u-{peer[2:]}", "userDisplayName": name,
                  "joinedAt": iso_ms(T0 + SEC)}
        send(http, app_id, participant_joined(M, joined))
    send(http, app_id, meeting_started(M))
    return app_id


def send(http: httpx.Client, app_id: str, payload: dict) -> dict:
    sent = delivery(payload)
    answer = http.post(f"/webhooks/rtk/accounts/{ACCOUNT}/apps/{app_id}", content=sent.body,
                       headers=sent.headers())
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def linked(event: str, kind: str, url: str) -> dict:
    return {"event": event, "sessionId": SESSION, "meetingId": "m-files",
            f"{kind}DownloadUrl": url, f"{kind}DownloadUrlExpiry": iso_ms(T0 + 60 * MIN)}


def download(http: httpx.Client, app_id: str, what: str, timeout_s: float = 20, **params) -> str:
    """Our own download of ``what`` (chat, transcript, summary), once the job made it."""
    path = f"/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions/{SESSION}/{what}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = http.get(path, params=params)
        if answer.status_code == 200:
            url = next(v for k, v in answer.json()["data"].items() if k.endswith("ownload_url")
                       or k == "summaryDownloadUrl")
            return httpx.get(url, timeout=30).content.decode("utf-8")
        time.sleep(0.05)
    raise AssertionError(f"{what} not fetched in time: {answer.text}")


def test_the_linked_chat_is_fetched_and_served_as_our_chat(fetching, files):
    files.files["/chat-1.csv"] = CHAT_CSV
    with fetching.client() as http:
        app_id = call_app(fetching, http)
        send(http, app_id, linked("meeting.chatSynced", "chat", files.url + "/chat-1.csv"))
        rows = list(csv.DictReader(io.StringIO(download(http, app_id, "chat"), newline="")))
    served = list(csv.DictReader(io.StringIO(CHAT_CSV, newline="")))
    keys = ("id", "participantId", "sessionId", "displayName", "pinned", "isEdited",
            "payloadType", "payload", "createdAt")
    assert [{k: r[k] for k in keys} for r in rows] == [{k: r[k] for k in keys} for r in served]


def test_the_linked_transcript_is_fetched_with_ends_from_the_next_start(fetching, files):
    files.files["/transcript-1.csv"] = TRANSCRIPT_CSV
    with fetching.client() as http:
        app_id = call_app(fetching, http)
        send(http, app_id,
             linked("meeting.transcript", "transcript", files.url + "/transcript-1.csv"))
        cues = json.loads(download(http, app_id, "transcript", format="JSON"))
    assert [(c["startTime"], c["endTime"], c["sentence"], c["peerData"]["id"]) for c in cues] == [
        (1000, 2500, "Welcome everyone to the call", "p-ann"),  # 5 words would end at 3,000
        (2500, 2900, "Thanks", "p-bob"),
        (9000, 10200, "Let us begin", "p-ann"),
    ]


def test_the_linked_summary_becomes_the_sessions_summary(fetching, files):
    files.files["/summary-1.txt"] = SUMMARY
    with fetching.client() as http:
        app_id = call_app(fetching, http)
        send(http, app_id, linked("meeting.summary", "summary", files.url + "/summary-1.txt"))
        assert download(http, app_id, "summary") == SUMMARY


def test_a_failing_link_is_retried_with_back_off(fetching, files):
    files.files["/chat-flaky.csv"] = CHAT_CSV
    files.failures["/chat-flaky.csv"] = 1
    before = files.requests.count("/chat-flaky.csv")
    with fetching.client() as http:
        app_id = call_app(fetching, http)
        send(http, app_id, linked("meeting.chatSynced", "chat", files.url + "/chat-flaky.csv"))
        deadline = time.monotonic() + 10
        while files.failures["/chat-flaky.csv"] and time.monotonic() < deadline:
            time.sleep(0.05)
        fetching.clock.now_ms += 3 * SEC  # past the first back-off (2 s)
        try:
            assert "Hello all" in download(http, app_id, "chat")
        finally:
            fetching.clock.now_ms = T0
    assert files.requests.count("/chat-flaky.csv") - before == 2  # one failure, one success


def test_with_the_setting_off_links_are_only_recorded(backend, tmp_path, files):
    files.files["/chat-off.csv"] = CHAT_CSV
    with running_server(backend, tmp_path, job_poll_seconds=0.05) as live, live.client() as http:
        app_id = call_app(live, http)
        data = send(http, app_id, linked("meeting.chatSynced", "chat", files.url + "/chat-off.csv"))
        assert data == {"accepted": 1, "duplicates": 0, "rejected": []}
        time.sleep(0.5)  # a worker polling every 50 ms would have fetched it by now
        chat = http.get(f"/accounts/{ACCOUNT}/realtime/kit/{app_id}/sessions/{SESSION}/chat")
    assert chat.status_code == 404 and "no chat" in chat.json()["error"]["message"]
    assert "/chat-off.csv" not in files.requests
