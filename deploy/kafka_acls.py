"""The deployed ACLs in the form Kafka's CreateAcls request takes, so a test applies exactly what is deployed.

deploy/kafka_users.py is the one source of who may do what (the Strimzi KafkaUsers under deploy/k8s and the
`kafka-acls.sh` commands in docs/operations.md): an NGA writes only its own request topic and reads only its own
response topic and consumer groups; a service reads what it consumes in its own group, writes their dead-letter
topics and what it produces, and creates nothing (the operator creates the topics; runtime.broker.ensure_topics
takes "not authorized to create" as that). This module only translates those rules into one entry per
(principal, resource, name, operation) with Kafka's wire codes; tests/integration/test_kafka_acls.py starts Apache
Kafka with SASL/SCRAM and the standard authorizer, applies them and tries every side of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from deploy import kafka_users

# Kafka's wire codes (org.apache.kafka.common.acl, org.apache.kafka.common.resource).
RESOURCE = {"TOPIC": 2, "GROUP": 3, "CLUSTER": 4}
PATTERN = {"LITERAL": 3, "PREFIXED": 4}
OPERATION = {"READ": 3, "WRITE": 4, "CREATE": 5, "DESCRIBE": 8}
ALLOW = 3


@dataclass(frozen=True)
class Acl:
    principal: str
    resource: str  # TOPIC, GROUP
    name: str
    operation: str  # READ, WRITE, DESCRIBE
    pattern: str = "LITERAL"


def plan(ngas: Iterable[str]) -> list[Acl]:
    """Every deployed rule of every service and of each of `ngas`, one entry per operation."""
    return [
        Acl(
            f"User:{user}",
            rule.resource.upper(),
            rule.name,
            operation.upper(),
            "LITERAL" if rule.pattern == "literal" else "PREFIXED",
        )
        for user, rules in kafka_users.users(ngas).items()
        for rule in rules
        for operation in rule.operations
    ]
