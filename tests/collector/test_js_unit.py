"""The JS collector's own unit tests (Node's test runner, clients/js/test/), run as part
of the suite so that CI runs them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "clients" / "js"


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_collectors_node_tests_pass() -> None:
    done = subprocess.run(
        ["node", "--test", "--test-timeout=20000", "test/"],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass 15" in done.stdout
