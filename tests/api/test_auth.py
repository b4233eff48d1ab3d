"""Authentication and authorization on every endpoint, and tenant isolation.

Data: acc-1/app-1 and acc-1/app-2, and acc-2/app-1 (same app id as acc-1's,
different account, different data). Every read endpoint is tried under both
prefixes, and the ingest endpoint, with every kind of credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from rtk_sessions.store.tokens import find_active, revoke
from tests.api.support import running_server
from tests.conftest import LiveServer, make_token
from tests.factories import MIN, T0, chat_message, meeting, started, transcript_segment, visit

AUTH_ERROR = {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}],
              "messages": [], "result": None}
READS = ["GET /sessions", "GET /sessions/s1", "GET /sessions/s1/participants",
         "GET /sessions/s1/participants/a", "GET /sessions/peer-report/a", "GET /sessions/s1/chat",
         "GET /sessions/s1/transcript", "GET /sessions/s1/summary", "POST /sessions/s1/summary"]
PREFIXES = ["", "/client/v4"]
ENDPOINTS = [f"{read.split()[0]} {prefix}/accounts/{{account}}/realtime/kit/{{app}}{read.split()[1]}"
             for prefix in PREFIXES for read in READS]
ENDPOINTS += ["POST /ingest/accounts/{account}/apps/{app}/events"]
INGEST = ENDPOINTS[-1]


def data_of(account: str, app: str) -> list[dict]:
    """Each tenant's own meeting title, so a leak would show."""
    title = f"{account} {app} private"
    return [meeting("m1", title), started("s1", "m1", T0), *visit("s1", "a", T0, T0 + MIN),
            chat_message("s1", "a", T0 + 1_000, "c1", f"{account} {app} chat"),
            transcript_segment("s1", "a", T0 + 2_000, 1_000, 2_000, f"{account} {app} said")]


@dataclass
class Tenants:
    server: LiveServer
    tokens: dict[str, str]
    http: httpx.Client  # no credentials of its own

    def call(self, endpoint: str, headers: dict[str, str], account: str = "acc-1",
             app: str = "app-1") -> httpx.Response:
        method, path = endpoint.split(" ", 1)
        body = [meeting("m-ping", "ping")] if endpoint == INGEST else None
        return self.http.request(method, path.format(account=account, app=app), headers=headers,
                                 json=body)


@pytest.fixture(scope="module")
def tenants(backend: str, tmp_path_factory) -> Iterator[Tenants]:
    with running_server(backend, tmp_path_factory.mktemp("auth")) as server:
        db = server.db
        tokens = {
            "acc-1": server.token,
            "acc-2": make_token(db, "acc-2"),
            "app-2 only": make_token(db, "acc-1", apps=["app-2"]),
            "read only": make_token(db, "acc-1", scopes=("read",)),
            "ingest only": make_token(db, "acc-1", scopes=("ingest",)),
            "revoked": make_token(db, "acc-1"),
            "bound": make_token(db, "acc-1", email="Ops@Example.com"),
        }
        with db.write() as conn:
            assert revoke(conn, find_active(conn, tokens["revoked"]).token_id, T0)
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for account, app, token in [("acc-1", "app-1", tokens["acc-1"]),
                                        ("acc-1", "app-2", tokens["acc-1"]),
                                        ("acc-2", "app-1", tokens["acc-2"])]:
                response = http.post(f"/ingest/accounts/{account}/apps/{app}/events",
                                     json=data_of(account, app), headers=bearer(token))
                assert response.json()["data"]["accepted"] == 6, response.text
                summary = f"/accounts/{account}/realtime/kit/{app}/sessions/s1/summary"
                assert http.post(summary, headers=bearer(token)).status_code == 200
                _wait_for(http, summary, bearer(token))
            yield Tenants(server, tokens, http)


