"""The background folder: keeps every app's sessions and peers folded up to its log,
and compacts the telemetry appended since (``store.stats_compact``).

``rtk-sessions serve`` runs one in a process of its own (``rtk-sessions fold``, see
``jobs.folder_process``); ``rtk-sessions worker`` runs one in a thread.
Any number may share a database: a folder takes an app only when no other
transaction folds it (``store.folding.fold_pending`` with ``wait=False``), so one
app's folds take turns while different apps fold in parallel. Appends of this
process wake it at once; those of other processes are found by a poll every
``RTK_FOLD_POLL_SECONDS``. Reads do not depend on it: a read whose app has queue
rows folds them itself (``store.folding.catch_up``).
"""

from __future__ import annotations

import logging
import threading

from rtk_sessions.ingest import fold as _fold  # noqa: F401 - registers the fold with the store
from rtk_sessions.store.database import Database
from rtk_sessions.store.folding import appended_signal, fold_pending, pending_apps
from rtk_sessions.store.stats_compact import apps_with_pending_stats, compact_pending

log = logging.getLogger("rtk_sessions.folder")
BACKOFF_SECONDS = 2.0  # after an error (the database down or locked): try again


def fold_round(db: Database) -> int:
    """One pass over the apps with queue rows, one batch each; when there was nothing to
    fold, one over those with telemetry to compact, a batch each. The events folded or
    compacted. Folds come first: a read waits for its app's fold (it folds what is left
    itself), never for a compaction."""
    folded = sum(fold_pending(db, app_pk, wait=False) for app_pk in pending_apps(db))
    if folded:
        return folded
    return sum(compact_pending(db, app_pk) for app_pk in apps_with_pending_stats(db))


def run_folder(db: Database, poll_seconds: float, stop: threading.Event) -> None:
    """Fold until ``stop`` is set: at once while there is a backlog, else on a local
    append or every ``poll_seconds``."""
    appended = appended_signal(db)
    while not stop.is_set():
        appended.clear()
        try:
            folded = fold_round(db)
        except Exception:  # noqa: BLE001 - logged; the next round tries again
            log.exception("folding failed; trying again in %s s", BACKOFF_SECONDS)
            stop.wait(BACKOFF_SECONDS)
            continue
        if not folded:
            appended.wait(poll_seconds)


def start_folder_thread(
    db: Database, poll_seconds: float
) -> tuple[threading.Thread, threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_folder, args=(db, poll_seconds, stop), name="rtk-folder", daemon=True
    )
    thread.start()
    return thread, stop
