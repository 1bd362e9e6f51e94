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
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.middlewares import AckPolicy
from faststream.security import BaseSecurity
from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)

TOPIC_ALREADY_EXISTS = 36

#: Consumer options for every subscriber (ARCHITECTURE.md, "Measured facts").
CONSUMER_OPTIONS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 6000,
    "heartbeat_interval_ms": 1000,
    # Offsets are committed after the handler's transaction; a failure rewinds (nack).
    "ack_policy": AckPolicy.NACK_ON_ERROR,
}


#: Largest batch of records per partition in one produce request (aiokafka's default is 16 KiB).
PRODUCER_BATCH_BYTES = 512 * 1024


def build_broker(bootstrap_servers: str, client_id: str, registry: CollectorRegistry | None = None,
                 security: BaseSecurity | None = None, *, idempotent: bool = False) -> KafkaBroker:
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
        max_batch_size=PRODUCER_BATCH_BYTES,
        allow_auto_create_topics=False,
        security=security,
        middlewares=middlewares,
        logger=logging.getLogger(f"{client_id}.broker"),
        log_level=logging.DEBUG,
    )


async def ensure_topics(bootstrap_servers: str, topics: Mapping[str, int], *, replication_factor: int = 1,
                        configs: Callable[[str], Mapping[str, str]] | None = None, **client: Any) -> list[str]:
    """Create the topics with their partition counts; "already exists" counts as success.

    `configs`: a topic's configs by its name (runtime.broker_kind), none by default.
    `client`: TLS/SASL options (runtime.kafka_security.client_options)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), client_id="ata-topics", **client)
    await admin.start()
    created: list[str] = []
    try:
        new = [NewTopic(name, partitions, replication_factor, topic_configs=dict(configs(name) if configs else {}))
               for name, partitions in topics.items()]
        try:
            response = await admin.create_topics(new)
        except TopicAlreadyExistsError:
            return created
        for name, code, message in _topic_errors(response):
            if code == 0:
                created.append(name)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: error {code} {message}")
    finally:
        await admin.close()
    if created:
        log.info("created topics %s", ", ".join(created))
    return created


def _topic_errors(response: Any) -> list[tuple[str, int, str | None]]:
    out = []
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        message = entry[2] if len(entry) > 2 else None
        out.append((name, code, message))
    return out
