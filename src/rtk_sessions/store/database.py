"""The database handle: one SQLAlchemy engine, read and write transactions.

SQLite runs in WAL mode with ``synchronous=NORMAL`` (readers never wait for
the writer) and write transactions start with ``BEGIN IMMEDIATE`` so two
writers queue on the lock instead of failing half-way. PostgreSQL uses the
same queries through psycopg 3. How the engine and its connections are made is
``store.engine``'s.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, exc, text
from sqlalchemy.dialects import postgresql, sqlite

from rtk_sessions.store.engine import create_database_engine, normalize_url
from rtk_sessions.store.prepared import Prepared, Snapshot, binder, driver_form

BUSY_TIMEOUT_MS = 30_000  # how long a write waits for a lock before StoreUnavailable
ANALYZE_AFTER_EVENTS = 1_000
ANALYZE_MIN_INTERVAL_S = 60.0
# Namespace (first key) of the per-app advisory locks on PostgreSQL; any fixed 32-bit number.
_PG_APP_WRITE_LOCKS = 0x72746B01
_PG_STATISTICS_LOCK = {"space": 0x72746B02, "key": 0}  # one refresh of statistics at a time
_PG_APP_COMPACTION_LOCKS = 0x72746B03
IN_LIST_SIZE = 500  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits


def chunks(items: Sequence[Any], size: int = IN_LIST_SIZE) -> Iterator[Sequence[Any]]:
    """Consecutive slices of ``items`` for IN (...) lists."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class StoreUnavailable(Exception):
    """The database is down, unreachable, out of space or stayed locked past the busy
    timeout: nothing was written, and the same request may succeed later (HTTP 503)."""


# SQLite reports these as OperationalError, like its SQL errors ("no such table"),
# which are bugs, not outages: told apart by the message.
_SQLITE_OUTAGES = ("locked", "busy", "disk", "full", "unable to open", "readonly", "i/o")


def _is_outage(error: BaseException) -> bool:
    if isinstance(error, exc.TimeoutError):  # no pooled connection came free in time
        return True
    cause = error.orig if isinstance(error, exc.DBAPIError) else error
    if isinstance(cause, psycopg.OperationalError):  # connection lost, lock timeout, shutdown
        return True
    if isinstance(cause, sqlite3.OperationalError):
        return any(word in str(cause).lower() for word in _SQLITE_OUTAGES)
    return False


@contextmanager
def outage_as_unavailable() -> Iterator[None]:
    """Re-raise a database outage as :class:`StoreUnavailable` (other errors unchanged)."""
    try:
        yield
    except Exception as error:
        if _is_outage(error):
            # the driver's words only: SQLAlchemy's text adds the statement and its
            # parameters (event data), which do not belong in a log line
            cause = error.orig if isinstance(error, exc.DBAPIError) else error
            raise StoreUnavailable(f"database unavailable: {cause}".strip()) from error
        raise


