"""No secret ever reaches the logs: a full run of `serve` at debug level, its output
captured whole, then searched for every secret it was given or handed out."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from rtk_sessions.store.database import Database
from rtk_sessions.store.webhook_keys import WebhookKeyRow, set_webhook_key
from tests.conftest import free_port, wait_for_server
from tests.factories import MIN, T0, chat_message, started, transcript_segment, visit
from tests.rtk_webhooks import delivery, meeting, participant_joined, public_pem

CLI = str(Path(sys.executable).with_name("rtk-sessions"))
DOWNLOAD_SECRET = "download-secret-8f1d2c3b4a5e6f70"
LLM_KEY = "llm-key-0c9b8a7d6e5f4a3b"
S3_SECRET = "s3-secret-1a2b3c4d5e6f7a8b"


def test_a_full_run_at_debug_level_logs_no_secret(tmp_path, database_url):
    env = {
        **os.environ,
        "RTK_DATABASE_URL": database_url,
        "RTK_CONFIG_FILE": "",
        "RTK_LOG_LEVEL": "debug",
        "RTK_DOWNLOAD_SECRET": DOWNLOAD_SECRET,
        "RTK_SUMMARY_LLM_URL": "http://127.0.0.1:9/v1",  # nothing listens: the job fails
        "RTK_SUMMARY_LLM_API_KEY": LLM_KEY,
        "RTK_S3_SECRET_ACCESS_KEY": S3_SECRET,
        "RTK_JOB_POLL_SECONDS": "0.1",
    }
    created = subprocess.run(
        [CLI, "token", "create", "--account", "a", "--scope", "read", "--scope", "ingest"],
        env=env, capture_output=True, text=True, check=True,
    )
    token = created.stdout.strip().splitlines()[-1]
    db = Database(database_url)
    try:
        set_webhook_key(db, WebhookKeyRow("a", "b", public_pem(), "f" * 64, T0))
    finally:
        db.dispose()
    port = free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    api = f"{base}/client/v4/accounts/a/realtime/kit/b"
    handed_out: list[str] = []
    try:
        wait_for_server(base, server, log, "/healthz", timeout_s=30)
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            call = [started("s1", "m1", T0), *visit("s1", "p1", T0, T0 + MIN),
                    chat_message("s1", "p1", T0 + 1000, "c1", "hello"),
                    transcript_segment("s1", "p1", T0 + 2000, 1000, 2000, "We ship Friday.")]
            assert http.post(f"{base}/ingest/accounts/a/apps/b/events", json=call).status_code == 200
            for path in ("/sessions", "/sessions/s1", "/sessions/s1/participants"):
                assert http.get(api + path).status_code == 200
            for path in ("/sessions/s1/chat", "/sessions/s1/transcript"):
                data = http.get(api + path).json()["data"]
                url = next(v for k, v in data.items() if k.endswith("download_url"))
                assert httpx.get(url).status_code == 200
            http.post(api + "/sessions/s1/summary")  # fails: the model is unreachable
            deadline = time.monotonic() + 20
            while "failed" not in http.get(api + "/sessions/s1/summary").text:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            hook = delivery(participant_joined(meeting("m1", "s1", "t", T0), {"peerId": "p2"}))
            signed = httpx.post(f"{base}/webhooks/rtk/accounts/a/apps/b", content=hook.body,
                                headers=hook.headers())
            assert signed.status_code == 200
            handed_out.append(hook.headers()["rtk-signature"])
            forged = hook.headers() | {"rtk-signature": base64.b64encode(b"x" * 256).decode()}
            assert httpx.post(f"{base}/webhooks/rtk/accounts/a/apps/b", content=hook.body,
                              headers=forged).status_code == 401
        wrong = "rtk_0123456789ab_" + "Z" * 43  # a mistyped token is a secret too
        assert httpx.get(api + "/sessions", headers={"Authorization": f"Bearer {wrong}"}
                         ).status_code == 401
        assert httpx.get(api + "/sessions", headers={"X-Auth-Key": token}).status_code == 200
        beacon = httpx.post(f"{base}/ingest/accounts/a/apps/b/events", params={"token": token},
                            content=b"[]", headers={"Content-Type": "text/plain"})
        assert beacon.status_code == 200  # the collector's sendBeacon: token in the query
        wrong_beacon = httpx.post(f"{base}/ingest/accounts/a/apps/b/events",
                                  params={"token": wrong}, content=b"[]")
        assert wrong_beacon.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=15)
    logged = log.read_text()
    assert "job" in logged and "failed" in logged  # the run did log, at debug level
    secret_part = token.split("_", 2)[2]
    for secret in (token, secret_part, wrong, DOWNLOAD_SECRET, LLM_KEY, S3_SECRET,
                   *handed_out, public_pem().splitlines()[1]):
        assert secret not in logged, f"a secret was logged: {secret[:6]}..."
