"""runtime/fetch_wait.py on the real embedded broker: an idle consumer's fetches wait longer, and the
first record brings the short wait back (bench/README.md, round 4)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from runtime.broker import ensure_topics
from runtime.fetch_wait import AdaptiveFetchWait

pytestmark = pytest.mark.integration


async def _until(predicate, what: str, attempts: int = 200) -> None:
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


async def test_idle_consumer_waits_longer_and_the_first_record_shortens_it(kafka_bootstrap):
    topic = f"fetch-wait-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, {topic: 1})
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, group_id=topic, fetch_max_wait_ms=20,
                                auto_offset_reset="earliest")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=False)
    await consumer.start()
    await producer.start()
    wait = AdaptiveFetchWait(20, 300, 3)
    try:
        assert wait.install(consumer), "aiokafka's Fetcher internals moved (see tests/unit/test_fetch_wait.py)"
        fetcher = consumer._fetcher
        await _until(lambda: wait.idle, "the consumer went idle after empty fetches")
        assert fetcher._fetch_max_wait_ms == 300
        await producer.send_and_wait(topic, b"first after idle")
        got = []
        for _ in range(50):
            got += [r.value for rs in (await consumer.getmany(timeout_ms=100)).values() for r in rs]
            if got:
                break
        assert got == [b"first after idle"]
        assert not wait.idle and fetcher._fetch_max_wait_ms == 20
    finally:
        await producer.stop()
        await consumer.stop()
