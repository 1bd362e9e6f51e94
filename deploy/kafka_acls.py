"""Who may do what on Apache Kafka: one principal per service and per NGA, the ACLs derived from the topic catalogue.

A service writes the topics it produces (contracts.topics: `producers`) and reads those it consumes (`consumers`)
in its own consumer group, writes the dead-letter topics of what it consumes, and describes what its lag probe
measures. Each service creates the catalogue's topics at start (runtime.broker.ensure_topics), so each holds
CREATE on those names; nothing else. The issuer also reads every NGA's request topic and writes every NGA's
response topic (by prefix). An NGA writes only its own request topic `ata.issuance.requests.<nga>.v1` and reads
only its own response topic `ata.issuance.responses.<nga>.v1`, without a consumer group (nga_client assigns
partitions). The catalogue's shared topics naming "nga" (the issuance events, the claims topics) are not granted
to any NGA: one NGA would read the others' records; they need per-NGA topics first.

tests/integration/test_kafka_acls.py starts Apache Kafka with SASL/SCRAM and the standard authorizer, applies
these ACLs and tries every side of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from contracts.topics import ISSUANCE_RESPONSES_PREFIX, TOPICS, all_topic_partitions, issuance_responses

#: Per-NGA request topics (one shared topic today): the name an ACL can tell apart.
ISSUANCE_REQUESTS_PREFIX = "ata.issuance.requests."

# Kafka's wire codes (org.apache.kafka.common.acl, org.apache.kafka.common.resource).
RESOURCE = {"TOPIC": 2, "GROUP": 3, "CLUSTER": 4}
PATTERN = {"LITERAL": 3, "PREFIXED": 4}
OPERATION = {"READ": 3, "WRITE": 4, "CREATE": 5, "DESCRIBE": 8}
ALLOW = 3


@dataclass(frozen=True)
class Acl:
    principal: str
    resource: str   # TOPIC, GROUP
    name: str
    operation: str  # READ, WRITE, CREATE, DESCRIBE
    pattern: str = "LITERAL"


def nga_request_topic(nga: str) -> str:
    return f"{ISSUANCE_REQUESTS_PREFIX}{nga.lower()}.v1"


def nga_user(nga: str) -> str:
    return f"nga-{nga.lower()}"


def service_user(service: str) -> str:
    return service.replace("_", "-")


def _topic(user: str, name: str, *operations: str, pattern: str = "LITERAL") -> list[Acl]:
    return [Acl(f"User:{user}", "TOPIC", name, op, pattern) for op in operations]


def service_acls(service: str) -> list[Acl]:
    user = service_user(service)
    out = [Acl(f"User:{user}", "GROUP", service, "READ")]
    out += [a for name in all_topic_partitions() for a in _topic(user, name, "CREATE")]
    for topic in TOPICS:
        if service in topic.producers:
            out += _topic(user, topic.name, "WRITE", "DESCRIBE")
        if service in topic.consumers:
            out += _topic(user, topic.name, "READ", "DESCRIBE")
            out += _topic(user, topic.dead_letter, "WRITE", "DESCRIBE")
    if service == "issuer":
        out += _topic(user, ISSUANCE_REQUESTS_PREFIX, "READ", "DESCRIBE", pattern="PREFIXED")
        out += _topic(user, ISSUANCE_RESPONSES_PREFIX, "WRITE", "DESCRIBE", "CREATE", pattern="PREFIXED")
    return out


def nga_acls(nga: str) -> list[Acl]:
    user = nga_user(nga)
    return _topic(user, nga_request_topic(nga), "WRITE", "DESCRIBE") + \
        _topic(user, issuance_responses(nga).name, "READ", "DESCRIBE")


def plan(services: Iterable[str], ngas: Iterable[str]) -> list[Acl]:
    return [a for s in services for a in service_acls(s)] + [a for n in ngas for a in nga_acls(n)]
