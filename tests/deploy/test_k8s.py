"""deploy/k8s: both overlays rendered (tests/deploy/kustomize.py): `example` (Strimzi: topics as KafkaTopic resources)
and `plain-kafka` (topics by an init container). Every object is validated against the Kubernetes OpenAPI schemas
shipped in kubernetes-validate (offline, strict: an unknown field fails), a KafkaTopic against the fields of
Strimzi's CRD (KAFKA_TOPIC below), then checked against the code: every service, replicas within the partitions it
consumes, probes, Secrets by reference, setting names, the image, the topics, the Ingress, service accounts and
zone spread."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from contracts.topics import TOPICS
from deploy import strimzi
from deploy.kafka_settings import replication
from deploy.topics import plan
from runtime.settings import DEFAULT_PORTS
from tests.deploy.kustomize import KustomizeError, containers, render
from tests.support.deploy import dns_name, settings_env_names

ROOT = Path(__file__).parents[2]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("example", "plain-kafka")
KUBERNETES_VERSION = "1.30.0"  # the oldest release the manifests promise to run on (autoscaling/v2, policy/v1)
SERVICES = tuple(DEFAULT_PORTS)
#: Single-partition topics, ordered by design (one key list, one policy version at a time) or only a few records
#: a day (the ledger events a gateway acts on: replacements, cancellation outcomes), low volume: one member of the
#: group reads them, the others read the rest. Any other consumed topic bounds the replicas.
SINGLE_PARTITION_BY_DESIGN = {"ata.trust.keys.v1", "ata.admin.country-policy.v1", "ata.customs.ledger.v1"}
#: The fields of Strimzi's KafkaTopic CRD (kafka.strimzi.io/v1) the manifests use, with the CRD's bounds; stricter
#: than the CRD on unknown fields (which the API server would silently prune) and on the object's name.
KAFKA_TOPIC = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1"},
        "kind": {"const": "KafkaTopic"},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                "name": {
                    "type": "string",
                    "maxLength": 253,
                    "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                },
                "namespace": {"type": "string"},
                "labels": {
                    "type": "object",
                    "required": ["strimzi.io/cluster"],
                    "additionalProperties": {"type": "string"},
                },
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "topicName": {"type": "string", "maxLength": 249},
                "partitions": {"type": "integer", "minimum": 1},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
                "config": {"type": "object"},
            },
        },
    },
}


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(K8S / "overlays" / request.param)


def of_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


#: Custom resources (Strimzi): not in the Kubernetes schemas, validated by their own tests (test_kafka_users.py).
CUSTOM_KINDS = {"KafkaUser"}


def test_every_rendered_object_is_valid_kubernetes(objects):
    kinds = {
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "ServiceAccount",
        "Ingress",
        "NetworkPolicy",
    }
    assert {o["kind"] for o in objects} - {"KafkaTopic"} == kinds | CUSTOM_KINDS
    for obj in objects:
        if obj["kind"] == "KafkaTopic":
            jsonschema.validate(obj, KAFKA_TOPIC)
        elif obj["kind"] not in CUSTOM_KINDS:
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
        assert (
            spec["minReplicas"]
            <= of_kind(objects, "Deployment")[dns_name(service)]["spec"]["replicas"]
            <= spec["maxReplicas"]
        )
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
        for c in pod["containers"] + pod.get("initContainers", []):
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_topics_are_kafka_topic_resources_or_an_init_container_never_both(objects):
    """Strimzi: the Topic Operator creates every topic and no pod creates any (no admin rights needed).
    A plain cluster: every pod first creates them replicated, the issuer's with the NGAs' response topics."""
    topics = of_kind(objects, "KafkaTopic")
    creates = of_kind(objects, "ConfigMap")["ata-config"]["data"].get("ATA_KAFKA_CREATE_TOPICS", "true")
    deployments = of_kind(objects, "Deployment")
    if topics:
        assert creates == "false"
        assert all("initContainers" not in d["spec"]["template"]["spec"] for d in deployments.values())
        wanted = {s.name: s for s in plan(3, 2, strimzi.default_ngas())}
        assert {t["spec"]["topicName"] for t in topics.values()} == set(wanted)
        for t in topics.values():
            spec = wanted[t["spec"]["topicName"]]
            assert (t["spec"]["partitions"], t["spec"]["replicas"]) == (spec.partitions, 3)
            assert t["spec"]["config"]["min.insync.replicas"] == 2
            assert t["metadata"]["labels"]["strimzi.io/cluster"] == strimzi.CLUSTER
        return
    assert creates == "true"
    for name, d in deployments.items():
        [init] = d["spec"]["template"]["spec"]["initContainers"]
        assert init["args"][:3] == ["deploy.topics", "--replication-factor", "3"]
        assert ("--without-nga-responses" in init["args"]) == (name != "issuer"), name
        mounts = {m["name"] for m in init["volumeMounts"]}
        assert mounts <= {v["name"] for v in d["spec"]["template"]["spec"]["volumes"]}, name


def test_the_committed_kafka_topics_are_what_the_catalogue_generates():
    committed = (K8S / "overlays" / "example" / "kafka-topics.yaml").read_text()
    assert committed == strimzi.rendered(), "run `python -m deploy.strimzi --write` and commit the result"


def test_the_kafka_topic_schema_refuses_what_strimzi_refuses():
    good = strimzi.resources(["FR"])[0]
    jsonschema.validate(good, KAFKA_TOPIC)
    for bad in ({"partitions": 0}, {"replicas": 40000}, {"partition": 6}, {"topicName": 7}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**good, "spec": {**good["spec"], **bad}}, KAFKA_TOPIC)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(
            {**good, "metadata": {"name": "Ata_Topic", "labels": good["metadata"]["labels"]}}, KAFKA_TOPIC
        )


def test_each_service_runs_as_its_own_service_account_without_a_token(objects):
    accounts = of_kind(objects, "ServiceAccount")
    assert set(accounts) == {dns_name(s) for s in SERVICES}
    assert all(a["automountServiceAccountToken"] is False for a in accounts.values())
    for name, d in of_kind(objects, "Deployment").items():
        pod = d["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == name and pod["automountServiceAccountToken"] is False


def test_replicas_spread_across_zones_then_nodes(objects):
    for name, d in of_kind(objects, "Deployment").items():
        spread = {c["topologyKey"]: c for c in d["spec"]["template"]["spec"]["topologySpreadConstraints"]}
        zone = spread["topology.kubernetes.io/zone"]
        assert zone["maxSkew"] == 1 and zone["whenUnsatisfiable"] == "DoNotSchedule"
        assert zone["labelSelector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"]
        assert "kubernetes.io/hostname" in spread, name


def test_the_ingress_serves_the_three_public_surfaces_over_tls_and_nothing_internal(objects):
    [ingress] = of_kind(objects, "Ingress").values()
    services = of_kind(objects, "Service")
    rules = {r["host"]: r["http"]["paths"] for r in ingress["spec"]["rules"]}
    assert {h for t in ingress["spec"]["tls"] for h in t["hosts"]} == set(rules)
    backends = {}
    for host, paths in rules.items():
        for path in paths:
            service = path["backend"]["service"]
            assert service["port"]["name"] in {p["name"] for p in services[service["name"]]["spec"]["ports"]}
            assert not re.match(r"/(metrics|health|docs|openapi|v1/admin)", path["path"]), (host, path["path"])
            backends.setdefault(service["name"], set()).add(path["path"])
    assert "/officer" in backends["customs-gateway"] and "/v1/commits" in backends["customs-gateway"]
    assert "/v1/carnets" in backends["core"] and "/v1/issuance-requests" in backends["issuer"]


def test_the_services_know_they_talk_to_a_replicated_apache_kafka():
    config = yaml.safe_load((ROOT / "deploy/k8s/base/config.yaml").read_text())
    assert config["data"]["ATA_BROKER"] == "kafka-cluster"


def test_every_pod_creates_the_topics_replicated_first(objects):
    """With the replication the tests' three-node Apache Kafka runs (deploy/kafka_settings.py)."""
    factor, min_insync = replication(3)
    if of_kind(objects, "KafkaTopic"):  # Strimzi's Topic Operator creates them (the test above)
        return
    for d in of_kind(objects, "Deployment").values():
        init = d["spec"]["template"]["spec"]["initContainers"]
        assert [c["args"][:5] for c in init] == [
            ["deploy.topics", "--replication-factor", str(factor), "--min-insync-replicas", str(min_insync)]
        ]


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
    mounted = {
        v["secret"]["secretName"]
        for d in of_kind(objects, "Deployment").values()
        for v in d["spec"]["template"]["spec"]["volumes"]
        if "secret" in v
    }
    assert mounted == {"ata-core-keys", "ata-wallet-issuer", "ata-trust-anchor", "ata-notifier-keys"}


