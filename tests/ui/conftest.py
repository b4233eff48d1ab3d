"""The dashboard tests' server: one per module and database, holding the scenario's
meeting (``tests/ui/scenario.py``) and another account's session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.support import running_server
from tests.conftest import LiveServer, make_token
from tests.ui import scenario


@pytest.fixture(scope="module")
def ui_server(backend: str, tmp_path_factory) -> Iterator[LiveServer]:
    with running_server(backend, tmp_path_factory.mktemp("ui")) as server:
        server.clock.now_ms = scenario.NOW
        answer = server.ingest(scenario.events_of_the_meeting(), scenario.ACCOUNT, scenario.APP)
        assert answer.status_code == 200 and not answer.json()["data"]["rejected"], answer.text
        other = make_token(server.db, scenario.OTHER_ACCOUNT, scopes=("read", "ingest"))
        with server.client(other) as http:
            path = f"/ingest/accounts/{scenario.OTHER_ACCOUNT}/apps/{scenario.OTHER_APP}/events"
            assert http.post(path, json=scenario.events_of_the_other_account()).status_code == 200
        yield server
