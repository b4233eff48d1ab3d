"""CORS on the ingest endpoint only (RTK_INGEST_CORS_ORIGINS), the token a beacon carries
in the query, and the ingest-only token a browser should hold."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from rtk_sessions.config import Settings
from tests.api.support import running_server
from tests.conftest import LiveServer, make_token
from tests.factories import T0, visit

PAGE = "https://app.example.com"
INGEST = "/ingest/accounts/acc-1/apps/cors-app/events"


@pytest.fixture(scope="module")
def cors_server(tmp_path_factory) -> Iterator[LiveServer]:
    with running_server("sqlite", tmp_path_factory.mktemp("cors"), ingest_cors_origins=PAGE) as s:
        yield s


def preflight(server: LiveServer, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        server.url + path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )


def test_an_allowed_page_may_post_events(cors_server: LiveServer) -> None:
    answer = preflight(cors_server, INGEST, PAGE)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == PAGE
    assert answer.headers["access-control-allow-methods"] == "POST"
    assert "authorization" in answer.headers["access-control-allow-headers"]
    token = make_token(cors_server.db, scopes=("ingest",))
    posted = httpx.post(
        cors_server.url + INGEST,
        json=visit("s-cors", "p1", T0, T0 + 60_000),
        headers={"Origin": PAGE, "Authorization": f"Bearer {token}"},
    )
    assert posted.status_code == 200 and posted.json()["data"]["accepted"] == 2
    assert posted.headers["access-control-allow-origin"] == PAGE


def test_other_origins_and_other_paths_get_no_cors(cors_server: LiveServer) -> None:
    other = preflight(cors_server, INGEST, "https://evil.example")
    assert "access-control-allow-origin" not in other.headers
    read = f"{cors_server.api('acc-1', 'cors-app')}/sessions"
    for path in (read, "/ui/sign-in"):
        answer = preflight(cors_server, path, PAGE)
        assert "access-control-allow-origin" not in answer.headers, path
    with cors_server.client() as http:
        got = http.get(read, headers={"Origin": PAGE})
        assert got.status_code == 200 and "access-control-allow-origin" not in got.headers


def test_the_beacons_query_token_opens_ingest_only(cors_server: LiveServer) -> None:
    token = make_token(cors_server.db, scopes=("ingest",))
    beacon = httpx.post(
        f"{cors_server.url}{INGEST}",
        params={"token": token},
        content=b'[{"id":"b1","type":"peer.left","ts":"2026-01-01T00:02:00Z","session_id":"s-cors","peer_id":"p1"}]',
        headers={"Content-Type": "text/plain"},
    )
    assert beacon.status_code == 200 and beacon.json()["data"]["accepted"] == 1
    read = f"{cors_server.url}{cors_server.api('acc-1', 'cors-app')}/sessions"
    assert httpx.get(read, params={"token": cors_server.token}).status_code == 401
    wrong = httpx.post(
        f"{cors_server.url}{INGEST}", params={"token": "rtk_nope_nope"}, content=b"[]"
    )
    assert wrong.status_code == 401


def test_an_ingest_only_token_cannot_read(cors_server: LiveServer) -> None:
    token = make_token(cors_server.db, scopes=("ingest",))
    with cors_server.client(token) as http:
        assert http.get(f"{cors_server.api('acc-1', 'cors-app')}/sessions").status_code == 403


@pytest.mark.parametrize("bad", ["app.example.com", "https://app.example.com/path", "ftp://x"])
def test_an_origin_setting_that_is_not_an_origin_stops_start_up(bad: str) -> None:
    with pytest.raises(ValueError, match="RTK_INGEST_CORS_ORIGINS"):
        Settings(ingest_cors_origins=bad)
