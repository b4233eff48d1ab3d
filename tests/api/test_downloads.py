"""Chat, transcript and summary through the API: links, signed downloads, summary jobs.

Every download goes through the real server over HTTP without the API token, as a user's
browser or ``curl`` fetches it; the files are read back with independent parsers.
"""

from __future__ import annotations

import csv
import io
import json
import time
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
import srt
import webvtt

from tests.api.support import AppUnderTest, assert_not_found
from tests.factories import (
    MIN,
    SEC,
    T0,
    chat_message,
    meeting,
    started,
    transcript_segment,
    visit,
)

TITLE = "Quarterly planning"
LINES = [  # (peer, start ms from session start, end ms, text)
    ("ann", 1_000, 4_000, "Welcome everyone, let's review the roadmap for the next quarter."),
    ("bob", 3_500, 7_000, "I will send the budget numbers by Friday."),  # overlaps Ann
    ("ann", 8_000, 12_000, "We decided to ship the mobile app first."),
    ("bob", 3_725_004, 3_726_000, "One more thing <after> an hour & a bit."),
]


def call_events() -> list[dict]:
    events = [meeting("m1", TITLE), started("s1", "m1", T0)]
    events += visit("s1", "ann", T0, T0 + 70 * MIN, user_id="u-ann", display_name="Ann")
    events += visit("s1", "bob", T0 + SEC, T0 + 70 * MIN, user_id="u-bob", display_name="Bob")
    events += [
        chat_message("s1", "ann", T0 + 2 * SEC, "c1", "Hello, world"),
        chat_message("s1", "bob", T0 + 3 * SEC, "c2", '=HYPERLINK("http://x")'),
        chat_message("s1", "ann", T0 + 4 * SEC, "c3", "two\nlines, ünïcødé ✨"),
    ]
    events += [
        transcript_segment("s1", peer, T0 + end, start, end, text)
        for peer, start, end, text in LINES
    ]
    return events


@pytest.fixture
def call(app: AppUnderTest) -> AppUnderTest:
    app.ingest(call_events())
    return app


def fetch(url: str) -> httpx.Response:
    """A download as a browser does it: no API token."""
    return httpx.get(url, timeout=30)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query="&".join(f"{k}={v}" for k, v in query.items())))


