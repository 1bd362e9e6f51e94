"""The runtime against a real Kafka-protocol broker and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

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
    applied = [
        "runtime/0001_outbox_inbox",
        "runtime/0002_outbox_rows_inline",
        "runtime/0003_outbox_parked",
        "runtime/0004_outbox_direct",
        "service/0001_init",
        "service/0002_nga_integration",
    ]
    assert sorted(results, key=len) == [[], applied]
    assert [r["version"] for r in versions] == applied


async def test_issuer_over_real_kafka_answers_once_and_dead_letters_garbage(database_url, kafka_bootstrap, tmp_path):
    """Consume, transaction, outbox relay, produce: through the real broker; a bad message goes to the DLQ."""
    service = build_issuer(
        Settings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap, data_dir=tmp_path)
    )
    await service.start()
    try:
        # The relay sends the outbox rows through the broker's own aiokafka producer (bench/README.md):
        # if FastStream's internals move, this fails instead of the relay silently taking the slow path.
        assert kafka_producer(service.broker) is not None
        # The idle backoff of the consumer loop (runtime/consume_loop.py) on the embedded broker only; Apache
        # Kafka gets idempotent producers instead (runtime/broker_kind.py).
        producer = kafka_producer(service.broker)
        loop = service.consume_loop
        assert loop is not None and loop.backoff == service.broker_kind.embedded
        if service.broker_kind.embedded:
            assert producer._txn_manager is None
        else:
            assert producer._txn_manager is not None  # aiokafka's idempotence state: enable_idempotence=True
        # FastStream starts no consumer of its own: the loop is the group's only member from this process.
        assert service._subscriber.consumer is None
        request_id = f"IT-{uuid.uuid4().hex[:10]}"
        # Belgian numbers: the e2e tests issue French ones on the same broker, and numbers must never collide.
        body, headers, env = wire(sealed_request(request_id, nga="BE", issuing_association="BE-CCI-BXL"))
        garbage_id = str(uuid.uuid4())
        await produce(kafka_bootstrap, ISSUANCE_REQUESTS.name, b"\xff not json", {**headers, "ce_id": garbage_id})
        # the same message twice: delivered twice, applied once
        await produce(kafka_bootstrap, ISSUANCE_REQUESTS.name, body, headers, key=request_id.encode())
        await produce(kafka_bootstrap, ISSUANCE_REQUESTS.name, body, headers, key=request_id.encode())

        answers = issuance_responses("BE")  # the issuer created the NGA's response topic at start
        [answer] = await read_until(
            kafka_bootstrap,
            answers.name,
            answers.partitions,
            lambda r: json.loads(r.value).get("request_id") == request_id,
            timeout=60,
        )
        [dead] = await read_until(
            kafka_bootstrap,
            ISSUANCE_REQUESTS.dead_letter,
            1,
            lambda r: r.headers.get("ce_id") == garbage_id,
            timeout=30,
        )
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

    assert answer.headers["ce_type"] == "org.ata-carnets.CarnetIssued.v1"
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


async def test_relay_batches_land_where_send_would_put_them_in_row_order(database_url, kafka_bootstrap, tmp_path):
    """The outbox relay builds record batches itself (runtime.outbox.publish_batches, bench/README.md round 4):
    every record on the partition the producer's own `send` picks for its key, in row order within the
    partition (per-key order: a carnet's events stay in order), headers and bodies intact, one batch
    overflowing into the next when a partition's records pass the producer's batch size."""
    from runtime.broker import PRODUCER_BATCH_BYTES, ensure_topics

    topic = f"relay-batches-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, {topic: 4})
    service = build_issuer(
        Settings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap, data_dir=tmp_path)
    )
    await service.start()
    big = b"x" * (PRODUCER_BATCH_BYTES // 3)  # four of them on one key fill a batch
    rows = [(f"k{i % 7}".encode() if i % 11 else None, f'{{"seq": {i}}}'.encode()) for i in range(120)]
    rows += [(b"big", big + str(i).encode()) for i in range(120, 125)]
    try:
        producer = kafka_producer(service.broker)
        assert producer is not None
        async with service.pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO outbox (message_id, topic, key, headers, payload) "
                "SELECT gen_random_uuid(), $1, k, jsonb_build_object('ce_id', n::text), p "
                "FROM unnest($2::bytea[], $3::bytea[]) WITH ORDINALITY AS u(k, p, n) ORDER BY n",
                topic,
                [k for k, _ in rows],
                [p for _, p in rows],
            )
        got = await read_until(kafka_bootstrap, topic, 4, lambda r: True, count=len(rows), timeout=60)
        expected = {k: producer._partition(topic, None, None, None, k, None) for k, _ in rows if k is not None}
    finally:
        await service.stop()

    assert sorted(r.value for r in got) == sorted(p for _, p in rows)  # each once, bodies intact
    by_value = {p: (i, k) for i, (k, p) in enumerate(rows)}
    for r in got:
        i, key = by_value[r.value]
        assert r.key == key and r.headers["ce_id"] == str(i + 1)
        if key is not None:
            assert r.partition == expected[key], key
    for partition in range(4):  # row order within each partition
        order = [by_value[r.value][0] for r in sorted(got, key=lambda r: r.offset) if r.partition == partition]
        assert order == sorted(order)
    assert len({r.partition for r in got}) > 1
