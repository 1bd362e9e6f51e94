"""The core's layers: SQL only in repositories, routes that call use cases, modules a reader can hold.

Read from the source, so a route that starts querying the database itself, or a use case module that
grows back into a 500-line class, fails here rather than in review."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
#: Modules that talk to PostgreSQL: repositories and stores.
REPOSITORY = re.compile(r"(^|_)(repository|store)\.py$")
#: asyncpg calls that run SQL.
SQL_CALLS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "copy_records_to_table", "copy_to_table"}
ROUTES = ["api.py", "lifecycle_api.py", "history_api.py"]
MAX_LINES = 400


def _sources() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "migrations" not in p.parts)


def _sql_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f"{path.relative_to(CORE)}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS
    ]


def test_sql_is_run_only_by_repositories():
    outside = [call for p in _sources() if not REPOSITORY.search(p.name) for call in _sql_calls(p)]
    assert outside == []


def test_the_guard_sees_sql_where_there_is_some():
    # The check above must be able to fail: the ledger's repository does run SQL.
    assert _sql_calls(CORE / "repository.py")


@pytest.mark.parametrize("route_module", ROUTES)
def test_routes_reach_the_ledger_through_use_cases_not_repositories(route_module):
    imported = {
        alias.name if isinstance(node, ast.Import) else f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse((CORE / route_module).read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom | ast.Import)
        for alias in node.names
    }
    repositories = {"core.repository", "core.transaction_repository", "core.signing_key_repository"}
    assert not (repositories | {"core.history_store", "core.holder_repository"}) & imported
    assert not any(name.startswith("core.handlers") for name in imported)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(CORE)))
def test_every_core_module_stays_under_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) < MAX_LINES
