"""Schemathesis against our own OpenAPI document: every operation, on a real server
over both databases, with a token that holds both scopes and path parameters that
reach past auth (the token's own account and app, sessions and peers that exist).

Every answer must be documented (status code, content type, body schema, headers),
and none may be a 5xx. Examples are bounded so CI stays within minutes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import negative_data_rejection

from rtk_sessions.app import create_app
from rtk_sessions.config import Settings
from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key
from tests.api.support import running_server
from tests.conftest import ACCOUNT, APP, make_token
from tests.factories import T0, chat_message, transcript_segment
from tests.rtk_webhooks import public_pem

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "basic" / "events.ndjson"
OPENAPI = create_app(Settings(database_url="sqlite://", jobs_in_serve=False)).openapi_schema
schema = schemathesis.openapi.from_dict(OPENAPI.to_schema())
KNOWN: dict[str, list[str]] = {"session_id": [], "peer_id": [], "user_id": []}  # by the fixture
# per database: (method, path, status) of every answer past authentication
REACHED: dict[str, set[tuple[str, str, int]]] = {"sqlite": set(), "postgres": set()}


@schema.hook("flatmap_path_parameters")
def _reach_past_auth(context, path_parameters: dict[str, Any]):
    """Our own account and app; mostly ids that exist, sometimes the generated ones."""
    if not path_parameters:
        return st.just(path_parameters)
    fixed = {k: st.just(v) for k, v in path_parameters.items()}
    if "account_id" in path_parameters:
        fixed["account_id"] = st.just(ACCOUNT)
    if "app_id" in path_parameters:
        fixed["app_id"] = st.just(APP)
    for name, known in (("session_id", "session_id"), ("peer_id", "peer_id"),
                        ("participant_id", "peer_id"), ("user_id", "user_id")):
        if name in path_parameters and KNOWN[known]:
            fixed[name] = st.sampled_from(KNOWN[known]) | st.just(path_parameters[name])
    return st.fixed_dictionaries(fixed)


@schemathesis.serializer("application/x-ndjson")
def _ndjson(context, value: Any) -> bytes:
    """An NDJSON body as generated: a string of lines (the documented schema)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, list):
        return "\n".join(json.dumps(item) for item in value).encode()
    return json.dumps(value).encode()  # a negative case: not a string at all


@schema.hook("filter_query")
def _expressible(context, query: dict[str, Any] | None) -> bool:
    """Drop what JSON Schema cannot state: ``participants`` with min above max (a 400
    that names it, tested in test_params.py)."""
    bounds = ((query or {}).get("participants") or "").split(":")
    if len(bounds) == 2 and bounds[0].strip() and bounds[1].strip():
        return int(bounds[0]) <= int(bounds[1])
    return True


# Native ingest takes a body whatever its items are and answers each item in `rejected`
# (ingest.md): a schema-violating item is not a rejected request.
PER_ITEM = {("POST", "/ingest/accounts/{account_id}/apps/{app_id}/events")}


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory):
    with running_server(backend, tmp_path_factory.mktemp("schema")) as live:
        with live.client() as http:
            ingest = f"/ingest/accounts/{ACCOUNT}/apps/{APP}/events"
            answer = http.post(ingest, content=EXAMPLE.read_bytes(),
                               headers={"content-type": "application/x-ndjson"})
            assert answer.status_code == 200
            base = live.api(ACCOUNT, APP)
            sessions = http.get(base + "/sessions", params={"per_page": 100}).json()
            KNOWN["session_id"] = [s["id"] for s in sessions["data"]["sessions"]][:10]
            extras = []
            for sid in KNOWN["session_id"][:3]:
                peers = http.get(f"{base}/sessions/{sid}/participants").json()
                ids = [p["id"] for p in peers["data"]["participants"]]
                KNOWN["user_id"] += [p["user_id"] for p in peers["data"]["participants"]][:3]
                KNOWN["peer_id"] += ids[:3]
                extras += [chat_message(sid, ids[0], T0, f"c-{sid}", "hello"),
                           transcript_segment(sid, ids[0], T0, 0, 1000, "hello world")]
            assert http.post(ingest, json=extras).json()["data"]["rejected"] == []
            summary = f"{base}/sessions/{KNOWN['session_id'][0]}/summary"
            assert http.post(summary).status_code == 200
            deadline = time.monotonic() + 30
            while http.get(summary).status_code != 200:
                assert time.monotonic() < deadline, "the summary job did not finish"
                time.sleep(0.05)
        set_webhook_key(live.db, WebhookKeyRow(ACCOUNT, APP, public_pem(), "f" * 64, T0))
        live.token = make_token(live.db, ACCOUNT, scopes=("read", "ingest", "admin"))
        yield live


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented_and_never_5xx(case, server):
    per_item = (case.method, case.path) in PER_ITEM
    response = case.call_and_validate(
        base_url=server.url,
        headers={"Authorization": f"Bearer {server.token}"},
        excluded_checks=[negative_data_rejection] if per_item else None,
    )
    if response.status_code not in (401, 403):
        REACHED[server.backend].add((case.method, case.path, response.status_code))


def test_the_fuzzing_reached_past_auth_on_every_operation(server):
    """Runs after the module's fuzzing (tests run in file order): each operation must have
    been answered with something other than 401/403 at least once."""
    operations = {
        (method.upper(), path)
        for path, item in OPENAPI.to_schema()["paths"].items()
        for method in item
        if method in ("get", "post")
    }
    # a signed link or delivery cannot be guessed: these two are tested past their
    # signatures in test_downloads.py and test_webhooks.py
    signed = {("GET", "/downloads/{token}"),
              ("POST", "/webhooks/rtk/accounts/{account_id}/apps/{app_id}")}
    seen = REACHED[server.backend]
    reached = {(method, path) for method, path, _ in seen}
    assert operations - signed - reached == set(), sorted(seen)
    successes = {(m, p) for m, p, status in seen if status == 200}
    assert operations - signed - successes == set()  # each answered 200 at least once


def test_documented_statuses_are_the_ones_served(server):
    """The statuses seen are each documented for their operation (schemathesis checks this
    per case; here the whole set is shown, so a new status is noticed)."""
    documented = OPENAPI.to_schema()["paths"]
    for method, path, status in REACHED[server.backend]:
        if method.lower() not in documented[path]:
            # an undocumented method: 405, or Litestar's automatic answer to OPTIONS
            assert status == 405 or (method, status) == ("OPTIONS", 204), (method, path)
            continue
        assert str(status) in documented[path][method.lower()]["responses"], (method, path)
    httpx.get(server.url + "/healthz").raise_for_status()

