"""The docs describe what exists: documented endpoints are served, documented settings
are settings, and the container files run what the README says."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from rtk_sessions.app import APP_PATH, create_app
from rtk_sessions.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_SETTINGS = {"RTK_CONFIG_FILE", "RTK_TEST_POSTGRES_URL", "RTK_TEST_SDK500_PYTHON"}


def served_operations(tmp_path: Path) -> set[tuple[str, str]]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'docs.db'}"))
    schema = app.openapi_schema.to_schema()
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def test_every_endpoint_in_the_api_doc_is_served(tmp_path: Path) -> None:
    documented = re.findall(
        r"^### (GET|POST|PUT|PATCH|DELETE) (/\S+)", (ROOT / "docs/api.md").read_text(), re.M
    )
    assert documented, "docs/api.md documents no endpoint"
    prefix = re.sub(r":\w+\}", "}", APP_PATH)
    served = served_operations(tmp_path)
    missing = [f"{m} {p}" for m, p in documented if (m, prefix + p) not in served]
    assert missing == []


def test_every_rtk_variable_in_the_docs_is_a_setting() -> None:
    settings = {f"RTK_{name.upper()}" for name in Settings.model_fields}
    for doc in [*DOCS, ROOT / "docker-compose.yml", ROOT / "Dockerfile"]:
        named = set(re.findall(r"\bRTK_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text()))
        assert named - settings - NOT_SETTINGS == set(), doc.name


def test_compose_runs_two_replicas_on_postgresql_behind_the_proxy() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    replicas = [
        name
        for name, s in services.items()
        if s.get("image") == "rtk-sessions:local" and "command" not in s
    ]
    assert sorted(replicas) == ["rtk-1", "rtk-2"]
    for name in replicas:
        environment = services[name]["environment"]
        assert environment["RTK_DATABASE_URL"].startswith("postgresql://")
        assert "@postgres:5432/" in environment["RTK_DATABASE_URL"]
    proxy = (ROOT / "deploy/nginx.conf").read_text()
    assert all(f"server {name}:8000" in proxy for name in replicas)
    assert "resolve;" in proxy and "resolver 127.0.0.11" in proxy  # replicas may move
    assert services["proxy"]["ports"] == ["8000:8000"]
    assert "postgres" in services and "pg_isready" in str(services["postgres"]["healthcheck"])
