"""Shared helpers and fixtures live in tests/support/ or a conftest.py: no file under tests/ imports from a test
module (`tests.<dir>.test_*`), at the top or inside a function, in any of the forms `import` and `from` allow."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def is_test_module(name: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 3 and parts[0] == "tests" and parts[-1].startswith("test_")


def imported_test_modules(source: str) -> set[str]:
    """Every `tests.<dir>.test_*` module the source imports, wherever the import statement stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if is_test_module(a.name)}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if is_test_module(node.module):
                found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if is_test_module(f"{node.module}.{a.name}")}
    return found


def violations() -> set[tuple[str, str]]:
    return {
        (path.relative_to(TESTS).as_posix(), module)
        for path in sorted(TESTS.rglob("*.py"))
        for module in imported_test_modules(path.read_text(encoding="utf-8"))
    }


def test_the_check_sees_every_form_of_import_from_a_test_module():
    source = """
from tests.service.test_a import x
from tests.service import test_b as base
import tests.unit.test_c
from tests.support.gateway import make_token
import tests.support.peers

def helper():
    from tests.browser.test_d import (
        y,
    )
"""
    assert imported_test_modules(source) == {
        "tests.service.test_a",
        "tests.service.test_b",
        "tests.unit.test_c",
        "tests.browser.test_d",
    }


def test_no_file_under_tests_imports_from_a_test_module():
    assert violations() == set(), "move these helpers to tests/support/ or a conftest.py"
