"""The rule modules themselves (contracts.deadlines, contracts.periods, contracts.liability): pure, and every
rule function named and documented with its rule id (DOMAIN.md: rule ids named in code)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

from contracts import deadlines, liability, periods

MODULES = [deadlines, periods, liability]
STDLIB_ALLOWED = {"__future__", "calendar", "collections", "dataclasses", "datetime", "decimal", "zoneinfo"}
PURE_SIBLINGS = {"contracts.periods"}


def _files(module: ModuleType) -> list[Path]:
    """A module's file, or every module of a package (contracts.deadlines holds one per rule family)."""
    path = Path(inspect.getfile(module))
    return sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]


def _tree(module: ModuleType) -> ast.Module:
    return ast.Module(
        body=[n for p in _files(module) for n in ast.parse(p.read_text(encoding="utf-8")).body], type_ignores=[]
    )


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_imports_only_the_standard_library(module):
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            own = name.startswith(f"{module.__name__}.")  # a module of the same rule package
            assert name.split(".")[0] in STDLIB_ALLOWED or name in PURE_SIBLINGS or own, name


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_module_never_reads_the_wall_clock(module):
    forbidden = {"now", "today", "utcnow", "time", "time_ns", "monotonic", "localtime", "gmtime"}
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Attribute):  # date.today(), datetime.now(), time.time() ...
            assert node.attr not in forbidden, f"wall clock: .{node.attr} on line {node.lineno}"


@pytest.mark.parametrize(
    ("module", "at_least"), [(deadlines, 20), (liability, 4)], ids=lambda m: getattr(m, "__name__", "")
)
def test_every_rule_function_is_named_and_documented_with_its_rule_id(module, at_least):
    rule_functions = [name for name in module.__all__ if re.match(r"r\d+_", name)]
    assert len(rule_functions) >= at_least
    for name in rule_functions:
        rule = name.split("_")[0].upper()
        doc = inspect.getdoc(getattr(module, name)) or ""
        assert re.search(rf"\b{rule}\b", doc), f"{name}: docstring must name {rule}"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_every_public_function_has_a_docstring(module):
    for name in module.__all__:
        if callable(getattr(module, name)):
            assert inspect.getdoc(getattr(module, name)), f"{module.__name__}.{name} has no docstring"


def test_the_rule_modules_split_the_rules_without_overlap():
    """A rule function lives in one module: deadlines for dates, liability for money."""
    assert set(deadlines.__all__).isdisjoint(liability.__all__)
    assert not [n for n in periods.__all__ if re.match(r"r\d+_", n)]
