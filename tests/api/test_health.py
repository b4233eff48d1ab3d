"""/healthz, /readyz (migrated and un-migrated database), /openapi.json and unknown paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.store.database import Database
from tests.conftest import TestClock, free_port, serve_in_thread
from tests.databases import fresh_database_url
from tests.factories import T0

APP_PATH = "/accounts/{account_id}/realtime/kit/{app_id}"
QUERY_PARAMETERS = {
    ("get", APP_PATH + "/sessions"): {
        "associated_id": None, "start_time": None, "end_time": None,
        "status": ["LIVE", "ENDED"], "participants": None, "search": None,
        "sort_by": ["createdAt", "minutesConsumed"], "sort_order": ["ASC", "DESC"],
        "page_no": None, "per_page": None},
    ("get", APP_PATH + "/sessions/{session_id}"): {"include_breakout_rooms": None},
    ("get", APP_PATH + "/sessions/{session_id}/participants"): {
        "search": None, "sort_by": ["joinedAt", "duration"], "sort_order": ["ASC", "DESC"],
        "page_no": None, "per_page": None, "include_peer_events": None,
        "view": ["raw", "consolidated"]},
    ("get", APP_PATH + "/sessions/{session_id}/participants/{participant_id}"): {
        "filters": None, "include_peer_events": None},
    ("post", "/ingest/accounts/{account_id}/apps/{app_id}/events"): {},
    ("get", "/healthz"): {},
    ("get", "/readyz"): {},
}


@pytest.fixture(scope="module")
def unmigrated(backend: str, tmp_path_factory) -> Iterator[str]:
    """The app over a database that was never migrated (no schema at all)."""
    with fresh_database_url(backend, tmp_path_factory.mktemp("bare")) as url:
        yield from _serve_unmigrated(url)


def _serve_unmigrated(url: str) -> Iterator[str]:
    db = Database(url)
    port = free_port()
    app = create_app(Settings(database_url=url), database=db, clock=TestClock(T0))
    server, thread = serve_in_thread(app, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        db.dispose()


@pytest.fixture(scope="module")
def anonymous(server) -> Iterator[httpx.Client]:
    """A client without credentials: health and the schema need none."""
    with httpx.Client(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def schema(anonymous: httpx.Client) -> dict:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.text)


def test_healthz(anonymous: httpx.Client) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_readyz_with_a_migrated_database(anonymous: httpx.Client) -> None:
    response = anonymous.get("/readyz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_readyz_on_a_database_without_schema_is_503(unmigrated: str) -> None:
    response = httpx.get(unmigrated + "/readyz", timeout=30)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] != "ok" and body["detail"]
    assert httpx.get(unmigrated + "/healthz", timeout=30).status_code == 200  # the process is up


def _enum_values(node: Any, components: dict) -> list:
    """Every enum value in a schema, following $ref, oneOf, anyOf and allOf."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _enum_values(components[node["$ref"].rsplit("/", 1)[-1]], components)
        values = list(node.get("enum", []))
        for key in ("oneOf", "anyOf", "allOf"):
            for child in node.get(key, []):
                values += _enum_values(child, components)
        return values
    return []


def test_openapi_lists_every_path(schema: dict) -> None:
    listed = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert set(QUERY_PARAMETERS) <= listed
    assert not any(path.startswith("/client/v4") for _, path in listed)  # described, not repeated


@pytest.mark.parametrize("method, path", list(QUERY_PARAMETERS))
def test_openapi_lists_query_parameters_and_their_enums(schema: dict, method, path) -> None:
    components = schema.get("components", {}).get("schemas", {})
    operation = schema["paths"][path][method]
    query = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "query"}
    assert set(query) == set(QUERY_PARAMETERS[(method, path)])
    for name, allowed in QUERY_PARAMETERS[(method, path)].items():
        if allowed is not None:
            values = [v for v in _enum_values(query[name]["schema"], components) if v is not None]
            assert sorted(values) == sorted(allowed)
    path_params = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
    assert path_params == {part[1:-1] for part in path.split("/") if part.startswith("{")}


def test_openapi_description_mentions_the_sdk_prefix(schema: dict) -> None:
    assert "/client/v4" in schema["info"]["description"]


@pytest.mark.parametrize("path", [
    "/nope", "/client/v4/nope", "/accounts/acc-1/realtime/kit/app-1/nope",
    "/client/v4/accounts/acc-1/realtime/kit/app-1/sessions/s1/nope", "/ingest", "/healthz/x",
])
def test_unknown_path_is_404_in_the_realtimekit_envelope(anonymous: httpx.Client, path) -> None:
    response = anonymous.get(path)
    assert response.status_code == 404
    body = response.json()
    assert set(body) == {"success", "error"} and body["success"] is False
    assert body["error"]["code"] == 404 and body["error"]["message"]