def _wait_for(http: httpx.Client, summary: str, headers: dict, timeout_s: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while http.get(summary, headers=headers).status_code != 200:
        assert time.monotonic() < deadline, "summary job did not finish"
        time.sleep(0.05)


def test_the_matrix_covers_every_token_guarded_operation(tenants: Tenants) -> None:
    """Every operation with an account in its path, as the served OpenAPI lists them (so a
    new endpoint joins the isolation tests or fails here); webhooks are signed instead."""
    schema = tenants.http.get("/openapi.json").json()
    served = {
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if "{account_id}" in path and not path.startswith(("/webhooks/", "/admin/"))
    }  # /admin/ needs the admin scope: its isolation is tested in test_erasure.py
    listed = {
        e.replace("{account}", "{account_id}").replace("{app}", "{app_id}")
        .replace("/s1", "/{session_id}").replace("/participants/a", "/participants/{participant_id}")
        .replace("/peer-report/a", "/peer-report/{peer_id}")
        for e in ENDPOINTS
        if "/client/v4" not in e
    }
    assert served == listed


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_auth_error(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.json() == AUTH_ERROR


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_valid_token_is_let_in(tenants: Tenants, endpoint: str) -> None:
    response = tenants.call(endpoint, bearer(tenants.tokens["acc-1"]))
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer rtk_000000000000_not-a-real-secret"},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"X-Auth-Key": "rtk_000000000000_not-a-real-secret", "X-Auth-Email": "a@b.c"},
    {"X-Auth-Email": "ops@example.com"},
], ids=["none", "unknown", "empty bearer", "basic", "unknown key", "email only"])
def test_missing_or_unknown_token_is_401(tenants: Tenants, endpoint, headers) -> None:
    assert_auth_error(tenants.call(endpoint, headers), 401)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_revoked_token_is_401(tenants: Tenants, endpoint: str) -> None:
    assert_auth_error(tenants.call(endpoint, bearer(tenants.tokens["revoked"])), 401)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_token_of_another_account_is_403(tenants: Tenants, endpoint: str) -> None:
    assert_auth_error(tenants.call(endpoint, bearer(tenants.tokens["acc-2"])), 403)
    assert_auth_error(tenants.call(endpoint, bearer(tenants.tokens["acc-1"]), account="acc-2"),
                      403)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_token_limited_to_another_app_is_403_and_works_on_its_own(tenants, endpoint) -> None:
    token = bearer(tenants.tokens["app-2 only"])
    assert_auth_error(tenants.call(endpoint, token, app="app-1"), 403)
    assert tenants.call(endpoint, token, app="app-2").status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_scopes(tenants: Tenants, endpoint: str) -> None:
    read_only = tenants.call(endpoint, bearer(tenants.tokens["read only"]))
    ingest_only = tenants.call(endpoint, bearer(tenants.tokens["ingest only"]))
    if endpoint == INGEST:
        assert_auth_error(read_only, 403)
        assert ingest_only.status_code == 200
    else:
        assert read_only.status_code == 200
        assert_auth_error(ingest_only, 403)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_x_auth_key_and_email(tenants: Tenants, endpoint: str) -> None:
    plain = {"X-Auth-Key": tenants.tokens["acc-1"], "X-Auth-Email": "anyone@example.com"}
    assert tenants.call(endpoint, plain).status_code == 200
    bound = tenants.tokens["bound"]
    for email in ("Ops@Example.com", "OPS@example.COM"):
        response = tenants.call(endpoint, {"X-Auth-Key": bound, "X-Auth-Email": email})
        assert response.status_code == 200
    assert_auth_error(tenants.call(endpoint, {"X-Auth-Key": bound,
                                              "X-Auth-Email": "intruder@example.com"}), 401)
    assert_auth_error(tenants.call(endpoint, {"X-Auth-Key": tenants.tokens["revoked"],
                                              "X-Auth-Email": "a@b.c"}), 401)


def _titles(tenants: Tenants, token: str, account: str, app: str) -> list[str]:
    response = tenants.call("GET /accounts/{account}/realtime/kit/{app}/sessions",
                            bearer(token), account=account, app=app)
    assert response.status_code == 200
    return [s["meeting_display_name"] for s in response.json()["data"]["sessions"]]


def test_each_account_sees_only_its_own_data(tenants: Tenants) -> None:
    acc1, acc2 = tenants.tokens["acc-1"], tenants.tokens["acc-2"]
    assert _titles(tenants, acc1, "acc-1", "app-1") == ["acc-1 app-1 private"]
    assert _titles(tenants, acc1, "acc-1", "app-2") == ["acc-1 app-2 private"]
    assert _titles(tenants, acc2, "acc-2", "app-1") == ["acc-2 app-1 private"]
    assert _titles(tenants, acc2, "acc-2", "app-2") == []  # acc-2 has no app-2
    for endpoint in ENDPOINTS[:4]:
        response = tenants.call(endpoint, bearer(acc2), account="acc-2")
        assert "acc-1" not in response.text
        assert response.json()["success"] is True


def test_ingest_goes_to_the_token_account_only(tenants: Tenants) -> None:
    acc2 = tenants.tokens["acc-2"]
    response = tenants.http.post(
        "/ingest/accounts/acc-2/apps/app-1/events", headers=bearer(acc2),
        json=[meeting("m2", "second of acc-2"), started("s-acc2", "m2", T0 + MIN)])
    assert response.json()["data"]["accepted"] == 2
    assert _titles(tenants, acc2, "acc-2", "app-1") == ["second of acc-2", "acc-2 app-1 private"]
    assert _titles(tenants, tenants.tokens["acc-1"], "acc-1", "app-1") == ["acc-1 app-1 private"]


def test_auth_failures_are_not_cached_across_tokens(tenants: Tenants) -> None:
    url = "GET /accounts/{account}/realtime/kit/{app}/sessions"
    assert_auth_error(tenants.call(url, bearer("rtk_bad_bad")), 401)
    assert tenants.call(url, bearer(tenants.tokens["acc-1"])).status_code == 200
    assert_auth_error(tenants.call(url, bearer(tenants.tokens["acc-2"])), 403)


@pytest.mark.parametrize("cache_seconds", [0, 1])
def test_a_revoked_token_stops_working_within_the_cache_time(backend, tmp_path, cache_seconds):
    """Grants are kept per process for RTK_TOKEN_CACHE_SECONDS: revocation (in the
    database, from any process) takes effect within that time, and at once with 0."""
    import time

    with running_server(backend, tmp_path, token_cache_seconds=cache_seconds) as server:
        token = make_token(server.db, "acc-1")
        path = server.api("acc-1", "app-1") + "/sessions"
        with server.client(token) as http:
            assert http.get(path).status_code == 200  # read, and kept
            with server.db.write() as conn:
                assert revoke(conn, find_active(conn, token).token_id, T0)
            revoked_at = time.monotonic()
            while http.get(path).status_code == 200:
                assert time.monotonic() - revoked_at < cache_seconds + 1.0, "still accepted"
                time.sleep(0.02)
            assert http.get(path).status_code == 401
            if cache_seconds == 0:
                assert time.monotonic() - revoked_at < 0.5
