"""The scrape configurations find every instance of every service under the names compose and Kubernetes give
them (valid DNS names: customs-gateway), while the job and `service` labels keep the package names the alert
rules and dashboards use (customs_gateway). promtool checks each file (issue 8 item 5)."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.local.prometheus import local_config
from runtime.settings import DEFAULT_PORTS
from tests.support.deploy import dns_name
from tests.support.system_tools import require

ROOT = Path(__file__).parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
K8S_PROMETHEUS = ROOT / "deploy" / "k8s" / "prometheus" / "prometheus.yml"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def promtool_check(promtool: str, config: dict, directory: Path) -> None:
    (directory / "rules").mkdir(exist_ok=True)
    for rules in (PROMETHEUS / "rules").glob("*.yml"):
        (directory / "rules" / rules.name).write_text(rules.read_text())
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def alerted_jobs() -> set[str]:
    rules = load(PROMETHEUS / "rules" / "ata.yml")
    expr = next(r["expr"] for g in rules["groups"] for r in g["rules"] if r.get("alert") == "AtaServiceDown")
    return set(re.search(r'job=~"([^"]+)"', expr).group(1).split("|"))


def test_compose_scrape_config_discovers_each_service_by_its_dns_name():
    compose = load(ROOT / "deploy" / "compose.yaml")
    jobs = {j["job_name"]: j for j in load(PROMETHEUS / "prometheus.yml")["scrape_configs"]}
    assert set(jobs) == set(DEFAULT_PORTS) == alerted_jobs()
    for service, job in jobs.items():
        assert job["dns_sd_configs"] == [
            {"names": [dns_name(service)], "type": "A", "port": DEFAULT_PORTS[service], "refresh_interval": "30s"}
        ]
        assert dns_name(service) in compose["services"]
        assert {"target_label": "service", "replacement": service} in job["relabel_configs"]


def test_the_local_copy_scrapes_static_loopback_targets(tmp_path):
    endpoints = {s: f"http://127.0.0.1:{p}" for s, p in DEFAULT_PORTS.items()}
    config = local_config(endpoints, scrape_interval="1s")
    for job in config["scrape_configs"]:
        assert "dns_sd_configs" not in job
        assert job["static_configs"] == [{"targets": [f"127.0.0.1:{DEFAULT_PORTS[job['job_name']]}"]}]
    promtool_check(require("promtool", "prometheus"), config, tmp_path)


def test_kubernetes_scrape_config_keeps_the_package_names():
    config = load(K8S_PROMETHEUS)
    [job] = config["scrape_configs"]
    overlay = load(ROOT / "deploy" / "k8s" / "overlays" / "example" / "kustomization.yaml")
    assert job["kubernetes_sd_configs"] == [{"role": "pod", "namespaces": {"names": [overlay["namespace"]]}}]
    relabel = job["relabel_configs"]
    label = "__meta_kubernetes_pod_label_ata_carnets_service"  # the pods' `ata-carnets/service` label
    keep = next(r for r in relabel if r.get("action") == "keep" and r["source_labels"] == [label])
    assert set(keep["regex"].split("|")) == alerted_jobs()
    assert {"source_labels": [label], "target_label": "job"} in relabel
    assert {"source_labels": [label], "target_label": "service"} in relabel


def test_kubernetes_scrape_config_passes_promtool(tmp_path):
    """Debian's promtool is built without Kubernetes discovery: everything else (relabelling, rules) is checked
    with the discovery swapped for a static target."""
    promtool = require("promtool", "prometheus")
    config = copy.deepcopy(load(K8S_PROMETHEUS))
    for job in config["scrape_configs"]:
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": ["core:8102"]}]
    promtool_check(promtool, config, tmp_path)


@pytest.mark.parametrize("path", [PROMETHEUS / "prometheus.yml", K8S_PROMETHEUS])
def test_rules_are_loaded_from_the_mounted_rules_directory(path):
    assert load(path)["rule_files"] == ["rules/*.yml"]