class Database:
    """An engine plus the few dialect differences the store needs."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 5,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        sqlite_synchronous: str = "NORMAL",
        echo: bool = False,
    ) -> None:
        """``pool_size`` and ``max_overflow``: PostgreSQL connections this process keeps
        open and may open beyond them under load (SQLite opens one per thread as needed).
        ``busy_timeout_ms``: how long a statement waits for a lock (SQLite's busy timeout,
        PostgreSQL's ``lock_timeout``) before it fails as :class:`StoreUnavailable`.
        ``sqlite_synchronous``: NORMAL or FULL (see ``Settings.sqlite_synchronous``)."""
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine: Engine = create_database_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            busy_timeout_ms=busy_timeout_ms,
            sqlite_synchronous=sqlite_synchronous,
            echo=echo,
        )
        self._stats_lock = threading.Lock()
        # SQLite has one writer at a time; this process's write transactions take turns on
        # this lock before BEGIN IMMEDIATE, so that one waiting for another of this process
        # starts the moment it commits, where SQLite's busy handler would sleep in steps of
        # up to 100 ms (a read catching its app's fold up beside ingest waited 20-45 ms
        # for the write lock). Other processes (the folder) still meet the busy handler.
        self._sqlite_writer = threading.RLock()
        self._busy_timeout_s = busy_timeout_ms / 1000
        self._written_since_analyze = 0
        self._written_at_analyze = 0  # events this process had written at the last refresh
        self._analyzed_at = -ANALYZE_MIN_INTERVAL_S

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (one consistent snapshot)."""
        with outage_as_unavailable(), self.engine.connect() as conn, conn.begin():
            yield conn

    def fetch(self, statement: Prepared, params: dict[str, Any]) -> list[Any]:
        """The rows of one :class:`Prepared` read, run on its own: one statement is its
        own consistent snapshot, so no transaction is opened (on PostgreSQL, no BEGIN
        and ROLLBACK round trips)."""
        with outage_as_unavailable():
            return self._fetch(statement, params)

    def _fetch(self, statement: Prepared, params: dict[str, Any]) -> list[Any]:
        pooled = self.engine.raw_connection()
        driver = pooled.driver_connection
        try:
            if not self.is_sqlite:  # SQLite's connections are in autocommit mode already
                driver.autocommit = True  # type: ignore[union-attr]
            try:
                return Snapshot(driver, self.engine.dialect).fetch(statement, params)
            finally:
                if not self.is_sqlite:
                    driver.autocommit = False  # type: ignore[union-attr]
        finally:
            pooled.close()  # back to the pool

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """A read transaction on the driver's own connection, for :class:`Prepared` reads:
        every statement in it sees the database as of the first.

        Costs a fifth of :meth:`read` (no SQLAlchemy connection, events or result
        objects), which matters for the reads every list request makes.
        """
        with outage_as_unavailable():
            yield from self._snapshot()

    def _snapshot(self) -> Iterator[Snapshot]:
        pooled = self.engine.raw_connection()
        driver = pooled.driver_connection
        try:
            if self.is_sqlite:
                driver.execute("BEGIN")  # type: ignore[union-attr]
            else:
                # one snapshot for every statement (read committed takes one per statement):
                # a read of a peer's compact rows and inbox rows must not fall between the
                # two halves of a compaction that moves events from one to the other
                driver.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")  # type: ignore[union-attr]
            yield Snapshot(driver, self.engine.dialect)
        finally:
            try:
                driver.rollback()  # type: ignore[union-attr]  # read only: nothing to keep
            finally:
                pooled.close()  # back to the pool

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success, else rolled back.
        An outage (locked past the busy timeout, disk full, server gone) rolls back and
        raises :class:`StoreUnavailable`: nothing of the transaction is kept."""
        with self._one_writer(), outage_as_unavailable(), self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    @contextmanager
    def _one_writer(self) -> Iterator[None]:
        if not self.is_sqlite:
            yield
            return
        if not self._sqlite_writer.acquire(timeout=self._busy_timeout_s):
            raise StoreUnavailable("database unavailable: this process's writes stayed busy")
        try:
            yield
        finally:
            self._sqlite_writer.release()

    def note_written(self, events: int) -> None:
        """Count stored events; refresh the planner's statistics when they are stale.

        Without statistics the planner misjudges a fresh bulk load: SQLite can
        pick the primary key over a better index (a peer's events: a scan of
        the app's whole log instead of an index seek), PostgreSQL believes a
        table of thousands of sessions holds a few hundred and plans a page
        for that (16-27 ms instead of 2 ms). ``ANALYZE`` is sampled (tens of
        ms), so it runs after the first 1,000 events, then whenever this
        process has written as much again as it had at the last refresh (a
        bulk load is analyzed at 1k, 2k, 4k ... events: statistics never off by
        more than half), and at least once a minute while ingest goes on. On
        PostgreSQL it also VACUUMs sessions and peers (see refresh_statistics);
        autovacuum would get there too, a minute or more later.
        """
        with self._stats_lock:
            self._written_since_analyze += events
            stale = self._written_since_analyze >= max(
                ANALYZE_AFTER_EVENTS, self._written_at_analyze
            )
            due_by_time = time.monotonic() - self._analyzed_at >= ANALYZE_MIN_INTERVAL_S
            if not stale and not (
                due_by_time and self._written_since_analyze >= ANALYZE_AFTER_EVENTS
            ):
                return
            self._written_at_analyze += self._written_since_analyze
            self._written_since_analyze = 0
            self._analyzed_at = time.monotonic()
        self.refresh_statistics()

    def refresh_statistics(self) -> None:
        if self.is_sqlite:
            with self.write() as conn:
                conn.exec_driver_sql("PRAGMA analysis_limit=1000")
                conn.exec_driver_sql("ANALYZE")
            return
        # VACUUM (outside a transaction) also marks the pages of sessions and peers
        # all-visible, which index-only scans need: right after a bulk load, a 50,000-row
        # offset otherwise visits every heap row (57 ms; 8 ms once vacuumed, at 60,000
        # sessions). The event log, the largest table, is only analyzed.
        # One process at a time (a session-level advisory lock, which VACUUM outside a
        # transaction allows): two ANALYZEs of a table wait on each other, and one
        # process's refresh serves every process, so a process that finds one running skips.
        self.maintain(
            _PG_STATISTICS_LOCK,
            "VACUUM (ANALYZE) sessions, peers",
            "ANALYZE apps, meetings, events",
        )

    def maintain(self, lock: dict[str, int], *statements: str) -> bool:
        """Run maintenance statements (VACUUM, ANALYZE: PostgreSQL, outside a transaction)
        unless another process holds ``lock`` ({"space", "key"}), a session-level advisory
        lock, which VACUUM outside a transaction allows; whether they ran."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:space, :key)"), lock).scalar():
                return False
            try:
                for statement in statements:
                    conn.exec_driver_sql(statement)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), lock)
        return True

    def serialize_app_writes(self, conn: Connection, app_pk: int) -> None:
        """Make this write transaction the app's only folder until it ends.

        Folding appended events into sessions and peers reads rows and writes
        them back, so two transactions folding into the same session at once
        would each miss the other's events; erasure and retention must not run
        beside a fold either. SQLite has one writer at a time anyway (``BEGIN
        IMMEDIATE``). On PostgreSQL a transaction-scoped advisory lock per app
        makes these take turns; appends (which never take it), other apps and
        all readers go on. Taken before any row of the app is read, released at
        commit or rollback.
        """
        self._app_lock(conn, _PG_APP_WRITE_LOCKS, app_pk, wait=True)

    def try_serialize_app_writes(self, conn: Connection, app_pk: int) -> bool:
        """:meth:`serialize_app_writes` if no other transaction holds it now, without
        waiting: False when another has it (a background folder then leaves the app
        to that one)."""
        return self._app_lock(conn, _PG_APP_WRITE_LOCKS, app_pk, wait=False)

    def serialize_app_compaction(self, conn: Connection, app_pk: int) -> None:
        """Make this write transaction the app's only compaction of telemetry until it
        ends (``store.stats_compact``; erasure, which rewrites a peer's compact rows,
        takes it beside :meth:`serialize_app_writes`). Folds do not take it: a read
        catching its app's fold up never waits for a compaction."""
        self._app_lock(conn, _PG_APP_COMPACTION_LOCKS, app_pk, wait=True)

    def try_serialize_app_compaction(self, conn: Connection, app_pk: int) -> bool:
        """:meth:`serialize_app_compaction` if no other transaction holds it now, without
        waiting (False when another does)."""
        return self._app_lock(conn, _PG_APP_COMPACTION_LOCKS, app_pk, wait=False)

    def _app_lock(self, conn: Connection, space: int, app_pk: int, *, wait: bool) -> bool:
        """A transaction-scoped advisory lock of the app in ``space`` (PostgreSQL; SQLite's
        write lock already serializes): taken, waiting for it, or tried (whether taken)."""
        if self.is_sqlite:
            return True
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        taken = conn.execute(
            text(f"SELECT {function}(:space, :app_pk)"), {"space": space, "app_pk": app_pk}
        ).scalar()
        return wait or bool(taken)

    def executemany(self, conn: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
        """Run ``statement`` once per row, the rows bound by the driver in C.

        SQLAlchemy's own executemany processes every parameter of every row in
        Python (a third of an ingest batch's time); the statements written in
        bulk here bind plain ints, strings and None, which the drivers take as
        they are. The SQL is compiled once per statement and dialect.
        """
        if not rows:
            return
        # column_keys: an INSERT or UPDATE without .values() sets the rows' keys only
        form = driver_form(statement.compile(dialect=conn.dialect, column_keys=list(rows[0])))
        bind = binder(form.names, form.fixed)
        conn.exec_driver_sql(form.sql, [bind(row) for row in rows])

    def insert(self, table: Any) -> Any:
        """An INSERT that supports ``on_conflict_do_*`` on this dialect."""
        return sqlite.insert(table) if self.is_sqlite else postgresql.insert(table)

    def upsert(
        self,
        conn: Connection,
        table: Any,
        rows: list[dict[str, Any]],
        key: Sequence[str],
        update: Sequence[str] | None = None,
    ) -> None:
        """Insert rows, or on a conflict of ``key`` set ``update`` (default: every other
        column the rows carry), in bulk."""
        if not rows:
            return
        statement = self.insert(table)
        columns = update or [c for c in rows[0] if c not in key]
        statement = statement.on_conflict_do_update(
            index_elements=[table.c[c] for c in key],
            set_={c: statement.excluded[c] for c in columns},
        )
        self.executemany(conn, statement, rows)

    def dispose(self) -> None:
        self.engine.dispose()


def database_for(settings: Any) -> Database:
    """The database a process with these ``Settings`` uses (its URL and pool sizes)."""
    return Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        busy_timeout_ms=settings.db_busy_timeout_ms,
        sqlite_synchronous=settings.sqlite_synchronous,
    )
