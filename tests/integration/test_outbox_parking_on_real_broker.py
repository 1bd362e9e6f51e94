"""On the real broker, through the relay's own record batches (runtime.outbox.publish_batches): a row over the
record-size limit is parked with its reason and the key's other rows are published around it, in order."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from issuer.app import build as build_issuer
from runtime.broker import ensure_topics
from runtime.outbox import kafka_producer
from runtime.settings import Settings
from runtime.topic_reader import read_until

pytestmark = pytest.mark.integration

LIMIT = 100_000


async def test_a_row_over_the_limit_is_parked_and_the_rest_published(database_url, kafka_bootstrap, tmp_path):
    topic = f"relay-parking-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, {topic: 2})
    service = build_issuer(
        Settings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            data_dir=tmp_path,
            kafka_max_message_bytes=LIMIT,
        )
    )
    rows = [b"first", b"big" + b"x" * LIMIT, b"second"]
    await service.start()
    try:
        assert kafka_producer(service.broker) is not None
        async with service.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO outbox (message_id, topic, key, headers, payload) "
                "SELECT gen_random_uuid(), $1, 'K', jsonb_build_object('ce_id', n::text), p "
                "FROM unnest($2::bytea[]) WITH ORDINALITY AS u(p, n) ORDER BY n",
                topic,
                rows,
            )
        got = await read_until(kafka_bootstrap, topic, 2, lambda r: True, count=2, timeout=60)
        # The relay commits its transaction (rows parked, published rows gone) after the broker acknowledged the
        # records the test just read: wait for that commit rather than race it.
        for _ in range(100):
            async with service.pool.acquire() as conn:
                parked = await conn.fetch(
                    "SELECT topic, key, reason, payload FROM outbox_parked WHERE topic = $1", topic
                )
                left = await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", topic)
            if parked and not left:
                break
            await asyncio.sleep(0.1)
    finally:
        await service.stop()
    assert [r.value for r in sorted(got, key=lambda r: r.offset)] == [b"first", b"second"]
    [row] = parked
    assert (
        bytes(row["key"]) == b"K" and bytes(row["payload"]) == rows[1] and "over the 100000-byte limit" in row["reason"]
    )
    assert left == 0
    assert service.registry.get_sample_value("ata_outbox_parked_total", {"topic": topic}) == 1
