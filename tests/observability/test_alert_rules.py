"""The alert rules (deploy/prometheus) pass `promtool check rules` and their unit tests (`promtool test rules`):
each alert fires where it must and stays silent on a burst that drains (issue 8)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.system_tools import require

PROMETHEUS = Path(__file__).parents[2] / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def promtool() -> str:
    return require("promtool", "prometheus")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)


def test_the_rules_and_the_scrape_config_are_valid(promtool):
    rules = sorted(p.name for p in (PROMETHEUS / "rules").glob("*.yml"))
    assert rules, "no rule files"
    checked = run(promtool, "check", "rules", *(f"rules/{r}" for r in rules))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = run(promtool, "check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_every_alert_has_a_unit_test_and_they_pass(promtool):
    tests = sorted(str(p.relative_to(PROMETHEUS)) for p in (PROMETHEUS / "tests").glob("*.yml"))
    result = run(promtool, "test", "rules", *tests)
    assert result.returncode == 0, result.stdout + result.stderr
    import yaml

    alerts = {
        r["alert"]
        for f in (PROMETHEUS / "rules").glob("*.yml")
        for g in yaml.safe_load(f.read_text())["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    tested = {
        case["alertname"]
        for f in tests
        for t in yaml.safe_load((PROMETHEUS / f).read_text())["tests"]
        for case in t.get("alert_rule_test", [])
    }
    fired = {
        case["alertname"]
        for f in tests
        for t in yaml.safe_load((PROMETHEUS / f).read_text())["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts - tested == set(), "alerts without a unit test"
    assert alerts - fired == set(), "alerts never shown firing in a unit test"
