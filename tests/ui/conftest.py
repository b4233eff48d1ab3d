"""The dashboard tests' server: one per module and database, holding the scenario's
meeting (``tests/ui/scenario.py``) and another account's session."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.api.support import running_server
from tests.conftest import LiveServer, make_token
from tests.ui import scenario


@contextmanager
def scenario_server(backend: str, directory: Path, **settings: Any) -> Iterator[LiveServer]:
    """A server whose clock is the scenario's NOW, holding its sessions."""
    with running_server(backend, directory, **settings) as server:
        server.clock.now_ms = scenario.NOW
        events = scenario.events_of_the_meeting() + scenario.events_of_the_live_session()
        answer = server.ingest(events, scenario.ACCOUNT, scenario.APP)
        assert answer.status_code == 200 and not answer.json()["data"]["rejected"], answer.text
        other = make_token(server.db, scenario.OTHER_ACCOUNT, scopes=("read", "ingest"))
        with server.client(other) as http:
            path = f"/ingest/accounts/{scenario.OTHER_ACCOUNT}/apps/{scenario.OTHER_APP}/events"
            assert http.post(path, json=scenario.events_of_the_other_account()).status_code == 200
        yield server


@pytest.fixture(scope="module")
def ui_server(backend: str, tmp_path_factory) -> Iterator[LiveServer]:
    with scenario_server(backend, tmp_path_factory.mktemp("ui")) as server:
        yield server
