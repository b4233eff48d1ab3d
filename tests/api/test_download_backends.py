"""The optional backends, each against a real server on 127.0.0.1 the test starts: S3
storage of downloads (moto's S3 API server) and summaries from an OpenAI-compatible
chat-completions server (a small one written here)."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from rtk_sessions.clock import iso_ms
from tests.api.support import AppUnderTest, assert_not_found, running_server
from tests.api.test_downloads import call_events, wait_for_summary
from tests.conftest import free_port

BUCKET = "rtk-downloads"
KEYS = {"s3_access_key_id": "testing", "s3_secret_access_key": "testing-secret"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                 aws_secret_access_key="testing-secret").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def test_s3_links_are_presigned_gets_of_uploaded_files(backend, tmp_path, s3_endpoint) -> None:
    settings = dict(s3_bucket=BUCKET, s3_endpoint_url=s3_endpoint, s3_prefix="exports/",
                    download_link_seconds=600, **KEYS)
    with running_server(backend, tmp_path, **settings) as server, server.client() as http:
        app = AppUnderTest(server, "app-s3", http)
        app.ingest(call_events())
        data = app.ok("/sessions/s1/chat")["data"]
        url = data["chat_download_url"]
        assert url.startswith(f"{s3_endpoint}/{BUCKET}/exports/") and "Signature" in url
        assert data["chat_download_url_expiry"] == url_expiry(url)  # true to the link
        response = httpx.get(url)
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
        assert [r[0] for r in rows[1:]] == ["c1", "c2", "c3"]
        vtt = app.ok("/sessions/s1/transcript", format="VTT")["data"]["transcript_download_url"]
        assert httpx.get(vtt).content.startswith(b"WEBVTT")
        # (moto does not check signatures: tampering with a presigned URL is S3's to refuse)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing-secret")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["Contents"]]
    assert any(k.endswith(".csv") for k in keys) and any(k.endswith(".vtt") for k in keys)


def url_expiry(url: str) -> str:
    """When a presigned URL stops working, from the URL itself (SigV2 or SigV4)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if "Expires" in query:
        return iso_ms(int(query["Expires"]) * 1000)
    signed = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return iso_ms(int(signed.timestamp() + int(query["X-Amz-Expires"])) * 1000)


class FakeModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat-completions endpoint: answers ``reply`` or ``status``."""

    requests: list[dict] = []
    reply = "A summary written by the model."
    status = 200

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeModel.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        payload = (
            {"choices": [{"index": 0, "message": {"role": "assistant", "content": self.reply}}]}
            if self.status == 200
            else {"error": {"message": "model overloaded"}}
        )
        encoded = json.dumps(payload).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def model_server() -> Iterator[str]:
    FakeModel.requests, FakeModel.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakeModel)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def llm_settings(url: str) -> dict:
    return dict(summary_llm_url=url, summary_llm_model="tiny-test-model",
                summary_llm_api_key="sk-test-key", job_poll_seconds=0.05)


def test_summary_from_an_openai_compatible_model(backend, tmp_path, model_server) -> None:
    with running_server(backend, tmp_path, **llm_settings(model_server)) as server, \
            server.client() as http:
        app = AppUnderTest(server, "app-llm", http)
        app.ingest(call_events())
        body = {"summary_type": "sales_call", "word_limit": 200}
        assert app.http.post(app.base + "/sessions/s1/summary", json=body).status_code == 200
        data = wait_for_summary(app)
        assert httpx.get(data["summaryDownloadUrl"]).text == FakeModel.reply
    [request] = FakeModel.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test-key"
    assert request["body"]["model"] == "tiny-test-model"
    system, user = request["body"]["messages"]
    assert "sales call" in system["content"] and "200 words" in system["content"]
    assert "Bob: I will send the budget numbers by Friday." in user["content"]


def test_a_failing_model_fails_the_job_with_its_error(backend, tmp_path, model_server) -> None:
    FakeModel.status = 503
    settings = llm_settings(model_server) | {"job_max_attempts": 1}
    with running_server(backend, tmp_path, **settings) as server, server.client() as http:
        app = AppUnderTest(server, "app-llm-down", http)
        app.ingest(call_events())
        app.http.post(app.base + "/sessions/s1/summary")
        for _ in range(200):
            response = app.get("/sessions/s1/summary")
            if "failed" in response.text:
                break
            threading.Event().wait(0.05)
        message = assert_not_found(response)
        assert "failed" in message and "answered 503" in message and "model overloaded" in message
    assert len(FakeModel.requests) == 1  # no silent fallback, no retry past the limit
