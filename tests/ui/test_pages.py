"""The dashboard over HTTP on both databases: signing in and out, the cookie, CSRF,
who may see what, and that each page shows the scenario's numbers (tests/ui/scenario.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from rtk_sessions.store.tokens import revoke
from tests.api.support import running_server
from tests.conftest import LiveServer, make_token
from tests.ui import scenario

SESSIONS = f"/ui/apps/{scenario.APP}/sessions"
SESSION = f"{SESSIONS}/{scenario.SESSION}"


def browser(server: LiveServer) -> httpx.Client:
    """A client that keeps cookies and does not follow redirects, like a careful browser."""
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


@contextmanager
def sign_in(server: LiveServer, token: str) -> Iterator[httpx.Client]:
    with browser(server) as client:
        answer = client.post("/ui/sign-in", data={"token": token, "next": "/ui/"})
        assert answer.status_code == 303, answer.text
        yield client


@pytest.fixture
def viewer(ui_server: LiveServer) -> Iterator[httpx.Client]:
    with sign_in(ui_server, make_token(ui_server.db, scenario.ACCOUNT, scopes=("read",))) as client:
        yield client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', html).group(1)  # type: ignore[union-attr]


def session_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-session-id="([^"]+)"', html)


# --- signing in and out -------------------------------------------------------------


def test_sign_in_keeps_the_token_in_a_strict_httponly_cookie(ui_server: LiveServer) -> None:
    with browser(ui_server) as client:
        answer = client.post("/ui/sign-in", data={"token": ui_server.token, "next": SESSIONS})
        assert answer.status_code == 303 and answer.headers["location"] == SESSIONS
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("rtk_ui_token=")
        attributes = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=strict", "path=/ui"} <= attributes
        assert "secure" not in attributes  # plain http: a Secure cookie would never come back
        assert client.get(SESSIONS).status_code == 200


def test_the_cookie_is_secure_when_the_dashboard_is_reached_over_https(tmp_path) -> None:
    with running_server("sqlite", tmp_path, public_url="https://rtk.example.com") as server:
        with browser(server) as client:
            answer = client.post("/ui/sign-in", data={"token": server.token})
            attributes = {p.strip().lower() for p in answer.headers["set-cookie"].split(";")}
            assert {"secure", "httponly", "samesite=strict"} <= attributes


def test_an_unknown_or_write_only_token_does_not_sign_in(ui_server: LiveServer) -> None:
    ingest_only = make_token(ui_server.db, scenario.ACCOUNT, scopes=("ingest",))
    with browser(ui_server) as client:
        for token in ("rtk_nope_nope", ingest_only, ""):
            answer = client.post("/ui/sign-in", data={"token": token})
            assert answer.status_code in (401, 400) and "set-cookie" not in answer.headers
        assert (
            "may not read sessions" in client.post("/ui/sign-in", data={"token": ingest_only}).text
        )


def test_pages_send_a_signed_out_browser_to_sign_in_and_back(ui_server: LiveServer) -> None:
    with browser(ui_server) as client:
        answer = client.get(SESSION)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/ui/sign-in?next={SESSION}"
        form = client.get(answer.headers["location"]).text
        assert f'name="next" value="{SESSION}"' in form
        # only a dashboard path is followed after signing in (no open redirect)
        for evil in ("https://evil.example/", "//evil.example/ui/", "/ui/\\evil"):
            signed = client.post("/ui/sign-in", data={"token": ui_server.token, "next": evil})
            assert signed.headers["location"] == "/ui/"


def test_sign_out_needs_the_forms_csrf_token_and_forgets_the_cookie(ui_server: LiveServer) -> None:
    with sign_in(ui_server, ui_server.token) as client:
        page = client.get(SESSIONS).text
        assert client.post("/ui/sign-out", data={}).status_code == 403
        assert client.get(SESSIONS).status_code == 200  # still signed in
        out = client.post("/ui/sign-out", data={"csrf": csrf_of(page)})
        assert out.status_code == 303 and out.headers["location"] == "/ui/sign-in"
        assert (
            'rtk_ui_token=""' in out.headers["set-cookie"]
            or "max-age=0" in out.headers["set-cookie"].lower()
        )
        assert client.get(SESSIONS).status_code == 303


def test_a_revoked_token_is_signed_out(ui_server: LiveServer) -> None:
    token = make_token(ui_server.db, scenario.ACCOUNT, scopes=("read",))
    with sign_in(ui_server, token) as client:
        assert client.get(SESSIONS).status_code == 200
        token_id = token.split("_")[1]
        with ui_server.db.write() as conn:
            assert revoke(conn, token_id, now_ms=1)
        time.sleep(1.1)  # each process keeps a grant for RTK_TOKEN_CACHE_SECONDS (1 s)
        assert client.get(SESSIONS).status_code == 303


# --- who may see what ---------------------------------------------------------------


def test_another_accounts_session_is_not_shown(ui_server: LiveServer, viewer: httpx.Client) -> None:
    for path in (
        f"/ui/apps/{scenario.OTHER_APP}/sessions",
        f"/ui/apps/{scenario.OTHER_APP}/sessions/{scenario.OTHER_SESSION}",
        f"/ui/apps/{scenario.APP}/sessions/{scenario.OTHER_SESSION}",
        f"/ui/apps/{scenario.OTHER_APP}/peers/p-eve",
    ):
        answer = viewer.get(path)
        assert answer.status_code == 404, path
        assert "Secret board meeting" not in answer.text and "Eve" not in answer.text


def test_a_token_for_some_apps_sees_only_those(ui_server: LiveServer) -> None:
    token = make_token(ui_server.db, scenario.ACCOUNT, apps=["another-app"], scopes=("read",))
    with sign_in(ui_server, token) as client:
        answer = client.get(SESSIONS)
        assert answer.status_code == 403 and "may not read app ui-app" in answer.text
        assert client.get(f"{SESSIONS}/{scenario.SESSION}").status_code == 403


def test_the_app_switcher_lists_the_accounts_apps(ui_server: LiveServer) -> None:
    ingest = make_token(ui_server.db, scenario.ACCOUNT)
    with ui_server.client(ingest) as http:
        http.post(f"/ingest/accounts/{scenario.ACCOUNT}/apps/ui-second/events", json=[])
    second = ui_server.ingest(
        [e for e in scenario.events_of_the_other_account()], scenario.ACCOUNT, "ui-second"
    )
    assert second.status_code == 200
    with sign_in(ui_server, ui_server.token) as client:
        page = client.get(SESSIONS).text
        options = re.findall(r'<option value="([^"]+)"[^>]*>\1</option>', page)
        assert {"ui-app", "ui-second"} <= set(options)
        assert scenario.OTHER_APP not in options  # another account's
        switched = client.get("/ui/switch", params={"app": "ui-second"})
        assert switched.headers["location"] == "/ui/apps/ui-second/sessions"


# --- the sessions list --------------------------------------------------------------


@pytest.mark.parametrize(
    ("ui_query", "api_query"),
    [
        ({}, {}),
        ({"status": "ENDED", "order": "ASC"}, {"status": "ENDED", "sort_order": "ASC"}),
        ({"sort": "minutesConsumed"}, {"sort_by": "minutesConsumed"}),
        ({"search": "weekly"}, {"search": "weekly"}),
        ({"search": "board"}, {"search": "board"}),
        ({"participants": "2:"}, {"participants": "2:"}),
        ({"participants": "9:"}, {"participants": "9:"}),
        ({"from": "2026-01-02"}, {"start_time": "2026-01-02T00:00:00Z"}),
        ({"to": "2026-01-01"}, {"end_time": "2026-01-01T23:59:59.999Z"}),
    ],
)
def test_the_list_is_the_apis_list(
    ui_server: LiveServer, viewer: httpx.Client, ui_query: dict, api_query: dict
) -> None:
    page = viewer.get(SESSIONS, params=ui_query)
    assert page.status_code == 200
    with ui_server.client() as http:
        api = http.get(
            f"{ui_server.api(scenario.ACCOUNT, scenario.APP)}/sessions", params=api_query
        )
    expected = [s["id"] for s in api.json()["data"]["sessions"]]
    assert session_ids(page.text) == expected


def test_a_row_shows_the_scenarios_minutes_and_peak(viewer: httpx.Client) -> None:
    page = viewer.get(SESSIONS).text
    row = page[page.index(f'data-session-id="{scenario.SESSION}"') :].split("</tr>")[0]
    assert re.search(r'data-field="minutes">50\.0<', row)  # Ada 10 + 15, Bo 25
    assert re.search(r'data-field="peak">2<', row)
    assert "Weekly sync" in row and "30 min 00 s" in row and "Ended" in row


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"participants": "lots"}, "participants must be"),
        ({"status": "MAYBE"}, "status must be one of"),
        ({"from": "yesterday"}, "from must be a day as YYYY-MM-DD"),
        ({"page": "0"}, "page must be a whole number"),
        ({"per_page": "7"}, "per_page must be one of"),
        ({"search": "x" * 201}, "search must be at most 200"),
    ],
)
def test_bad_filters_are_named_in_a_400_page(viewer: httpx.Client, query: dict, named: str) -> None:
    answer = viewer.get(SESSIONS, params=query)
    assert answer.status_code == 400 and named in answer.text
    assert answer.headers["content-type"].startswith("text/html")


def test_live_rows_come_alone_when_the_page_refreshes_them(viewer: httpx.Client) -> None:
    rows = viewer.get(SESSIONS, headers={"X-Rtk-Fragment": "rows"}).text
    assert rows.lstrip().startswith("<tr") and "<html" not in rows
    assert session_ids(rows) == session_ids(viewer.get(SESSIONS).text)


def test_pages_load_nothing_from_elsewhere(viewer: httpx.Client) -> None:
    page = viewer.get(SESSIONS)
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy
    assert not re.search(r'(src|href)="(https?:)?//', page.text)
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["server-timing"].startswith("app;dur=")


# --- the session page ---------------------------------------------------------------


def test_the_session_page_shows_the_scenario(viewer: httpx.Client) -> None:
    page = viewer.get(SESSION).text
    main, _, rooms = page.partition('id="rooms-heading"')
    assert re.search(r'data-field="minutes">50\.0<', main)
    assert re.search(r'data-field="peak">2<', main)
    bars = re.findall(r'data-peer-id="([^"]+)" data-joined-ms="(\d+)" data-left-ms="(\d*)"', page)
    expected = {(peer, str(joined), str(left)) for peer, _, _, joined, left, _ in scenario.STAYS}
    assert set(bars) == expected
    # Ada's two stays on one lane
    ada_lane = main[main.index('data-lane="u-ada"') :].split('class="lane"')[0]
    assert ada_lane.count('class="bar') == 2 and "(1 rejoin)" in ada_lane
    assert "Cy Twombly" in rooms and "Cy Twombly" not in main
    assert re.search(r'data-field="minutes">5\.0<', rooms)


def test_downloads_go_to_signed_links(viewer: httpx.Client) -> None:
    answer = viewer.get(f"{SESSION}/download/chat")
    assert answer.status_code == 303
    link = urlsplit(answer.headers["location"])
    assert link.path.startswith("/downloads/") and "sig=" in link.query
    csv = httpx.get(answer.headers["location"]).text
    assert "Hello Ada" in csv and "'=SUM(1,1) is two" in csv  # a formula neutralised, as the API's
    for fmt in ("CSV", "JSON", "SRT", "VTT"):
        moved = viewer.get(f"{SESSION}/download/transcript-{fmt}")
        assert moved.status_code == 303
        assert "launch checklist" in httpx.get(moved.headers["location"]).text
    assert viewer.get(f"{SESSION}/download/transcript-DOC").status_code == 404


def test_summary_needs_csrf_and_then_is_queued_once(
    ui_server: LiveServer, viewer: httpx.Client
) -> None:
    page = viewer.get(SESSION).text
    action = f"{SESSION}/summary"
    assert viewer.post(action, data={}).status_code == 403
    assert viewer.post(action, data={"csrf": "0" * 64}).status_code == 403
    forged = viewer.post(
        action, data={"csrf": csrf_of(page)}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    with ui_server.client() as http:
        summary = (
            f"{ui_server.api(scenario.ACCOUNT, scenario.APP)}/sessions/{scenario.SESSION}/summary"
        )
        assert "not generated yet" in http.get(summary).json()["error"]["message"]
        queued = viewer.post(
            action, data={"csrf": csrf_of(page)}, headers={"Origin": ui_server.url}
        )
        assert queued.status_code == 303 and queued.headers["location"].endswith("#summary")
        assert http.get(summary).status_code in (200, 404)
        for _ in range(100):
            if http.get(summary).status_code == 200:
                break
            time.sleep(0.1)
        assert http.get(summary).status_code == 200
    shown = viewer.get(SESSION).text
    assert "data-summary-done" in shown and "launch" in shown


# --- the peer page ------------------------------------------------------------------


def test_the_peer_page_explains_the_lossy_minute(viewer: httpx.Client) -> None:
    page = viewer.get(f"/ui/apps/{scenario.APP}/peers/p-bo").text
    assert "Bo Diddley" in page and "Chrome" in page
    problems = re.findall(r'<li data-cause="(\w+)"><strong><time datetime="([^"]+)">', page)
    assert problems == [("loss", "2026-01-01T10:07:36.000+00:00")]
    assert "up to 10.0% of the packets sent were lost" in page
    assert 'data-chart="MOS (quality score, 0–1)"' in page
    assert 'data-chart="Packet loss (%)"' in page and 'class="band"' in page


def test_the_per_day_charts_count_the_scenarios_day(viewer: httpx.Client) -> None:
    page = viewer.get(SESSIONS).text
    bars = re.findall(r'<rect class="bar"[^>]*><title>([^<]+)</title>', page)
    assert len(bars) == 60  # 30 days of sessions, 30 of participant-minutes
    # Jan 01: s-weekly and s-live (the room is not listed); 50 minutes + Dee's 10 so far
    assert bars[29] == "Jan 01: 2 sessions" and bars[59] == "Jan 01: 60 minutes"
    assert set(bars[:29]) == {f"Dec {d:02d}: 0 sessions" for d in range(3, 32)}


def test_a_path_that_is_no_page_gets_a_page_saying_so(viewer: httpx.Client) -> None:
    for path in ("/ui/nope", f"/ui/apps/{scenario.APP}/nope", f"{SESSION}/nope/deeper"):
        answer = viewer.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/html")
        assert "There is no dashboard page at" in answer.text
    assert viewer.get("/ui/static/ui.css").status_code == 200  # the static files still win
    assert viewer.get(SESSION).status_code == 200
