"""Every Grafana panel and every alert names only metrics the services export (issue 8 item 4): the names are
collected from the five services' registries after building them, plus FastStream's middleware (registered
on the same registries) and Prometheus' own series. The dashboards' JSON is what deploy/grafana/build.py
writes, and every query parses (promtool, when installed)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.grafana import build as grafana
from deploy.local.services import SERVICES
from runtime.settings import Settings
from tests.support.system_tools import require

ROOT = Path(__file__).parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"

#: Series Prometheus makes itself.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "ALERTS"}
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "unknown": ("",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
}
KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
}


def exported_names(tmp_path: Path) -> set[str]:
    from deploy.local.identity import ensure_wallet_issuer
    from tokens import trustlist

    anchor = tmp_path / "keys" / "trust-anchor.pem"
    trustlist.ensure_anchor(anchor)
    settings = Settings(
        database_url="postgresql://unused@127.0.0.1:1/unused",
        kafka_bootstrap_servers="127.0.0.1:1",
        data_dir=tmp_path,
        wallet_issuer_public_key_path=ensure_wallet_issuer(tmp_path),
        trust_anchor_key_path=anchor,
        trust_anchor_public_key_path=trustlist.public_path(anchor),
        gateway_admin_token="unused-token-0123456789",
    )
    names: set[str] = set()
    for service in SERVICES:
        module = __import__(f"{service}.app", fromlist=["build"])
        registry = module.build(settings).registry  # building connects nothing
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    # The single-machine stack's broker memory, served beside the services (deploy/local/broker_memory.py).
    from deploy.local.broker_memory import BrokerMemory

    names.update(family.name for family in BrokerMemory("embedded", lambda: None, limit_bytes=1).collect())
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, label names and durations left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)  # label lists
    found = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if not call and name.lower() not in KEYWORDS:
            found.add(name)
    return found


def dashboard_queries() -> list[tuple[str, str, str]]:
    out = []
    for path in sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [(path.name, panel["title"], target["expr"]) for target in panel["targets"]]
    return out


def alert_queries() -> list[tuple[str, str, str]]:
    return [
        (path.name, rule.get("alert") or rule["record"], rule["expr"])
        for path in sorted((PROMETHEUS / "rules").glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    return exported_names(tmp_path_factory.mktemp("build"))


def test_the_name_extractor_finds_metrics_and_nothing_else():
    expr = (
        'histogram_quantile(0.99, sum by (le, job) (rate(ata_x_seconds_bucket{job="a", le=~"1.*"}[5m])))'
        ' > 5 and on (job) max_over_time(up[10m:1m]) offset 1h unless ata_y_total{reason="or by"} or vector(1)'
    )
    assert metric_names(expr) == {"ata_x_seconds_bucket", "up", "ata_y_total"}


def test_the_services_export_the_business_middleware_and_scrape_time_metrics(exported):
    for name in (
        "ata_carnets_issued_total",
        "ata_issuance_rejected_total",
        "ata_declarations_total",
        "ata_transactions_recorded_total",
        "ata_cancellations_total",
        "ata_claims_by_state",
        "ata_deliveries_total",
        "ata_declaration_to_decision_seconds_bucket",
        "ata_outbox_backlog",
        "ata_outbox_oldest_age_seconds",
        "ata_consumer_lag_messages",
        "ata_dead_letter_messages",
        "ata_dead_letters_total",
        "ata_claims_deadlines_within_7d",
        "ata_messages_handled_total",
        "faststream_published_messages_total",
    ):
        assert name in exported, name


@pytest.mark.parametrize("queries", [dashboard_queries, alert_queries], ids=["dashboards", "alerts"])
def test_every_query_names_a_metric_the_services_export(exported, queries):
    known = exported | PROMETHEUS_OWN
    checked = queries()
    assert checked
    unknown = [
        (where, title, sorted(metric_names(expr) - known))
        for where, title, expr in checked
        if metric_names(expr) - known
    ]
    assert unknown == []
    assert all(metric_names(expr) for _, _, expr in checked), "a query with no metric at all"


def test_dashboards_are_what_the_builder_writes_and_cover_every_service():
    written = {p.name: p.read_text() for p in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")}
    assert written == grafana.render(), "run python -m deploy.grafana.build"
    uids = {json.loads(text)["uid"] for text in written.values()}
    assert {f"ata-{s}" for s in SERVICES} | {"ata-overview", "ata-claims-deadlines"} <= uids
    for text in written.values():
        for panel in json.loads(text)["panels"]:
            assert panel["datasource"]["uid"] == "prometheus" and panel["targets"]


def test_provisioning_names_the_dashboards_datasource():
    sources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yaml").read_text())["datasources"]
    assert [s["uid"] for s in sources if s["type"] == "prometheus"] == ["prometheus"]
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "ata.yaml").read_text())["providers"]
    assert providers and all(p["type"] == "file" and p["options"]["path"] for p in providers)


def test_every_dashboard_query_parses(tmp_path):
    promtool = require("promtool", "prometheus")
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"check:panel_{n}", "expr": expr} for n, (_, _, expr) in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
