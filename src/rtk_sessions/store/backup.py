"""Consistent copies of a live SQLite database (``rtk-sessions backup``).

SQLite's online backup API copies the database from one read transaction: in WAL
mode writers go on meanwhile and the copy is the database as of that instant, whole
(never a half-applied batch). The copy is written next to its destination and renamed
into place only once it passed ``PRAGMA quick_check``, so a failed backup leaves no
file that looks like a good one.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """The backup cannot be made; the message says why and what to do instead."""


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    bytes: int
    pages: int


def sqlite_file_of(database_url: str) -> Path:
    """The file behind a SQLite URL; BackupError for another database."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite"):
        raise BackupError(
            "backup copies SQLite databases; for PostgreSQL use pg_dump, e.g. "
            'pg_dump --format=custom --file=rtk.dump "$DATABASE_URL" (restore with pg_restore)'
        )
    if url.database in (None, "", ":memory:"):
        raise BackupError("an in-memory database has nothing to back up")
    return Path(url.database).expanduser()


def backup_sqlite(source: Path, destination: Path, *, overwrite: bool = False) -> BackupReport:
    """Copy the live database ``source`` to ``destination`` consistently."""
    if not source.exists():
        raise BackupError(f"no database at {source}")
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} exists; choose another path or pass --force")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(f".{destination.name}.partial-{os.getpid()}")
    try:
        with sqlite3.connect(source) as live, sqlite3.connect(partial) as copy:
            live.execute("PRAGMA busy_timeout=30000")
            live.backup(copy)  # all pages in one step: one snapshot, writers go on (WAL)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            verdict = copy.execute("PRAGMA quick_check").fetchone()[0]
            pages = copy.execute("PRAGMA page_count").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy failed its integrity check: {verdict}")
        os.replace(partial, destination)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(destination, destination.stat().st_size, pages)
