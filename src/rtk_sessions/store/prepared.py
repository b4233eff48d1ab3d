"""Reads run on the driver's own cursor: statements compiled once per dialect.

For the hottest reads (the sessions list, a fold's reads of thousands of rows):
SQLAlchemy spends more time building a statement, working out its cache key and
wrapping the result than the database spends running it. A :class:`Prepared`
statement is built once with a named ``bindparam`` for every value that varies;
:meth:`Snapshot.fetch` binds them by name and returns the driver's tuples.
A list of values is bound as one parameter with :func:`in_list` (no statement
per list length).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Integer, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import Boolean


class Prepared:
    """A read statement compiled once per dialect and run on the driver's own cursor.

    For the hottest reads (the sessions list): SQLAlchemy spends more time building
    a statement, working out its cache key and wrapping the result than SQLite
    spends running it. A prepared statement is built once, with a named
    ``bindparam`` for every value that varies, and :meth:`Database.fetch` binds
    them by name. Rows come back as the driver gives them: plain values only
    (a boolean is 0/1 on SQLite; see ``rows.row_of``).
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, DriverForm] = {}

    def compiled_for(self, dialect: Any) -> DriverForm:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = driver_form(
                self.statement.compile(dialect=dialect)
            )
        return found


class Snapshot:
    """The reads of one :meth:`Database.snapshot`."""

    def __init__(self, driver: Any, dialect: Any) -> None:
        self.driver, self.dialect = driver, dialect

    @classmethod
    def of(cls, conn: Any) -> Snapshot:
        """Prepared reads on the driver connection of a SQLAlchemy ``Connection``, in its
        transaction."""
        return cls(conn.connection.driver_connection, conn.dialect)

    def listed(self, values: Sequence[Any]) -> Any:
        """``values`` bound for an :func:`in_list` parameter on this database."""
        return list_param(values, sqlite=self.dialect.name == "sqlite")

    def fetch(self, statement: Prepared, params: dict[str, Any]) -> list[Any]:
        """The rows of a :class:`Prepared` read, as the driver returns them (tuples)."""
        form = statement.compiled_for(self.dialect)
        cursor = self.driver.cursor()
        try:
            cursor.execute(form.sql_for(params), binder(form.names, form.fixed)(params))
            return cursor.fetchall()
        finally:
            cursor.close()


class DriverForm(NamedTuple):
    """What the driver needs to run a compiled statement."""

    sql: str
    names: tuple[str, ...] | None  # parameter names in order, for a positional driver
    fixed: dict[str, Any]  # values the statement itself binds, e.g. a literal app key
    inline: tuple[str, ...]  # integers written into the SQL text (see :func:`paging`)

    def sql_for(self, params: dict[str, Any]) -> str:
        sql = self.sql
        for name in self.inline:
            sql = sql.replace(f"__[POSTCOMPILE_{name}]", str(int(params[name])))
        return sql


def paging(name: str) -> Any:
    """A LIMIT or OFFSET value written into the SQL as an integer, not bound.

    PostgreSQL plans a prepared statement (psycopg prepares one after 5 runs) once
    for any LIMIT: a generic plan guessing at a bound LIMIT read the whole app's
    sessions for page 1 (0.57 ms; 0.16 ms with the number in the text). SQLite
    caches one statement per distinct text, so page 1 stays prepared there too.
    """
    return bindparam(name, type_=Integer, literal_execute=True)


def driver_form(compiled: Any) -> DriverForm:
    inline = tuple(sorted(b.key for b in compiled.literal_execute_params))
    names = compiled.positiontup if compiled.positional else None
    if names is not None:
        names = tuple(n for n in names if n not in inline)
    fixed = {k: v for k, v in compiled.params.items() if v is not None and k not in inline}
    return DriverForm(compiled.string, names, fixed, inline)


def binder(names: tuple[str, ...] | None, fixed: dict[str, Any]) -> Callable[[dict], Any]:
    """Turns one execution's values into parameters as the driver takes them (a tuple in
    ``names`` order, or a mapping), with the statement's fixed values merged in."""
    if names is None:
        return (lambda values: {**fixed, **values}) if fixed else (lambda values: values)
    pick = itemgetter(*names)
    if len(names) == 1:
        if fixed:
            return lambda values: (pick({**fixed, **values}),)
        return lambda values: (pick(values),)
    return (lambda values: pick({**fixed, **values})) if fixed else pick


class InList(ColumnElement[bool]):
    """``column IN (the values bound as :name)``, one parameter whatever their number:
    ``IN (SELECT value FROM json_each(:name))`` on SQLite (bound as a JSON array, see
    :func:`list_param`), ``= ANY(:name)`` on PostgreSQL (bound as a list)."""

    type = Boolean()
    inherit_cache = True

    def __init__(self, column: Any, name: str) -> None:
        self.column = column
        self.param = bindparam(name)


def in_list(column: Any, name: str) -> InList:
    return InList(column, name)


def list_param(values: Sequence[Any], *, sqlite: bool) -> Any:
    """The value to bind for an :func:`in_list` parameter."""
    return msgspec.json.encode(list(values)).decode() if sqlite else list(values)


@compiles(InList, "sqlite")
def _in_list_sqlite(element: InList, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.param, **kw)}))"


@compiles(InList, "postgresql")
def _in_list_postgresql(element: InList, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY({compiler.process(element.param, **kw)})"
