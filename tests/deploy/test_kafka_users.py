"""deploy/k8s/base/kafka-users.yaml: the Strimzi KafkaUser of each NGA and each service, generated from the topic
catalogue and the NGA registry (deploy/kafka_users.py). A sender cannot speak for another NGA: each NGA's principal
writes only its own request topic and reads only its own response topic; each service's principal has exactly the
topics contracts/topics.py gives it. The committed manifests must be what the generator writes today."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from contracts.topics import TOPICS, issuance_requests, issuance_responses
from deploy import kafka_users as ku
from tests.deploy.kustomize import render

#: The overlay whose rendered KafkaUsers are checked (the base holds them; every overlay renders the same).
OVERLAY = Path(__file__).parents[2] / "deploy" / "k8s" / "overlays" / "example"
NGAS = ku.registry_ngas()

#: The KafkaUser fields this project uses, as Strimzi's v1beta2 CRD defines them (AclRule: type, resource, host,
#: operations; resource: type, name, patternType). Closed: a misspelt field fails here as `kubectl apply` would.
_RESOURCE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "name", "patternType"],
    "properties": {
        "type": {"enum": ["topic", "group"]},
        "name": {"type": "string", "minLength": 1, "maxLength": 249},
        "patternType": {"enum": ["literal", "prefix"]},
    },
}
_OPERATIONS = [
    "Read",
    "Write",
    "Create",
    "Delete",
    "Alter",
    "Describe",
    "ClusterAction",
    "AlterConfigs",
    "DescribeConfigs",
    "IdempotentWrite",
    "All",
]
KAFKA_USER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "kafka.strimzi.io/v1beta2"},
        "kind": {"const": "KafkaUser"},
        "metadata": {
            "type": "object",
            "required": ["name", "labels"],
            "properties": {
                "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"},
                "labels": {"type": "object", "required": ["strimzi.io/cluster"]},
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["authentication", "authorization"],
            "properties": {
                "authentication": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type"],
                    "properties": {"type": {"enum": ["tls", "tls-external", "scram-sha-512"]}},
                },
                "authorization": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type", "acls"],
                    "properties": {
                        "type": {"const": "simple"},
                        "acls": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["resource", "operations"],
                                "properties": {
                                    "type": {"enum": ["allow", "deny"]},
                                    "resource": _RESOURCE,
                                    "host": {"type": "string"},
                                    "operations": {
                                        "type": "array",
                                        "minItems": 1,
                                        "uniqueItems": True,
                                        "items": {"enum": _OPERATIONS},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def rendered_users() -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(OVERLAY) if o["kind"] == "KafkaUser"}


def grants(user: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    return {
        (a["resource"]["type"], a["resource"]["name"], a["resource"]["patternType"]): set(a["operations"])
        for a in user["spec"]["authorization"]["acls"]
    }


def topics_with(user: dict[str, Any], operation: str) -> set[str]:
    return {name for (kind, name, _), ops in grants(user).items() if kind == "topic" and operation in ops}


def test_the_committed_manifests_are_what_the_generator_writes():
    assert ku.OUTPUT.read_text(encoding="utf-8") == ku.render(NGAS), "run: python -m deploy.kafka_users --write"


def test_every_kafka_user_has_strimzis_structure(rendered_users):
    assert set(rendered_users) == {ku.nga_user(n) for n in NGAS} | {ku.service_user(s) for s in ku.SERVICES}
    for user in rendered_users.values():
        jsonschema.validate(user, KAFKA_USER)
        assert user["metadata"]["namespace"] == "ata-carnets"  # the overlay's namespace: the User Operator watches it


def test_the_structure_check_can_fail(rendered_users):
    user = yaml.safe_load(yaml.safe_dump(rendered_users["nga-fr"]))
    user["spec"]["authorization"]["acls"][0]["operation"] = ["Write"]  # a misspelt field
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(user, KAFKA_USER)


@pytest.mark.parametrize("nga", NGAS)
def test_an_nga_principal_writes_only_its_request_topic_and_reads_only_its_response_topic(rendered_users, nga):
    user = rendered_users[ku.nga_user(nga)]
    assert topics_with(user, "Write") == {issuance_requests(nga).name}
    assert topics_with(user, "Read") == {issuance_responses(nga).name}
    assert {name for kind, name, _ in grants(user) if kind == "topic"} == {
        issuance_requests(nga).name,
        issuance_responses(nga).name,
    }
    groups = {(name, pattern) for kind, name, pattern in grants(user) if kind == "group"}
    assert groups == {(f"nga-{nga.lower()}.", "prefix")}
    assert all(pattern == "literal" for kind, _, pattern in grants(user) if kind == "topic")
    assert all(ops <= {"Read", "Write", "Describe"} for ops in grants(user).values())


def test_no_nga_group_prefix_covers_another_ngas_groups():
    prefixes = [ku.nga_group_prefix(n) for n in NGAS]
    assert not any(a != b and b.startswith(a) for a in prefixes for b in prefixes)


@pytest.mark.parametrize("service", ku.SERVICES)
def test_a_service_principal_has_exactly_the_catalogues_topics(rendered_users, service):
    user = rendered_users[ku.service_user(service)]
    every = TOPICS + tuple(t for n in NGAS for t in (issuance_requests(n), issuance_responses(n)))
    consumed = {t.name for t in every if service in t.consumers}
    produced = {t.name for t in every if service in t.producers}
    assert topics_with(user, "Read") == consumed
    assert topics_with(user, "Write") == produced | {t.name + ".dlq" for t in every if t.name in consumed}
    assert topics_with(user, "Describe") == topics_with(user, "Read") | topics_with(user, "Write")
    assert {(name, pattern) for kind, name, pattern in grants(user) if kind == "group"} == {(service, "literal")}
    assert all(ops <= {"Read", "Write", "Describe"} for ops in grants(user).values())  # no Create, Alter, cluster


def test_the_issuer_reads_every_ngas_request_topic_and_the_deprecated_shared_one(rendered_users):
    reads = topics_with(rendered_users["ata-issuer"], "Read")
    assert {issuance_requests(n).name for n in NGAS} | {"ata.issuance.requests.v1"} <= reads
    assert {issuance_responses(n).name for n in NGAS} <= topics_with(rendered_users["ata-issuer"], "Write")


def test_the_kafka_acls_commands_say_the_same(rendered_users):
    lines = ku.acls_sh(NGAS).splitlines()
    assert len(lines) == sum(len(u["spec"]["authorization"]["acls"]) for u in rendered_users.values())
    fr_write = [line for line in lines if "User:nga-fr " in line and "--operation Write" in line]
    assert fr_write == [
        "kafka-acls.sh --bootstrap-server $BOOTSTRAP --command-config admin.properties --add "
        "--allow-principal User:nga-fr --operation Describe --operation Write "
        "--topic 'ata.issuance.requests.fr.v1' --resource-pattern-type literal"
    ]


def test_the_commands_in_operations_md_are_generated_ones():
    doc = (ku.OUTPUT.parents[3] / "docs" / "operations.md").read_text(encoding="utf-8")
    shown = [line for line in doc.splitlines() if line.startswith("kafka-acls.sh ")]
    assert len(shown) >= 4 and set(shown) <= set(ku.acls_sh(NGAS).splitlines())
