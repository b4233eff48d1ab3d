"""The layers' boundaries, read from the source: row types match the tables; api/ holds
no SQL; imports point one way (api -> ingest -> store -> analytics)."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import pytest

from rtk_sessions.store import tables
from rtk_sessions.store.rows import EventRow, MeetingRow, PeerRow, SessionRow, fields_of

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "rtk_sessions"
ROW_TABLES = [
    (MeetingRow, tables.meetings),
    (SessionRow, tables.sessions),
    (PeerRow, tables.peers),
    (EventRow, tables.events),
]


@pytest.mark.parametrize("row_type, table", ROW_TABLES, ids=lambda v: getattr(v, "name", ""))
def test_each_row_type_is_its_table_less_the_app_key(row_type, table) -> None:
    columns = [c.name for c in table.columns if c.name != "app_pk"]
    assert sorted(fields_of(row_type)) == sorted(columns)
    info = {f.name: f for f in msgspec.inspect.type_info(row_type).fields}
    for column in table.columns:
        if column.name == "app_pk":
            continue
        field_type = info[column.name].type
        admits_none = isinstance(field_type, msgspec.inspect.UnionType) and any(
            isinstance(t, msgspec.inspect.NoneType) for t in field_type.types
        )
        assert admits_none == bool(column.nullable), f"{table.name}.{column.name}"


def imports_of(path: Path, *, runtime_only: bool = True) -> set[str]:
    """Modules a source file imports (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped |= {id(child) for child in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules_in(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def test_api_holds_no_sql() -> None:
    offenders = {
        path.name: sorted(m for m in imports_of(path) if m.split(".")[0] == "sqlalchemy")
        for path in modules_in("api")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


#: The declared event types: a schema without logic, which every layer reads (the store
#: encodes the samples it declares).
SCHEMA = {"rtk_sessions.ingest.events"}


@pytest.mark.parametrize(
    "layer, forbidden",
    [
        ("store", ("rtk_sessions.ingest", "rtk_sessions.api")),
        ("ingest", ("rtk_sessions.api",)),
        ("analytics", ("rtk_sessions.store", "rtk_sessions.api")),
    ],
)
def test_imports_point_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    offenders = {
        path.relative_to(PACKAGE).as_posix(): sorted(
            m for m in imports_of(path) if m.startswith(forbidden) and m not in SCHEMA
        )
        for path in modules_in(layer)
    }
    assert {name: found for name, found in offenders.items() if found} == {}
