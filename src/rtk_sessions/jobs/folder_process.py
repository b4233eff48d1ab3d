"""``rtk-sessions serve``'s folder process (``python -m rtk_sessions fold``).

Only the standard library here: ``serve`` starts this before its workers, and the
workers inherit (fork) whatever the serving process imported by then. Importing
the store or the metrics before ``PROMETHEUS_MULTIPROC_DIR`` is set would leave
every worker counting in memory, not in the shared files a scrape sums.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger("rtk_sessions.folder")


class FolderProcess:
    """``rtk-sessions serve``'s folder: ``python -m rtk_sessions fold`` in a process of its
    own beside the server's workers, so that folding takes another core rather than the
    workers' time, started again (after a pause) if it ever exits while serving. It
    stops with the server, and dies with it (Linux: the parent-death signal)."""

    RESTART_PAUSE_SECONDS = 2.0

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._watch = threading.Thread(target=self._keep_running, name="rtk-folder", daemon=True)

    def __enter__(self) -> FolderProcess:
        self._watch.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        self._watch.join(timeout=20)

    def _keep_running(self) -> None:
        while not self._stopping.is_set():
            self._process = subprocess.Popen(
                [sys.executable, "-m", "rtk_sessions", "fold"], preexec_fn=_die_with_parent
            )
            code = self._process.wait()
            if self._stopping.is_set():
                return
            log.warning("the folder exited with %s; starting it again", code)
            self._stopping.wait(self.RESTART_PAUSE_SECONDS)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the serving process dies (Linux); and a
    lower CPU priority, so that on a busy machine the workers answer first (an append
    is acknowledged once durable) and the fold catches up when they are idle, a read
    catching its own app up meanwhile."""
    os.nice(FOLDER_NICENESS)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


FOLDER_NICENESS = 10


_PR_SET_PDEATHSIG = 1
