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
    result = run(env, "token", "create", "--account", "acc", "--scope", "root", check=False)
    assert result.returncode == 2 and "scopes must be some of read, ingest, admin" in result.stderr


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


def test_webhook_key_set_list_replace_and_remove(env, tmp_path):
    import hashlib

    from cryptography.hazmat.primitives import serialization

    from rtk_sessions.store.webhook_keys import webhook_key
    from tests.rtk_webhooks import private_key, public_pem

    def der_sha256(name: str) -> str:
        der = private_key(name).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()

    first, second = tmp_path / "rtk.pem", tmp_path / "rotated.pem"
    first.write_text(public_pem("cli-1"))
    second.write_text(public_pem("cli-2"))
    set_out = run(env, "webhook-key", "set", "--account", "acc", "--app", "a1", str(first))
    assert "/webhooks/rtk/accounts/acc/apps/a1" in set_out.stderr  # the URL to register
    run(env, "webhook-key", "set", "--account", "acc", "--app", "a2", str(first))
    run(env, "webhook-key", "set", "--account", "other", "--app", "a1", str(first))
    run(env, "webhook-key", "set", "--account", "acc", "--app", "a1", str(second))  # replaces

    listed = run(env, "webhook-key", "list", "--account", "acc").stdout
    assert der_sha256("cli-2") in listed and "a2" in listed and "other" not in listed
    assert "BEGIN PUBLIC KEY" not in listed
    db = Database(env["RTK_DATABASE_URL"])
    try:
        stored = webhook_key(db, "acc", "a1")
        assert stored is not None and stored.public_key_pem.strip() == public_pem("cli-2").strip()
        assert stored.fingerprint == der_sha256("cli-2")

        run(env, "webhook-key", "remove", "--account", "acc", "--app", "a1")
        assert webhook_key(db, "acc", "a1") is None
        assert webhook_key(db, "acc", "a2") is not None
    finally:
        db.dispose()
    again = run(env, "webhook-key", "remove", "--account", "acc", "--app", "a1", check=False)
    assert again.returncode == 1 and "no webhook key" in again.stderr


def test_webhook_key_set_refuses_what_is_not_an_rsa_public_key(env, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from tests.rtk_webhooks import private_key

    private = tmp_path / "private.pem"
    private.write_bytes(
        private_key("cli-3").private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    for path in (private, garbage):
        result = run(env, "webhook-key", "set", "--account", "a", "--app", "b", str(path),
                     check=False)
        assert result.returncode == 2 and "not a PEM public key" in result.stderr
    listed = run(env, "webhook-key", "list").stdout
    assert " b " not in listed and "│ b" not in listed


def test_erase_user_keeps_the_numbers_and_says_what_it_did(env, tmp_path):
    from rtk_sessions.store.apps import app_key
    from tests.factories import MIN, T0, started, visit

    events = [started("s1", "m1", T0), *visit("s1", "p1", T0, T0 + MIN, user_id="u-ann",
                                              display_name="Ann Secret")]
    file = tmp_path / "e.ndjson"
    file.write_text("\n".join(json.dumps(e) for e in events))
    run(env, "ingest", "--account", "acc", "--app", "a1", str(file))
    done = run(env, "erase-user", "--account", "acc", "--app", "a1", "u-ann")
    assert "1 peers in 1 sessions" in done.stderr
    db = Database(env["RTK_DATABASE_URL"])
    try:
        assert app_key(db, "acc", "a1") is not None
        with db.read() as conn:
            names = [r[0] for r in conn.exec_driver_sql("SELECT display_name FROM peers")]
    finally:
        db.dispose()
    assert names == [None]
    again = run(env, "erase-user", "--account", "acc", "--app", "a1", "u-ann", check=False)
    assert again.returncode == 1 and "no user" in again.stderr


def test_alert_webhook_set_prints_the_secret_once_list_hides_it_remove(env):
    from rtk_sessions.store.alerts import target_of

    made = run(env, "alert-webhook", "set", "--account", "acc", "--app", "a1",
               "--mos-below", "0.4", "--intervals", "5", "https://ops.example.com/hook")
    secret = made.stdout.strip().splitlines()[-1]
    assert len(secret) == 64
    listed = run(env, "alert-webhook", "list").stdout
    assert "https://ops.example.com/hook" in listed and secret not in listed
    db = Database(env["RTK_DATABASE_URL"])
    try:
        stored = target_of(db, "acc", "a1")
        assert stored is not None and (stored.secret, stored.mos_below, stored.low_intervals) == (
            secret, 0.4, 5)
    finally:
        db.dispose()
    bad = run(env, "alert-webhook", "set", "--account", "acc", "--app", "a1", "ftp://x",
              check=False)
    assert bad.returncode == 2
    run(env, "alert-webhook", "remove", "--account", "acc", "--app", "a1")
    again = run(env, "alert-webhook", "remove", "--account", "acc", "--app", "a1", check=False)
    assert again.returncode == 1
