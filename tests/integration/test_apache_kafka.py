"""Apache Kafka from Maven Central, one node: the settings production uses are the ones it runs with.

Idempotent producers, per-topic limits, real end offsets, and data that survives a SIGKILL (what the embedded
broker cannot do). Skipped without Java or Maven (failed in CI), whatever ATA_BROKER says.
"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from deploy.local.apache_kafka import DEFAULT_HEAP, ApacheKafka
from runtime.broker import ensure_topics
from runtime.broker_kind import RETENTION_MS, BrokerKind
from runtime.settings import Settings
from tests.support.servers import apache_kafka_or_skip

pytestmark = pytest.mark.integration


@pytest.fixture
async def kafka(tmp_path):
    apache_kafka_or_skip()
    broker = ApacheKafka(1, base_dir=tmp_path)
    try:
        await broker.start()
        yield broker
    finally:
        await broker.stop()


async def test_one_node_idempotent_producer_topic_limits_end_offsets_and_a_sigkill(kafka):
    settings = Settings(broker="kafka", kafka_bootstrap_servers=kafka.bootstrap)
    kind = BrokerKind.of(settings)
    assert kind.idempotent
    topic = "ata.test.durable.v1"
    assert await ensure_topics(
        kafka.bootstrap, {topic: 2}, replication_factor=kind.replication_factor, configs=kind.topic_configs(settings)
    ) == [topic]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for entry in described[0].resources[0][4]}
    assert configs["max.message.bytes"] == str(settings.kafka_max_message_bytes)
    assert configs["retention.ms"] == str(RETENTION_MS)

    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"r{i}".encode(), partition=i % 2)
        with pytest.raises(Exception, match=r"MessageSizeTooLarge|too large"):
            await producer.send_and_wait(topic, b"x" * (settings.kafka_max_message_bytes + 1024), partition=0)
    finally:
        await producer.stop()

    rss = kafka.rss_bytes()[1]
    assert rss < 2 * int(DEFAULT_HEAP.rstrip("m")) * 2**20, f"RSS {rss >> 20} MiB"

    kafka.kill_node(1)
    await kafka.start_node(1)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
        ends = await consumer.end_offsets(parts)
        assert sorted(ends.values()) == [5, 5]  # after a SIGKILL, every acknowledged record is still there
    finally:
        await consumer.stop()
