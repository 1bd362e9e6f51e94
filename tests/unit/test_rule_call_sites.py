"""Every rule runs: each R-id of the domain has a call site in service code, and each rule function of
contracts/deadlines/ and contracts/liability.py is reached from a service (DOMAIN.md: "Rule ids ... name
them in tests and code where a rule is enforced"). A rule function that no service calls is a defect; a rule
deliberately left out must be written down in docs/rules.md with the reason.

Grep-based over the service packages' Python files, tests excluded; comments and docstrings do not count
(a rule id must be a string literal in code, e.g. a refusal's rule="R14", or a call of an rN_ function).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from contracts import deadlines, liability

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("core", "issuer", "customs_gateway", "claims_worker", "notifier", "nga_client", "runtime", "contracts")
DOMAIN = ROOT.parent / "shared" / "DOMAIN.md"
RULES_DOC = ROOT / "docs" / "rules.md"
#: The pure modules that hold the rule functions (dates, money): defining a function there is no call site.
RULE_MODULES = (deadlines, liability)


def _rule_files() -> list[Path]:
    """The rule modules' files: a package's every module (contracts.deadlines holds one per rule family)."""
    paths = [Path(m.__file__).resolve() for m in RULE_MODULES]
    return [f for p in paths for f in (sorted(p.parent.glob("*.py")) if p.name == "__init__.py" else [p])]


def _code_tokens(path: Path) -> list[tuple[int, str]]:
    """(type, text) of the file's strings and names, docstrings and comments left out."""
    source = path.read_text(encoding="utf-8")
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                docstrings.add(first.lineno)
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.STRING and tok.start[0] in docstrings:
            continue
        if tok.type in (tokenize.STRING, tokenize.NAME):
            out.append((tok.type, tok.string))
    return out


def _service_files() -> list[Path]:
    files = [p for pkg in SERVICES for p in (ROOT / pkg).rglob("*.py")]
    rule_files = set(_rule_files())
    return [p for p in files if p.resolve() not in rule_files]


@pytest.fixture(scope="module")
def service_tokens() -> dict[Path, list[tuple[int, str]]]:
    return {p: _code_tokens(p) for p in _service_files()}


def _rule_ids() -> list[str]:
    text = DOMAIN.read_text(encoding="utf-8") if DOMAIN.exists() else RULES_DOC.read_text(encoding="utf-8")
    ids = sorted({int(n) for n in re.findall(r"^\s*[-|]\s*R(\d+)\b", text, re.M)})
    assert ids == list(range(1, max(ids) + 1)), ids
    return [f"R{n}" for n in ids]


def _out_of_scope() -> dict[str, str]:
    """Rules written down in docs/rules.md as deliberately out of scope: `| R<n> | out of scope | reason |`."""
    rows = re.findall(r"^\|\s*(R\d+)\s*\|\s*out of scope\s*\|\s*([^|]+)\|", RULES_DOC.read_text(encoding="utf-8"), re.M)
    return {rule: reason.strip() for rule, reason in rows}


def test_every_rule_id_has_a_call_site_in_service_code_or_a_written_reason(service_tokens):
    skipped = _out_of_scope()
    assert all(len(reason) > 20 for reason in skipped.values()), skipped
    missing = []
    for rule in _rule_ids():
        literal = re.compile(rf"^[rbuf]*(['\"]){rule}\1$", re.I)
        call = re.compile(rf"^{rule.lower()}_\w+$")
        used = [
            p
            for p, toks in service_tokens.items()
            if any(
                (t == tokenize.STRING and literal.match(s)) or (t == tokenize.NAME and call.match(s)) for t, s in toks
            )
        ]
        if not used and rule not in skipped:
            missing.append(rule)
        if used and rule in skipped:
            missing.append(f"{rule} (enforced, yet listed as out of scope)")
    assert missing == [], f"rules with no call site in service code and no reason in docs/rules.md: {missing}"


def _called_names(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def test_every_rule_function_of_the_rule_modules_is_reached_from_a_service(service_tokens):
    """Called by a service, or by a rule-module function a service reaches (building blocks such as
    r2_validity_ends_at behind r2_is_valid_on)."""
    rule_functions = {n for m in RULE_MODULES for n in m.__all__ if re.match(r"r\d+_", n)}
    names_in_services = {s for toks in service_tokens.values() for t, s in toks if t == tokenize.NAME}
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in _rule_files()]
    bodies = {f.name: _called_names(f) for tree in trees for f in tree.body if isinstance(f, ast.FunctionDef)}
    reached = {n for n in bodies if n in names_in_services}
    frontier = set(reached)
    while frontier:
        frontier = {c for f in frontier for c in bodies.get(f, ()) if c in bodies} - reached
        reached |= frontier
    assert sorted(rule_functions - reached) == [], "rule functions no service reaches: wire them or remove them"


def test_the_check_can_fail_on_a_rule_only_named_in_a_docstring_or_comment(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('"""Enforces R99."""\n# R99 here too\nx = 1\n', encoding="utf-8")
    assert [s for t, s in _code_tokens(sample) if "R99" in s] == []
    sample.write_text('reason = Reason(rule="R99")\n', encoding="utf-8")
    assert "R99" in "".join(s for _, s in _code_tokens(sample))
