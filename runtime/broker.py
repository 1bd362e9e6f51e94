"""Kafka broker factory and topic creation, with the client settings the embedded broker needs.

tansu (the embedded broker) refuses InitProducerId, so producers are idempotent only on Apache Kafka
(`idempotent`, from runtime.broker_kind); produces to a missing topic are silently dropped, so every
topic is created explicitly before anything is produced, with the replication and per-topic configs
the broker kind gives (none on tansu, which ignores them).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    TopicAlreadyExistsError,
    UnsupportedForMessageFormatError,
)
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity
from prometheus_client import CollectorRegistry

from runtime.settings import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36
#: The principal may not create the topic (Kafka ACLs: deploy/k8s/base/kafka-users.yaml grants services no Create).
TOPIC_AUTHORIZATION_FAILED = 29

#: aiokafka consumer options for every consumer (ARCHITECTURE.md, "Measured facts").
GROUP_OPTIONS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
}
#: The same for a FastStream subscriber (the test broker's path): offsets committed after the handler's
#: transaction, a failure rewinds (nack). Started services consume through runtime/consume_loop.py instead.
CONSUMER_OPTIONS: dict[str, Any] = {**GROUP_OPTIONS, "ack_policy": AckPolicy.NACK_ON_ERROR}


#: Kafka refuses this record (the producer itself, for its size) and will refuse it however often it is
#: sent: a dead letter goes as a reference instead (runtime.dead_letters), an outbox row is parked
#: (runtime.outbox). Everything else (broker away, leader moving, timeouts, authorization) is retried.
REFUSED_RECORD: tuple[type[Exception], ...] = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
    CorruptRecordException,
    InvalidTimestampError,
    UnsupportedForMessageFormatError,
)

#: Largest batch of records per partition in one produce request (aiokafka's default is 16 KiB).
PRODUCER_BATCH_BYTES = 512 * 1024
#: Most bytes one fetch brings back over all partitions (aiokafka's default, 50 MiB).
FETCH_MAX_BYTES = 50 * 1024 * 1024


def fetch_options(max_message_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, int]:
    """A consumer's fetch sizes for records of up to `max_message_bytes` (ATA_KAFKA_MAX_MESSAGE_BYTES).

    A partition's fetch must hold the largest record batch the topics accept (max.message.bytes), or
    aiokafka skips it with RecordTooLargeError and the record is lost without a dead letter."""
    return {"max_partition_fetch_bytes": max_message_bytes, "fetch_max_bytes": max(FETCH_MAX_BYTES, max_message_bytes)}


def build_broker(
    bootstrap_servers: str,
    client_id: str,
    registry: CollectorRegistry | None = None,
    security: BaseSecurity | None = None,
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    idempotent: bool = False,
) -> KafkaBroker:
    """`max_message_bytes` (ATA_KAFKA_MAX_MESSAGE_BYTES): the producer refuses a larger record itself
    (MessageSizeTooLargeError) instead of sending what the topics' max.message.bytes refuses. `idempotent`:
    Apache Kafka's idempotent producer (runtime/broker_kind.py); the embedded broker refuses InitProducerId."""
    middlewares = ()
    if registry is not None:
        middlewares = (KafkaPrometheusMiddleware(registry=registry, app_name=client_id),)
    return KafkaBroker(
        bootstrap_servers.split(","),
        client_id=client_id,
        enable_idempotence=idempotent,
        acks="all",
        # Records that pile up while a produce request is in flight go out together in the next one:
        # aiokafka drains one batch per partition per request, so 16 KiB batches (the default, ~6
        # issued carnets) split a relay batch of 500 rows into many requests, each of which the
        # broker handles whole (bench/README.md, round 3). Lingers nothing: no latency is added.
        max_batch_size=min(PRODUCER_BATCH_BYTES, max_message_bytes),
        max_request_size=max_message_bytes,
        allow_auto_create_topics=False,
        security=security,
        middlewares=middlewares,
        logger=logging.getLogger(f"{client_id}.broker"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    bootstrap_servers: str,
    topics: Mapping[str, int],
    *,
    replication_factor: int = 1,
    configs: Callable[[str], Mapping[str, str]] | None = None,
    **client: Any,
) -> list[str]:
    """Create the topics with their partition counts; "already exists" counts as success, and so does "not
    authorized to create": on a cluster with ACLs the operator creates the topics (Strimzi KafkaTopic,
    `python -m deploy.topics`) and a service's principal has no Create right; a topic that is really missing
    then shows as a produce or fetch error of that topic.

    `configs`: a topic's configs by its name (runtime.broker_kind), none by default.
    `client`: TLS/SASL options (runtime.kafka_security.client_options)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), client_id="ata-topics", **client)
    await admin.start()
    created: list[str] = []
    not_ours: list[str] = []
    try:
        new = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(configs(name) if configs else {}))
            for name, partitions in topics.items()
        ]
        try:
            response = await admin.create_topics(new)
        except TopicAlreadyExistsError:
            return created
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code == TOPIC_AUTHORIZATION_FAILED:
                not_ours.append(name)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: error {code} {message}")
    finally:
        await admin.close()
    if created:
        log.info("created topics %s", ", ".join(created))
    if not_ours:
        log.warning(
            "not authorized to create %d topics (%s ...): left to the operator, as with Kafka ACLs",
            len(not_ours),
            ", ".join(sorted(not_ours)[:3]),
        )
    return created


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    out = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((name, code, message))
    return out
