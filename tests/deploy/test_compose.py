"""deploy/compose.yaml against the Compose Specification's JSON schema (the copy check-jsonschema vendors from
the compose-spec repository, Apache-2.0), and against the code: every service, the Kafka cluster the issue asks
for, secrets by reference, setting names, one image from deploy/Dockerfile (issue 8 item 5)."""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from deploy.kafka_settings import (
    COMPOSE_CLUSTER_ID,
    KAFKA_VERSION,
    cluster_id_is_valid,
    compose_environment,
    new_cluster_id,
    replication,
)
from runtime.settings import DEFAULT_PORTS
from tests.support.deploy import dns_name, settings_env_names

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
SERVICES = tuple(DEFAULT_PORTS)
KAFKA = ("kafka-1", "kafka-2", "kafka-3")


def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas") / "vendor"
    return json.loads((vendor / "compose-spec.json").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_file_matches_the_compose_specification(compose):
    schema = compose_schema()
    jsonschema.validators.validator_for(schema)(schema).validate(compose)


def test_the_schema_check_can_fail(compose):
    broken = {**compose, "services": {**compose["services"], "core": {**compose["services"]["core"], "restart": 3}}}
    schema = compose_schema()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(broken)


def test_every_service_once_with_a_valid_dns_name(compose):
    names = set(compose["services"])
    assert {dns_name(s) for s in SERVICES} <= names
    assert all(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", n) for n in names), names
    for service in SERVICES:
        spec = compose["services"][dns_name(service)]
        assert spec["command"] == [service]
        assert spec["environment"]["ATA_HTTP_PORT"] == str(DEFAULT_PORTS[service])
        assert spec["depends_on"]["topics"] == {"condition": "service_completed_successfully"}


def test_kafka_is_three_kraft_nodes_replicating_three_ways(compose):
    voters = set()
    for name in KAFKA:
        spec = compose["services"][name]
        env = spec["environment"]
        assert spec["image"].startswith("apache/kafka:")
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        voters.add(env["KAFKA_CONTROLLER_QUORUM_VOTERS"])
    assert voters == {"1@kafka-1:9093,2@kafka-2:9093,3@kafka-3:9093"}
    topics = compose["services"]["topics"]
    factor, min_insync = replication(len(KAFKA))
    assert topics["command"][:5] == [
        "deploy.topics",
        "--replication-factor",
        str(factor),
        "--min-insync-replicas",
        str(min_insync),
    ]
    for service in SERVICES:
        env = compose["services"][dns_name(service)]["environment"]
        assert set(env["KAFKA_BOOTSTRAP_SERVERS"].split(",")) == {f"{k}:9092" for k in KAFKA}
        assert env["ATA_BROKER"] == "kafka-cluster"  # idempotent producers, replicated topics


def test_kafka_nodes_run_the_tested_version_with_the_tested_settings(compose):
    """The brokers the tests start (deploy/local/apache_kafka.py) and compose's are configured from one source."""
    wanted = compose_environment(nodes=len(KAFKA))
    for name in KAFKA:
        spec = compose["services"][name]
        assert spec["image"] == f"apache/kafka:{KAFKA_VERSION}"
        env = spec["environment"]
        assert {key: env.get(key) for key in wanted} == wanted, name
        assert cluster_id_is_valid(env["CLUSTER_ID"]), env["CLUSTER_ID"]
        assert env["CLUSTER_ID"] == COMPOSE_CLUSTER_ID


def test_the_cluster_id_check_refuses_what_kafka_storage_format_refuses():
    assert cluster_id_is_valid(new_cluster_id())
    for bad in (
        "ata-carnets-test-cluster-1",
        "YXRhLWNhcm5ldHMtdGVzdA=",
        "YXRhLWNhcm5ldHMtdGVzd",
        "YXRhLWNhcm5ldHMtdGVzd!",
        "YXRhLWNhcm5ldHMtdGVzdAYXRhLWNhcm5ldHMtdGVzdA",
        "",
    ):
        assert not cluster_id_is_valid(bad), bad


def test_the_settings_check_can_fail(compose):
    env = compose["services"]["kafka-1"]["environment"]
    wanted = compose_environment(nodes=len(KAFKA))
    assert {**env, "KAFKA_MIN_INSYNC_REPLICAS": "1"} != env
    assert {key: {**env, "KAFKA_MIN_INSYNC_REPLICAS": "1"}.get(key) for key in wanted} != wanted


def test_no_literal_secrets(compose):
    """Passwords and tokens come from the operator's env file (${VAR:?...}, no default), keys from file secrets."""
    secretish = re.compile(r"TOKEN|PASSWORD|SECRET|DATABASE_URL")
    for name, spec in compose["services"].items():
        for key, value in (spec.get("environment") or {}).items():
            if secretish.search(key):
                assert re.search(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), f"{name}: {key} holds a literal"
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")
    ignore = (DEPLOY / "secrets" / ".gitignore").read_text().split()
    assert "*" in ignore


def test_key_files_are_mounted_where_the_settings_point(compose):
    for name, spec in compose["services"].items():
        mounted = {f"/run/secrets/{s}" for s in spec.get("secrets", [])}
        for key, value in (spec.get("environment") or {}).items():
            if key.endswith("_KEY_PATH"):
                assert value in mounted, f"{name}: {key}={value} is not a mounted secret"
    core = compose["services"]["core"]
    # the core writes the anchor's public half beside the private key when it is missing: a read-only mount
    assert "trust-anchor.pub.pem" in core["secrets"]


def test_environment_names_are_settings(compose):
    known = settings_env_names()
    for service in SERVICES:
        assert set(compose["services"][dns_name(service)]["environment"]) <= known, service


def test_one_image_built_from_the_dockerfile_runtime_stage(compose):
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (DEPLOY / "Dockerfile").read_text(), re.M)
    ours = [compose["services"][dns_name(s)] for s in SERVICES] + [compose["services"]["topics"]]
    assert {s["image"] for s in ours} == {"ata-carnets:${ATA_VERSION:-dev}"}
    for spec in ours:
        assert spec["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile", "target": stages[-1]}
    assert stages == ["wallet", "build", "runtime"]  # the wallet's HPKE bundle is built by npm in its own stage


def test_prometheus_and_grafana_mount_the_checked_in_configuration(compose):
    mounts = compose["services"]["prometheus"]["volumes"] + compose["services"]["grafana"]["volumes"]
    for source in (
        "./prometheus/prometheus.yml",
        "./prometheus/rules",
        "./grafana/provisioning/datasources",
        "./grafana/provisioning/dashboards",
        "./grafana/dashboards",
    ):
        assert any(m.startswith(source + ":") for m in mounts), source
        assert (DEPLOY / source).exists()
    dashboards = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/ata.yaml").read_text())
    path = dashboards["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{path}:ro" in mounts
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