def test_chat_link_downloads_the_csv_without_a_token(call: AppUnderTest) -> None:
    data = call.ok("/sessions/s1/chat")["data"]
    assert set(data) == {"chat_download_url", "chat_download_url_expiry"}
    assert data["chat_download_url"].startswith(call.server.url + "/downloads/")
    assert data["chat_download_url_expiry"] == "2026-01-01T01:00:00.000Z"  # T0 + 1 h
    response = fetch(data["chat_download_url"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"), newline="")))
    assert rows[0] == ["id", "participantId", "sessionId", "meetingId", "displayName",
                       "pinned", "isEdited", "payloadType", "payload", "createdAt"]
    assert [(r[0], r[1], r[2], r[3], r[4], r[8]) for r in rows[1:]] == [
        ("c1", "ann", "s1", "m1", "Name ann", "Hello, world"),
        ("c2", "bob", "s1", "m1", "Name bob", "'=HYPERLINK(\"http://x\")"),
        ("c3", "ann", "s1", "m1", "Name ann", "two\nlines, ünïcødé ✨"),
    ]
    assert rows[1][9] == "2026-01-01T00:00:02.000Z"


def test_links_are_only_for_their_artifact_and_until_their_expiry(call: AppUnderTest) -> None:
    url = call.ok("/sessions/s1/chat")["data"]["chat_download_url"]
    signature = parse_qs(urlsplit(url).query)["sig"][0]
    forged = with_query(url, sig=signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    assert fetch(forged).status_code == 403
    later = with_query(url, exp=str(int(parse_qs(urlsplit(url).query)["exp"][0]) + 3600))
    assert fetch(later).status_code == 403  # a longer life is not the signer's
    transcript = call.ok("/sessions/s1/transcript")["data"]["transcript_download_url"]
    swapped = urlunsplit(urlsplit(transcript)._replace(query=urlsplit(url).query))
    assert fetch(swapped).status_code == 403  # chat's signature does not open the transcript
    assert fetch(url.split("?")[0]).status_code == 403  # unsigned
    call.clock.now_ms = T0 + 3600 * SEC + SEC
    expired = fetch(url)
    assert expired.status_code == 403 and "link expired" in expired.json()["error"]["message"]


def test_no_chat_or_transcript_is_a_404_that_says_so(app: AppUnderTest) -> None:
    app.ingest([started("quiet", "m", T0), *visit("quiet", "p", T0, T0 + MIN)])
    assert "no chat" in assert_not_found(app.get("/sessions/quiet/chat"))
    assert "no transcript" in assert_not_found(app.get("/sessions/quiet/transcript"))
    assert "no transcript" in assert_not_found(app.http.post(app.base + "/sessions/quiet/summary"))
    assert "not found" in assert_not_found(app.get("/sessions/nope/chat"))


def test_transcript_in_every_format(call: AppUnderTest) -> None:
    def download(fmt: str) -> str:
        data = call.ok("/sessions/s1/transcript", format=fmt)["data"]
        assert data["sessionId"] == "s1"
        response = fetch(data["transcript_download_url"])
        assert response.status_code == 200, response.text
        return response.content.decode("utf-8")

    rows = list(csv.DictReader(io.StringIO(download("CSV"), newline="")))
    assert [(r["Timestamp"], r["Participant ID"], r["User ID"], r["Participant Name"],
             r["Transcript"]) for r in rows] == [
        (str(start), peer, f"u-{peer}", peer.title(), text) for peer, start, _, text in LINES
    ]
    cues = json.loads(download("JSON"))
    assert [(c["startTime"], c["endTime"], c["sentence"], c["peerData"]["displayName"])
            for c in cues] == [(s, e, t, p.title()) for p, s, e, t in LINES]
    subtitles = list(srt.parse(download("SRT")))
    assert [(int(s.start.total_seconds() * 1000), s.content) for s in subtitles] == [
        (start, f"{peer.title()}: {text}") for peer, start, _, text in LINES
    ]
    vtt = webvtt.from_buffer(io.StringIO(download("VTT")))
    assert [cue.start for cue in vtt] == ["00:00:01.000", "00:00:03.500", "00:00:08.000",
                                          "01:02:05.004"]
    assert "Bob" in vtt[1].raw_text and "budget numbers" in vtt[1].raw_text


def test_unknown_transcript_format_is_a_400(call: AppUnderTest) -> None:
    assert call.get("/sessions/s1/transcript", format="DOCX").status_code == 400


def wait_for_summary(app: AppUnderTest, session_id: str = "s1", timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = app.get(f"/sessions/{session_id}/summary")
        if response.status_code == 200:
            return response.json()["data"]
        message = response.json()["error"]["message"]
        assert "being generated" in message, message
        time.sleep(0.05)
    raise AssertionError("summary not generated in time")


def test_summary_is_queued_once_generated_offline_and_downloadable(call: AppUnderTest) -> None:
    assert "not generated yet" in assert_not_found(call.get("/sessions/s1/summary"))
    first = call.http.post(call.base + "/sessions/s1/summary", json={"text_format": "markdown"})
    assert first.status_code == 200, first.text
    assert first.json()["data"]["session_id"] == "s1"
    assert first.json()["data"]["status"] in ("queued", "running", "done")
    data = wait_for_summary(call)
    assert set(data) == {"sessionId", "summaryDownloadUrl", "summaryDownloadUrlExpiry"}
    text = fetch(data["summaryDownloadUrl"]).content.decode()
    assert TITLE in text and "Ann" in text and "Bob" in text
    for section in ("Key Discussion Points", "Action Items", "Decisions"):
        assert section in text
    assert "I will send the budget numbers by Friday." in text.split("Action Items")[1]
    assert "We decided to ship the mobile app first." in text.split("Decisions")[1]
    again = call.http.post(call.base + "/sessions/s1/summary", json={"text_format": "markdown"})
    assert again.json()["data"]["status"] == "done"  # same transcript, same options


def test_a_second_post_while_queued_queues_nothing(call: AppUnderTest) -> None:
    statuses = [
        call.http.post(call.base + "/sessions/s1/summary").json()["data"]["status"]
        for _ in range(5)
    ]
    wait_for_summary(call)
    from rtk_sessions.store.apps import find_app
    from rtk_sessions.store.jobs import latest_job

    with call.server.db.read() as conn:
        app_pk = find_app(conn, "acc-1", call.app_id)
    job = latest_job(call.server.db, app_pk, "s1", "summary")
    assert job is not None and job.job_id == _first_job_id(call, app_pk)
    assert set(statuses) <= {"queued", "running", "done"}


def _first_job_id(call: AppUnderTest, app_pk: int) -> int:
    from sqlalchemy import func, select

    from rtk_sessions.store.tables import jobs

    with call.server.db.read() as conn:
        count, first = conn.execute(
            select(func.count(), func.min(jobs.c.job_id)).where(jobs.c.app_pk == app_pk)
        ).one()
    assert count == 1, f"{count} jobs queued for one session"
    return first


@pytest.mark.parametrize("body, named", [
    ({"word_limit": 10}, "word_limit"),
    ({"text_format": "html"}, "text_format"),
    ({"colour": "blue"}, "colour"),
])
def test_bad_summary_options_are_a_400_naming_them(call: AppUnderTest, body, named) -> None:
    response = call.http.post(call.base + "/sessions/s1/summary", json=body)
    assert response.status_code == 400, response.text
    assert named in response.text


def test_a_link_from_one_replica_opens_on_another(call: AppUnderTest) -> None:
    """The signing key was generated once and kept in the database: every process on it
    checks links with the same key (and a configured key would override it)."""
    from rtk_sessions.app import create_app
    from rtk_sessions.config import Settings
    from tests.conftest import free_port, serve_in_thread

    url = call.ok("/sessions/s1/chat")["data"]["chat_download_url"]
    other = create_app(Settings(database_url=call.server.db.url), database=call.server.db,
                       clock=call.clock)
    port = free_port()
    server, thread = serve_in_thread(other, port)
    try:
        path = url.split(call.server.url, 1)[1]
        assert fetch(f"http://127.0.0.1:{port}{path}").status_code == 200
        keyed = create_app(
            Settings(database_url=call.server.db.url, download_secret="another-key"),
            database=call.server.db, clock=call.clock,
        )
        keyed_port = free_port()
        keyed_server, keyed_thread = serve_in_thread(keyed, keyed_port)
        try:
            assert fetch(f"http://127.0.0.1:{keyed_port}{path}").status_code == 403
        finally:
            keyed_server.should_exit = True
            keyed_thread.join(timeout=10)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
