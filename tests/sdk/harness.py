"""What the SDK test modules share: starting the real server, running the SDK calls.

Four generations of the official SDK are run against the same server: the
Python ``cloudflare`` package pinned in pyproject.toml ("current") and 5.0.0
("seed", its own venv), both through ``sdk_calls.py``; and the TypeScript
``cloudflare`` package 7.x ("ts7") and 6.x ("ts6"), pinned in
``node/package-lock.json``, through ``node/sdk_calls.mjs``. Both scripts make the
same calls and print the same document, so one set of tests judges all four.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "rtk-sessions"
SCRIPT = Path(__file__).with_name("sdk_calls.py")
NODE_DIR = Path(__file__).with_name("node")
NODE_SCRIPT = NODE_DIR / "sdk_calls.mjs"
SEED_VERSION = "5.0.0"
SEED_VENV_PYTHON = REPO / ".venv-sdk500" / "bin" / "python"
PYTHON_GENERATIONS = ("current", "seed")
TS_GENERATIONS = ("ts7", "ts6")
GENERATIONS = PYTHON_GENERATIONS + TS_GENERATIONS
#: The generation of the other language that types the same shapes (5.0.0 and 6.x
#: read ``data.session`` and have participant-details ``filters``; 5.3+ and 7.x not).
TWIN = {"ts7": "current", "ts6": "seed"}
#: Generations whose details answer is ``data.session`` (the rest read ``data``).
NESTED_DETAILS = {"seed", "ts6"}
RUN_TIMEOUT_S = 300
START_TIMEOUT_S = 60


# --------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fail_with_log(message: str, log: Path) -> None:
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    pytest.fail(f"{message}\n--- server log ({log}) ---\n{text[-8000:]}", pytrace=False)


def last_line_token(proc: subprocess.CompletedProcess[str], what: str) -> str:
    """The token a CLI command printed alone on its last line of standard output."""
    assert proc.returncode == 0, f"{what} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    lines = proc.stdout.splitlines()
    assert lines, f"{what} printed nothing on stdout; stderr:\n{proc.stderr[-4000:]}"
    token = lines[-1].strip()
    assert token and " " not in token, f"{what}: last stdout line is not a token: {lines[-1]!r}"
    return token


def start_server(env: dict[str, str], work: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``rtk-sessions serve`` on a free port, in its own process group; waits for /healthz."""
    assert CLI.exists(), f"{CLI} not found: is the package installed in this venv?"
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=work,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            fail_with_log(f"rtk-sessions serve exited with {proc.returncode}", log)
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return proc, base_url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            fail_with_log(f"no 200 from {base_url}/healthz in {START_TIMEOUT_S} s", log)
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own process group: server and workers
        proc.wait(timeout=15)


# --------------------------------------------------------------------------
# the SDK generations
# --------------------------------------------------------------------------


def pinned_current_version() -> str:
    """The ``cloudflare==X`` pin of the test extra in pyproject.toml."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'"cloudflare==([^"]+)"', text)
    assert match, "pyproject.toml pins no cloudflare version"
    return match.group(1)


def seed_python() -> Path:
    """The interpreter of the cloudflare==5.0.0 environment; a missing one fails the suite."""
    hint = "run `make test` (it prepares .venv-sdk500)"
    configured = os.environ.get("RTK_TEST_SDK500_PYTHON")
    if configured:
        path = Path(configured)
        if not path.exists():
            pytest.fail(
                f"RTK_TEST_SDK500_PYTHON={configured} does not exist: {hint}", pytrace=False
            )
        return path
    if not SEED_VENV_PYTHON.exists():
        pytest.fail(
            f"no cloudflare=={SEED_VERSION} environment (RTK_TEST_SDK500_PYTHON unset, "
            f"{SEED_VENV_PYTHON} missing): {hint}",
            pytrace=False,
        )
    return SEED_VENV_PYTHON


def interpreter(generation: str) -> tuple[Path, str]:
    """(python or node, the cloudflare version it must have)."""
    if generation == "current":
        return Path(sys.executable), pinned_current_version()
    if generation in TS_GENERATIONS:
        return node(), pinned_ts_version(generation)
    return seed_python(), SEED_VERSION


def ts_package(generation: str) -> str:
    """The alias the TypeScript generation is installed under (``cloudflare-7``)."""
    return f"cloudflare-{generation.removeprefix('ts')}"


def pinned_ts_version(generation: str) -> str:
    """The version node/package.json pins for the generation (``npm:cloudflare@X``)."""
    manifest = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))
    spec = manifest["dependencies"][ts_package(generation)]
    assert spec.startswith("npm:cloudflare@"), spec
    return spec.removeprefix("npm:cloudflare@")


def installed_ts_version(generation: str) -> str:
    manifest = NODE_DIR / "node_modules" / ts_package(generation) / "package.json"
    return json.loads(manifest.read_text(encoding="utf-8"))["version"]


def node() -> Path:
    """Node.js, with the SDKs installed beside the script; a missing one fails the suite."""
    hint = "run `make test` (it runs `npm ci` in tests/sdk/node)"
    found = shutil.which("node")
    if found is None:
        pytest.fail(f"no `node` on PATH: the TypeScript SDK tests need Node.js 20+; {hint}",
                    pytrace=False)
    if not (NODE_DIR / "node_modules" / "typescript").exists():
        pytest.fail(f"{NODE_DIR}/node_modules is missing: {hint}", pytrace=False)
    return Path(found)


def clean_env() -> dict[str, str]:
    """No CLOUDFLARE_* credentials/base URL, no PYTHONPATH leaking this repo into the seed venv."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLOUDFLARE_") and k not in ("PYTHONPATH", "PYTHONHOME")
    }


@dataclass
class Outcome:
    generation: str
    python: Path
    returncode: int
    stdout: str
    stderr: str
    output: dict[str, Any] | None

    def describe(self) -> str:
        failures = json.dumps((self.output or {}).get("failures"), indent=1)[:6000]
        return (
            f"sdk_calls.py with {self.python} ({self.generation}) exited {self.returncode}\n"
            f"failures: {failures}\n--- stderr (tail) ---\n{self.stderr[-6000:]}"
        )


def run_sdk_calls(
    generation: str, base_url: str, token: str, account: str, app: str, ids_file: Path
) -> Outcome:
    """sdk_calls.py (or .mjs) with one generation's interpreter against a running server."""
    python, _ = interpreter(generation)
    if generation in TS_GENERATIONS:
        script = [str(NODE_SCRIPT), generation.removeprefix("ts")]
    else:
        script = [str(SCRIPT)]
    proc = subprocess.run(
        [str(python), *script, base_url, token, account, app, str(ids_file)],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        env=clean_env(),
        cwd=SCRIPT.parent,
    )
    try:
        output = json.loads(proc.stdout)
    except json.JSONDecodeError:
        output = None
    return Outcome(generation, python, proc.returncode, proc.stdout, proc.stderr, output)


def sdk_runner(server: Any) -> Any:
    """``run(generation) -> Outcome`` against ``server`` (base_url, token, account, app,
    ids_file), running sdk_calls.py at most once per generation."""
    cache: dict[str, Outcome] = {}

    def run(generation: str) -> Outcome:
        if generation not in cache:
            cache[generation] = run_sdk_calls(
                generation,
                server.base_url,
                server.token,
                server.account,
                server.app,
                server.ids_file,
            )
        return cache[generation]

    return run
