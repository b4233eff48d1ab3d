"""The rtk-sessions command, run as a user runs it (a subprocess on a real database:
a SQLite file, and a PostgreSQL schema)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rtk_sessions.store.database import Database
from rtk_sessions.store.tokens import find_active

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "basic" / "events.ndjson"
CLI = str(Path(sys.executable).with_name("rtk-sessions"))


@pytest.fixture
def env(database_url):
    return {**os.environ, "RTK_DATABASE_URL": database_url, "RTK_CONFIG_FILE": ""}


def active_grant(env, token):
    db = Database(env["RTK_DATABASE_URL"])
    try:
        with db.read() as conn:
            return find_active(conn, token)
    finally:
        db.dispose()


def run(env, *args, check=True):
    result = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}): {result.stderr}")
    return result


def test_token_create_prints_the_token_alone_on_the_last_line(env):
    result = run(
        env,
        "token",
        "create",
        "--account",
        "acc",
        "--app",
        "a1",
        "--scope",
        "read",
        "--scope",
        "ingest",
        "--name",
        "ci",
    )
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("rtk_") and " " not in token
    grant = active_grant(env, token)
    assert grant is not None and grant.account_id == "acc" and grant.app_ids == ("a1",)
    assert grant.scopes == {"read", "ingest"}
    assert token not in result.stderr  # shown once, on stdout only


def test_token_list_and_revoke(env):
    token = run(env, "token", "create", "--account", "acc").stdout.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    listing = run(env, "token", "list").stdout
    assert token_id in listing and token not in listing
    run(env, "token", "revoke", token_id)
    assert active_grant(env, token) is None
    again = run(env, "token", "revoke", token_id, check=False)
    assert again.returncode == 1 and "no active token" in again.stderr


def test_token_create_refuses_unknown_scope(env):
    result = run(env, "token", "create", "--account", "acc", "--scope", "admin", check=False)
    assert result.returncode == 2 and "scopes must be some of read, ingest" in result.stderr


def test_ingest_files_counts_and_is_idempotent(env, tmp_path):
    gz = tmp_path / "events.ndjson.gz"
    gz.write_bytes(gzip.compress(EXAMPLE.read_bytes()))
    first = run(env, "ingest", "--account", "acc", "--app", "app", str(EXAMPLE))
    assert "accepted 764, duplicates 0, rejected 0" in first.stderr
    second = run(env, "ingest", "--account", "acc", "--app", "app", str(gz))
    assert "accepted 0, duplicates 764, rejected 0" in second.stderr


def test_ingest_reports_rejections_with_their_position(env, tmp_path):
    events = [json.loads(line) for line in EXAMPLE.read_text().splitlines()[:3]]
    events[1]["ts"] = "yesterday"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(events))
    result = run(env, "ingest", "--account", "acc", "--app", "app", str(path), check=False)
    assert result.returncode == 1
    assert "accepted 2, duplicates 0, rejected 1" in result.stderr
    assert "event 1 (" + events[1]["id"] + ")" in result.stderr and "$.ts" in result.stderr


def test_migrate_is_idempotent(env):
    assert "schema at revision" in run(env, "migrate").stderr
    assert "schema at revision" in run(env, "migrate").stderr


def test_invalid_settings_stop_with_the_setting_named(env):
    result = run({**env, "RTK_PORT": "not-a-port"}, "migrate", check=False)
    assert result.returncode == 2 and "port" in result.stderr


def test_demo_loads_through_the_pipeline_prints_a_working_token_and_is_rerunnable(env):
    first = run(env, "demo", "--no-serve", "--seed", "3")
    token = first.stdout.strip().splitlines()[-1]
    assert token.startswith("rtk_")
    assert (
        "rejected 0" in first.stderr and "client.realtime_kit.sessions.get_sessions" in first.stderr
    )
    grant = active_grant(env, token)
    assert grant is not None and grant.account_id == "demo-account"
    assert grant.scopes == {"read", "ingest"}
    again = run(env, "demo", "--no-serve")
    assert "already loaded" in again.stderr
