"""The OpenAPI document says what the answers hold: a field that may be unknown is
optional and never null (api.md: unknown values are left out), as the SDKs type it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rtk_sessions.app import create_app
from rtk_sessions.config import Settings


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = Path(tmp_path_factory.mktemp("openapi")) / "doc.db"
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    return app.openapi_schema.to_schema()["components"]["schemas"]


def test_no_answer_field_of_the_sessions_api_is_documented_nullable(
    components: dict[str, Any],
) -> None:
    nullable = sorted(
        f"{name}.{field}"
        for name, component in components.items()
        for field, schema in component.get("properties", {}).items()
        if '"null"' in json.dumps(schema)
    )
    assert nullable == [
        "AuthErrorResponse.result",  # Cloudflare's fixed error envelope
        "Health.detail",  # /healthz, not the Sessions API
        "RejectedEvent.id",  # the ingest answer: an event sent without an id
        "ReportEvent.metadata",  # a peer event's metadata, as the client sent it
    ]


@pytest.mark.parametrize(
    ("component", "field", "schema"),
    [
        ("Session", "ended_at", {"type": "string"}),
        ("Participant", "left_at", {"type": "string"}),
        ("PeerEvent", "preset_view_type", {
            "type": "string", "enum": ["GROUP_CALL", "WEBINAR", "AUDIO_ROOM", "LIVESTREAM", "CHAT"]}),
        ("AudioConsumerRow", "mos_quality", {"type": "number"}),
        ("PacketLoss", "5_or_greater_event_fraction", {"type": "number"}),
    ],
)
def test_a_field_that_may_be_unknown_is_optional_and_typed(
    components: dict[str, Any], component: str, field: str, schema: dict[str, Any]
) -> None:
    assert components[component]["properties"][field] == schema
    assert field not in components[component].get("required", [])
