"""Apache Kafka's broker settings, in one place: the tests, the local stack and the benchmark start brokers with
them (deploy/local/apache_kafka.py), and deploy/compose.yaml is checked against them (tests/deploy/test_compose.py),
so a setting that is wrong in the deployment fails a test here before it fails a cluster.

The version is the one deploy/kafka/pom.xml fetches from Maven Central and compose.yaml's image carries.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

KAFKA_VERSION = "4.1.1"

#: compose.yaml's cluster: KRaft wants 16 bytes, base64url without padding (22 characters), the same on every
#: node's `kafka-storage format`. Not a secret.
COMPOSE_CLUSTER_ID = "YXRhLWNhcm5ldHMtdGVzdA"

#: Every node of every cluster, whatever its size.
BROKER_SETTINGS: dict[str, str] = {
    "process.roles": "broker,controller",
    "controller.listener.names": "CONTROLLER",
    # Topics come from the catalogue (deploy.topics, runtime.broker.ensure_topics), never from a typo in a producer.
    "auto.create.topics.enable": "false",
    # A replica that was not in sync never becomes leader: that would drop acknowledged records.
    "unclean.leader.election.enable": "false",
    # A consumer group's first member does not wait 3 s for others: the services start one by one.
    "group.initial.rebalance.delay.ms": "0",
}

#: Three nodes or more: every acks=all write is on two brokers before it is acknowledged, one broker may be down.
REPLICATED_SETTINGS: dict[str, str] = {
    "default.replication.factor": "3",
    "min.insync.replicas": "2",
    "offsets.topic.replication.factor": "3",
    "transaction.state.log.replication.factor": "3",
    "transaction.state.log.min.isr": "2",
}

#: One node: the internal topics cannot have more replicas than there are brokers.
SINGLE_NODE_SETTINGS: dict[str, str] = {
    "default.replication.factor": "1",
    "min.insync.replicas": "1",
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
}

_CLUSTER_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def replication(nodes: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) the topics get on a cluster of `nodes` brokers."""
    settings = REPLICATED_SETTINGS if nodes >= 3 else SINGLE_NODE_SETTINGS
    if 1 < nodes < 3:
        raise ValueError("a cluster of 2 nodes has no majority to lose a node from: run 1 or 3")
    return int(settings["default.replication.factor"]), int(settings["min.insync.replicas"])


def cluster_id_is_valid(value: str) -> bool:
    """What `kafka-storage format -t` accepts: a UUID's 16 bytes, base64url, no padding."""
    if not _CLUSTER_ID.fullmatch(value):
        return False
    try:
        return len(base64.urlsafe_b64decode(value + "==")) == 16
    except (binascii.Error, ValueError):
        return False


def new_cluster_id() -> str:
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@dataclass(frozen=True)
class NodeAddress:
    node_id: int
    host: str
    port: int  # clients and the other brokers
    controller_port: int  # the KRaft quorum


def node_properties(
    node: NodeAddress, cluster: Sequence[NodeAddress], log_dir: str, listener: Mapping[str, str] | None = None
) -> dict[str, str]:
    """server.properties of one combined broker+controller node.

    `listener`: overrides for a secured client listener (SASL, the authorizer), deploy/local/apache_kafka.py."""
    voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}" for n in cluster)
    props = {
        **BROKER_SETTINGS,
        **(REPLICATED_SETTINGS if len(cluster) >= 3 else SINGLE_NODE_SETTINGS),
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{node.host}:{node.port},CONTROLLER://{node.host}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{node.host}:{node.port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": log_dir,
    }
    props.update(listener or {})
    return props


def render(props: Mapping[str, str]) -> str:
    for key, value in props.items():
        if "\n" in key + value:
            raise ValueError(f"a property cannot span lines: {key}")
    return "".join(f"{key}={value}\n" for key, value in sorted(props.items()))


def compose_environment(nodes: int = 3) -> dict[str, str]:
    """The settings every compose node shares, as the apache/kafka image reads them (KAFKA_ + upper snake case)."""
    shared = {**BROKER_SETTINGS, **(REPLICATED_SETTINGS if nodes >= 3 else SINGLE_NODE_SETTINGS)}
    return {env_name(key): value for key, value in shared.items()}


def env_name(key: str) -> str:
    return "KAFKA_" + key.upper().replace(".", "_")


def scram_listener(admin_password: str, controller_password: str) -> dict[str, str]:
    """Overrides of node_properties for clients over SASL/SCRAM-SHA-512 and the standard authorizer: only
    `admin` (the brokers among themselves, the operator) is a super user; everyone else needs an ACL
    (deploy/kafka_acls.py). The controllers authenticate each other with PLAIN (SCRAM credentials live in the
    metadata log the controllers serve, so they cannot log the controllers in). `{host}`, `{port}` and
    `{controller_port}` are each node's. Loopback tests only: SASL_SSL in production."""
    for secret in (admin_password, controller_password):
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", secret):
            raise ValueError("passwords here: 16-128 characters of A-Z a-z 0-9 _ -")
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    return {
        "listeners": "SASL_PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": "SASL_PLAINTEXT://{host}:{port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": f'{scram} required username="admin" password="{admin_password}";',
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": f'{plain} required username="controller" password="{controller_password}" '
        f'user_controller="{controller_password}";',
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": "User:admin;User:controller",
        "allow.everyone.if.no.acl.found": "false",
    }
