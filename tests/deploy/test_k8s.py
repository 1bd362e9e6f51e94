"""deploy/k8s: the example overlay rendered (tests/deploy/kustomize.py) and every object validated against the
Kubernetes OpenAPI schemas shipped in kubernetes-validate (offline, strict: an unknown field fails), then checked
against the code: every service, replicas within the partitions it consumes, probes, Secrets by reference,
setting names, the image (issue 8 item 5)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from contracts.topics import TOPICS
from deploy.kafka_settings import replication
from runtime.settings import DEFAULT_PORTS, Settings
from tests.deploy.kustomize import KustomizeError, containers, render

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "example"
KUBERNETES_VERSION = "1.30.0"  # the oldest release the manifests promise to run on (autoscaling/v2, policy/v1)
SERVICES = tuple(DEFAULT_PORTS)
#: Single-partition topics, ordered by design (one key list, one policy version at a time) and low volume: one
#: member of the group reads them, the others read the rest. Any other consumed topic bounds the replicas.
SINGLE_PARTITION_BY_DESIGN = {"ata.trust.keys.v1", "ata.admin.country-policy.v1"}


def dns_name(service: str) -> str:
    return service.replace("_", "-")


@pytest.fixture(scope="module")
def objects() -> list[dict[str, Any]]:
    return render(OVERLAY)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def settings_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names |= set(alias.choices) if alias is not None else set()
        names.add(Settings.model_config["env_prefix"] + name.upper())
    return names


def test_every_rendered_object_is_valid_kubernetes(objects):
    assert {o["kind"] for o in objects} == {"ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                                            "HorizontalPodAutoscaler"}
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_wrong_field_offline(objects):
    """The schema check above can fail: a misspelt field is refused from the bundled schemas."""
    deployment = dict(of_kind(objects, "Deployment")["core"])
    deployment["spec"] = {**deployment["spec"], "replica": 3}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_renderer_refuses_what_it_cannot_render(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nconfigMapGenerator: []\n")
    with pytest.raises(KustomizeError):
        render(tmp_path)


def test_each_service_has_a_deployment_service_pdb_and_autoscaler(objects):
    wanted = {dns_name(s) for s in SERVICES}
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert set(of_kind(objects, kind)) == wanted, kind
    deployments = of_kind(objects, "Deployment")
    for service in SERVICES:
        d = deployments[dns_name(service)]
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == [service]  # python -m <service>
        assert d["spec"]["template"]["metadata"]["labels"]["ata-carnets/service"] == service
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == "http")
        assert port == DEFAULT_PORTS[service]
        svc = of_kind(objects, "Service")[dns_name(service)]
        assert svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
        pdb = of_kind(objects, "PodDisruptionBudget")[dns_name(service)]
        assert pdb["spec"]["selector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
        assert pdb["spec"]["maxUnavailable"] == 1 and d["spec"]["replicas"] >= 2  # a drain never empties it


def test_no_consumer_group_gets_more_members_than_partitions(objects):
    """A member beyond the partition count gets no partition: the HPA stops at the consumed topics' partitions."""
    for service in SERVICES:
        consumed = [t for t in TOPICS if service in t.consumers]
        assert consumed, f"{service} consumes nothing: why an autoscaler per consumer?"
        hpa = of_kind(objects, "HorizontalPodAutoscaler")[dns_name(service)]
        spec = hpa["spec"]
        assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": dns_name(service)}
        bounding = [t for t in consumed if t.name not in SINGLE_PARTITION_BY_DESIGN]
        assert spec["maxReplicas"] <= min(t.partitions for t in bounding), service
        assert spec["minReplicas"] <= of_kind(objects, "Deployment")[dns_name(service)]["spec"]["replicas"] <= spec["maxReplicas"]
    assert {t.partitions for t in TOPICS if t.name in SINGLE_PARTITION_BY_DESIGN} == {1}


def test_probes_readiness_on_health_liveness_on_health_live(objects):
    for d in of_kind(objects, "Deployment").values():
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        # Migrations and topic checks run before the server answers: the startup probe waits for them.
        startup = container["startupProbe"]
        assert startup["httpGet"]["path"] == "/health/live"
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 120


def test_pods_run_as_the_image_user_read_only(objects):
    for d in of_kind(objects, "Deployment").values():
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
        for c in pod["containers"] + pod["initContainers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_services_know_they_talk_to_a_replicated_apache_kafka():
    config = yaml.safe_load((ROOT / "deploy/k8s/base/config.yaml").read_text())
    assert config["data"]["ATA_BROKER"] == "kafka-cluster"


def test_every_pod_creates_the_topics_replicated_first(objects):
    """With the replication the tests' three-node Apache Kafka runs (deploy/kafka_settings.py)."""
    factor, min_insync = replication(3)
    for d in of_kind(objects, "Deployment").values():
        init = d["spec"]["template"]["spec"]["initContainers"]
        assert [c["args"][:5] for c in init] == [["deploy.topics", "--replication-factor", str(factor),
                                                  "--min-insync-replicas", str(min_insync)]]


def test_secrets_only_by_reference(objects):
    """No Secret object and no literal secret value: DATABASE_URL and the tokens come by secretKeyRef, keys as
    mounted Secret volumes the operator creates."""
    assert of_kind(objects, "Secret") == {}
    secretish = re.compile(r"TOKEN|PASSWORD|SECRET|DATABASE_URL")
    for c in containers(objects):
        for env in c.get("env", []):
            if secretish.search(env["name"]):
                assert "value" not in env and "secretKeyRef" in env["valueFrom"], env
    for name, value in of_kind(objects, "ConfigMap")["ata-config"]["data"].items():
        assert not secretish.search(name) and "@" not in value, name
    mounted = {v["secret"]["secretName"] for d in of_kind(objects, "Deployment").values()
               for v in d["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert mounted == {"ata-core-keys", "ata-wallet-issuer", "ata-trust-anchor", "ata-notifier-keys"}


def test_key_paths_point_into_mounted_volumes(objects):
    for d in of_kind(objects, "Deployment").values():
        pod = d["spec"]["template"]["spec"]
        container = pod["containers"][0]
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        for env in container["env"]:
            if env["name"].endswith("_PATH"):
                assert any(env["value"].startswith(m + "/") for m in mounts), env


def test_environment_names_are_settings(objects):
    known = settings_env_names()
    config = of_kind(objects, "ConfigMap")["ata-config"]["data"]
    assert set(config) <= known
    for c in containers(objects):
        assert {e["name"] for e in c.get("env", [])} <= known, c["name"]
    # the core, the gateway and the notifier refuse to start without these: each has them
    env = {d["metadata"]["name"]: {e["name"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
           for d in of_kind(objects, "Deployment").values()}
    assert {"ATA_WALLET_ISSUER_PUBLIC_KEY_PATH", "ATA_SIGNING_KEY_PATH", "ATA_TRUST_ANCHOR_KEY_PATH"} <= env["core"]
    assert "ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH" in env["customs-gateway"]
    assert "ATA_WALLET_ISSUER_PUBLIC_KEY_PATH" in env["notifier"]


def test_one_image_for_every_container(objects):
    images = {c["image"] for c in containers(objects)}
    assert images == {"registry.example.org/ata/ata-carnets:0.1.0"}
    base = {c["image"] for c in containers(render(K8S / "base"))}
    assert base == {"ata-carnets"}  # the compose image name, without its tag (tests/deploy/test_compose.py)