def test_key_paths_point_into_mounted_volumes(objects):
    for d in of_kind(objects, "Deployment").values():
        pod = d["spec"]["template"]["spec"]
        container = pod["containers"][0]
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        for env in container["env"]:
            if env["name"].endswith("_PATH"):
                assert any(env["value"].startswith(m + "/") for m in mounts), env


#: Variables a library reads itself: uvicorn's trusted proxy addresses (the gateway's login throttle needs them).
LIBRARY_ENV = {"FORWARDED_ALLOW_IPS"}


def test_environment_names_are_settings(objects):
    known = settings_env_names() | LIBRARY_ENV
    config = of_kind(objects, "ConfigMap")["ata-config"]["data"]
    assert set(config) <= known
    for c in containers(objects):
        assert {e["name"] for e in c.get("env", [])} <= known, c["name"]
    # the core, the gateway and the notifier refuse to start without these: each has them
    env = {
        d["metadata"]["name"]: {e["name"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"]}
        for d in of_kind(objects, "Deployment").values()
    }
    assert {"ATA_WALLET_ISSUER_PUBLIC_KEY_PATH", "ATA_SIGNING_KEY_PATH", "ATA_TRUST_ANCHOR_KEY_PATH"} <= env["core"]
    assert "ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH" in env["customs-gateway"]
    assert "ATA_WALLET_ISSUER_PUBLIC_KEY_PATH" in env["notifier"]


def test_one_image_for_every_container(objects):
    images = {c["image"] for c in containers(objects)}
    assert images == {"registry.example.org/ata/ata-carnets:0.1.0"}
    base = {c["image"] for c in containers(render(K8S / "base"))}
    assert base == {"ata-carnets"}  # the compose image name, without its tag (tests/deploy/test_compose.py)


def test_the_notifier_may_reach_only_dns_kafka_postgresql_and_public_https(objects):
    """Webhook and push URLs are the recipients' choice: besides the notifier's own check (notifier/egress.py),
    its pods can open nothing but DNS, the cluster's Kafka and PostgreSQL, and 443 to public addresses."""
    spec = of_kind(objects, "NetworkPolicy")["notifier-egress"]["spec"]
    labels = of_kind(objects, "Deployment")["notifier"]["spec"]["template"]["metadata"]["labels"]
    assert spec["policyTypes"] == ["Egress"]
    assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    rules = spec["egress"]
    assert all(r.get("ports") and r.get("to") for r in rules)  # no rule opens every port or every destination
    ports = {(p["protocol"], p["port"]) for r in rules for p in r["ports"]}
    bootstrap = of_kind(objects, "ConfigMap")["ata-config"]["data"]["KAFKA_BOOTSTRAP_SERVERS"]
    kafka = {("TCP", int(server.rsplit(":", 1)[1])) for server in bootstrap.split(",")}
    assert {("UDP", 53), ("TCP", 53), ("TCP", 5432)} | kafka <= ports
    outside = [r for r in rules if any(b.get("ipBlock", {}).get("cidr") in ("0.0.0.0/0", "::/0") for b in r["to"])]
    assert len(outside) == 1 and outside[0]["ports"] == [{"protocol": "TCP", "port": 443}]
    excluded = [ipaddress.ip_network(c) for b in outside[0]["to"] for c in b["ipBlock"]["except"]]
    for address in (
        "10.1.2.3",
        "172.20.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "127.0.0.1",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "fd00::1",
        "fe80::1",
        "::1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
    ):
        assert any(ipaddress.ip_address(address) in n for n in excluded), address
    for rule in rules:
        if rule not in outside:  # the rest stays inside: private ranges or the cluster's DNS pods
            for peer in rule["to"]:
                assert "podSelector" in peer or ipaddress.ip_network(peer["ipBlock"]["cidr"]).is_private, peer


def test_the_notifiers_development_setting_is_never_on_in_the_manifests(objects):
    config = of_kind(objects, "ConfigMap")["ata-config"]["data"]
    assert "ATA_NOTIFIER_ALLOW_LOOPBACK_HTTP" not in config
    assert all(e["name"] != "ATA_NOTIFIER_ALLOW_LOOPBACK_HTTP" for c in containers(objects) for e in c.get("env", []))


def test_the_gateway_trusts_forwarded_addresses_only_from_peers_its_ingress_policy_admits(objects):
    """Officer logins are throttled per client address: behind the ingress the gateway must read the officer's
    address from X-Forwarded-For (else every login shares the controller's), and only from peers that cannot lie
    about it: private addresses, of which the NetworkPolicy admits only the ingress controller and Prometheus."""
    gateway = of_kind(objects, "Deployment")["customs-gateway"]
    env = {e["name"]: e.get("value") for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]}
    trusted = [ipaddress.ip_network(n) for n in env["FORWARDED_ALLOW_IPS"].split(",")]
    assert trusted and all(n.is_private for n in trusted)
    for public in ("8.8.8.8", "2001:4860:4860::8888"):
        assert not any(ipaddress.ip_address(public) in n for n in trusted)
    spec = of_kind(objects, "NetworkPolicy")["customs-gateway-ingress"]["spec"]
    assert spec["policyTypes"] == ["Ingress"]
    assert spec["podSelector"]["matchLabels"].items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    peers = [p for rule in spec["ingress"] for p in rule["from"]]
    assert peers and all(set(p) == {"namespaceSelector"} for p in peers)  # namespaces only: no ipBlock, no "all"
    namespaces = {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for p in peers}
    assert namespaces == {"ingress-nginx", "monitoring"}
    assert all(rule.get("ports") == [{"protocol": "TCP", "port": "http"}] for rule in spec["ingress"])
