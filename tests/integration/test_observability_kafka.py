"""Consumer lag and dead letters measured from the broker at scrape time (issue 8), on the real broker the
tests run (the embedded tansu, or Apache Kafka when KAFKA_BOOTSTRAP_SERVERS names one)."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from contracts.topics import ISSUANCE_REQUESTS
from runtime import observability
from runtime.metrics import RuntimeMetrics
from runtime.observability import Observability

pytestmark = pytest.mark.integration
TOPIC = ISSUANCE_REQUESTS.name


async def produce(bootstrap: str, topic: str, keys: list[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for key in keys:
            await producer.send_and_wait(topic, b"{}", key=key.encode())
    finally:
        await producer.stop()


async def commit_everything(bootstrap: str, group: str) -> None:
    """The group catches up: its committed offset becomes each partition's end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(TOPIC, p) for p in range(ISSUANCE_REQUESTS.partitions)]
        consumer.assign(partitions)
        end = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in end.items() if offset > 0})
    finally:
        await consumer.stop()


async def test_lag_and_dead_letters_follow_the_broker(kafka_bootstrap, monkeypatch):
    monkeypatch.setattr(observability, "MIN_INTERVAL_S", 0.0)
    registry = CollectorRegistry()
    group = f"obs-{uuid.uuid4().hex[:8]}"
    obs = Observability(
        "issuer",
        registry,
        RuntimeMetrics(registry, "issuer"),
        bootstrap_servers=kafka_bootstrap,
        pool=lambda: None,
        topics=lambda: [TOPIC],
        group_id=group,
    )
    value = registry.get_sample_value
    await obs.start()
    try:
        await obs.refresh()
        lag0 = value("ata_consumer_lag_messages", {"group": group, "topic": TOPIC})
        dlq0 = value("ata_dead_letter_messages", {"topic": TOPIC})
        await produce(kafka_bootstrap, TOPIC, [f"req-{n}" for n in range(5)])
        await produce(kafka_bootstrap, TOPIC + ".dlq", ["bad-1", "bad-2"])
        await obs.refresh()
        lag1 = value("ata_consumer_lag_messages", {"group": group, "topic": TOPIC})
        dlq1 = value("ata_dead_letter_messages", {"topic": TOPIC})
        await commit_everything(kafka_bootstrap, group)
        await obs.refresh()
        lag2 = value("ata_consumer_lag_messages", {"group": group, "topic": TOPIC})
    finally:
        await obs.stop()
    assert lag0 is not None and dlq0 is not None
    assert lag1 == lag0 + 5  # a group that never committed reads from the earliest offset
    assert dlq1 == dlq0 + 2
    assert lag2 == 0
    assert value("ata_observability_failures_total", {"source": "kafka"}) == 0
