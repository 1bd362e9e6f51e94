"""The runtime against a real Kafka-protocol broker and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from contracts.topics import ISSUANCE_REQUESTS, issuance_responses
from issuer.app import build as build_issuer
from runtime.migrations import migrate, service_directories
from runtime.outbox import kafka_producer
from runtime.settings import Settings
from runtime.topic_reader import read_until
from tests.support.messages import sealed_request, wire
from pathlib import Path

pytestmark = pytest.mark.integration


async def produce(bootstrap: str, topic: str, body: bytes, headers: dict[str, str], key: bytes | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, body, key=key, headers=[(k, v.encode()) for k, v in headers.items()])
    finally:
        await producer.stop()


async def test_migrations_under_concurrent_starts_apply_once(database_url):
    """Two instances migrating one schema at once: the advisory lock makes one wait."""
    migrations = Path(__file__).parents[2] / "issuer" / "migrations"
    schema = f"s_{uuid.uuid4().hex[:8]}"
    conns = [await asyncpg.connect(database_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(migrate(c, schema, service_directories(migrations)) for c in conns))
        versions = await conns[0].fetch(f'SELECT version FROM "{schema}".schema_migrations ORDER BY 1')
    finally:
        for c in conns:
            await c.close()
    applied = ["runtime/0001_outbox_inbox", "runtime/0002_outbox_rows_inline", "service/0001_init",
               "service/0002_nga_integration"]
    assert sorted(results, key=len) == [[], applied]
    assert [r["version"] for r in versions] == applied


async def test_issuer_over_real_kafka_answers_once_and_dead_letters_garbage(database_url, kafka_bootstrap, tmp_path):
    """Consume, transaction, outbox relay, produce: through the real broker; a bad message goes to the DLQ."""
    service = build_issuer(Settings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap, data_dir=tmp_path))
    await service.start()
    try:
        # The relay sends the outbox rows through the broker's own aiokafka producer (bench/README.md):
        # if FastStream's internals move, this fails instead of the relay silently taking the slow path.
        assert kafka_producer(service.broker) is not None
        # Likewise the adaptive fetch wait (runtime/fetch_wait.py) hooked into the service's consumer.
        assert service.fetch_wait._fetcher is service._subscriber.consumer._fetcher
        request_id = f"IT-{uuid.uuid4().hex[:10]}"
        # Belgian numbers: the e2e tests issue French ones on the same broker, and numbers must never collide.
        body, headers, env = wire(sealed_request(request_id, nga="BE", issuing_association="BE-CCI-BXL"))
        garbage_id = str(uuid.uuid4())
        await produce(kafka_bootstrap, ISSUANCE_REQUESTS.name, b"\xff not json", {**headers, "ce_id": garbage_id})
        # the same message twice: delivered twice, applied once
        await produce(kafka_bootstrap, ISSUANCE_REQUESTS.name, body, headers, key=request_id.encode())
        await produce(kafka_bootstrap, ISSUANCE_REQUESTS.name, body, headers, key=request_id.encode())

        answers = issuance_responses("BE")  # the issuer created the NGA's response topic at start
        [answer] = await read_until(kafka_bootstrap, answers.name, answers.partitions,
                                    lambda r: json.loads(r.value).get("request_id") == request_id, timeout=60)
        [dead] = await read_until(kafka_bootstrap, ISSUANCE_REQUESTS.dead_letter, 1,
                                  lambda r: r.headers.get("ce_id") == garbage_id, timeout=30)
        # the relay has drained the outbox and nothing else was issued for the repeat
        for _ in range(50):
            async with service.pool.acquire() as conn:
                backlog = await conn.fetchval("SELECT count(*) FROM outbox")
                handled = await conn.fetchval("SELECT count(*) FROM inbox WHERE message_id = $1", env.message_id)
            if backlog == 0:
                break
            await asyncio.sleep(0.1)
        async with service.pool.acquire() as conn:
            carnets = await conn.fetchval("SELECT count(*) FROM carnets WHERE request_id = $1", request_id)
    finally:
        await service.stop()

    assert answer.headers["ce_type"] == "CarnetIssued"
    assert answer.headers["ce_causationid"] == str(env.message_id)
    assert answer.headers["ce_correlationid"] == str(env.correlation_id)
    assert answer.key == request_id.encode()  # answers are keyed by the NGA's request id
    assert answer.headers["ce_subject"] == json.loads(answer.value)["carnet_number"]
    assert dead.value == b"\xff not json"
    assert dead.headers["dlq_kind"] == "malformed_json"
    assert backlog == 0 and handled == 1 and carnets == 1


async def test_pool_release_costs_no_round_trip_and_still_rolls_back(database_url):
    """The pool skips asyncpg's reset query (one round trip per release) yet never hands out a
    connection inside a transaction, and keeps its schema's search_path (bench/README.md)."""
    from runtime.db import create_pool

    pool = await create_pool(database_url, "public", min_size=1, max_size=1)
    try:
        queries: list[str] = []
        async with pool.acquire() as conn:
            conn.add_query_logger(lambda record: queries.append(record.query))
        for _ in range(20):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        assert queries == ["SELECT 1"] * 20  # asyncpg's default would add its reset query after each

        conn = await pool.acquire()
        tx = conn.transaction()
        await tx.start()
        await conn.execute("CREATE TEMP TABLE left_open (x int)")
        await pool.release(conn)  # a forgotten transaction: asyncpg rolls it back before our reset
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            assert await conn.fetchval("SHOW search_path") == "public"
    finally:
        await pool.close()
