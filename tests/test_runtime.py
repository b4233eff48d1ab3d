"""A served worker keeps its startup objects out of the cyclic collector's walks."""

from __future__ import annotations

import os
import subprocess
import sys


def test_importing_the_served_app_freezes_what_it_built(tmp_path) -> None:
    env = {**os.environ, "RTK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    probe = "import gc, rtk_sessions.asgi; print(gc.get_freeze_count())"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert int(done.stdout.strip()) > 10_000  # the app, its routes, SQL metadata, ...
