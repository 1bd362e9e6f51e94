"""The embedded stack's servers on their own: real PostgreSQL, real tansu, no orphans after stop.

Free ports throughout, so these run next to a `python -m deploy.local up` on the defaults.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from contracts.topics import all_topic_partitions
from deploy.local.kafka import EmbeddedKafka
from deploy.local.postgres import EmbeddedPostgres, PostgresStartError
from deploy.local.processes import free_port
from deploy.local.stack import LocalStack
from runtime.broker import ensure_topics

pytestmark = pytest.mark.integration


def process_tree(pid: int) -> list[int]:
    root = psutil.Process(pid)
    return [pid, *(child.pid for child in root.children(recursive=True))]


def assert_gone(pids: list[int]) -> None:
    alive = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{pid} {proc.name()}")
        except psutil.NoSuchProcess:
            pass
    assert not alive, f"still running after stop: {alive}"


async def topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_embedded_postgres_answers_and_leaves_nothing_behind() -> None:
    pg = EmbeddedPostgres(free_port(), ephemeral=True, fast=True)
    await pg.start()
    try:
        assert pg.pid is not None
        pids = process_tree(pg.pid)
        assert len(pids) > 1  # the postmaster and its background workers
        assert pg.dsn("x") == f"postgresql://postgres@127.0.0.1:{pg.port}/x"
        conn = await asyncpg.connect(pg.dsn())
        try:
            assert await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()
        data_dir = pg.data_dir
    finally:
        await pg.stop()
    assert_gone(pids)
    assert data_dir is not None and not data_dir.exists()  # ephemeral: removed on stop


async def test_embedded_postgres_keeps_data_and_refuses_a_second_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    first = EmbeddedPostgres(free_port(), data_dir, fast=True, log_file=tmp_path / "pg.log")
    await first.start()
    try:
        conn = await asyncpg.connect(first.dsn())
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        await conn.close()

        second = EmbeddedPostgres(free_port(), data_dir, fast=True, log_file=tmp_path / "pg2.log")
        with pytest.raises(PostgresStartError, match=f"pid {first.pid}"):
            await second.start()
    finally:
        await first.stop()

    again = EmbeddedPostgres(free_port(), data_dir, fast=True, log_file=tmp_path / "pg.log")
    await again.start()
    try:
        conn = await asyncpg.connect(again.dsn())
        assert await conn.fetchval("SELECT n FROM kept") == 42
        await conn.close()
    finally:
        await again.stop()


async def test_embedded_kafka_round_trip_and_leaves_nothing_behind(tmp_path: Path) -> None:
    kafka = EmbeddedKafka(free_port(), log_dir=tmp_path)
    await kafka.start()
    try:
        assert kafka.pid is not None
        pids = process_tree(kafka.pid)
        topic = f"test.local-stack.{uuid.uuid4().hex[:8]}"
        # Produces to a missing topic are dropped silently by tansu: create it first.
        assert await ensure_topics(kafka.bootstrap, {topic: 1}) == [topic]

        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap, enable_idempotence=False, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello", key=b"k1")
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka.bootstrap,
            group_id=f"g-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        assert (message.key, message.value) == (b"k1", b"hello")
    finally:
        await kafka.stop()
    assert_gone(pids)


async def test_stack_without_services_creates_database_and_topics(tmp_path: Path) -> None:
    lines: list[str] = []
    stack = LocalStack(
        tmp_path,
        kafka_bootstrap=None,
        database_url=None,
        kafka_port=free_port(),
        postgres_port=free_port(),
        ephemeral=True,
        fast=True,
        services=(),
        progress=lines.append,
    )
    # Explicit None is overridden by the environment; this test wants the embedded servers.
    if stack.kafka is None or stack.postgres is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS or DATABASE_URL set: the stack would use external servers")
    async with stack:
        pids = process_tree(stack.kafka.pid) + process_tree(stack.postgres.pid)
        conn = await asyncpg.connect(stack.database_url)
        assert await conn.fetchval("SELECT current_database()") == "ata"
        await conn.close()
        assert set(all_topic_partitions()) <= await topics(stack.kafka_bootstrap)
    assert_gone(pids)
    assert any("stack up" in line for line in lines)
    assert lines[-1].endswith("PostgreSQL: stopped")


async def test_stack_survives_a_postgres_crash_and_a_broker_restart(tmp_path: Path, monkeypatch) -> None:
    """For the crash tests (issue 10): a SIGKILLed PostgreSQL comes back on the same data with every committed
    row (crash recovery, fsync on), and a restarted broker has every topic again."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "ATA_KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "ATA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    stack = LocalStack(
        tmp_path,
        kafka_port=free_port(),
        postgres_port=free_port(),
        ephemeral=True,
        services=(),
        progress=lambda _: None,
    )
    async with stack:
        assert stack.postgres is not None and stack.kafka is not None
        conn = await asyncpg.connect(stack.database_url)
        await conn.execute("CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
        await conn.close()
        old_pg = process_tree(stack.postgres.pid)
        await stack.crash_postgres()
        assert_gone(old_pg)
        conn = await asyncpg.connect(stack.database_url)
        assert await conn.fetchval("SELECT n FROM kept") == 42
        await conn.close()

        old_kafka = process_tree(stack.kafka.pid)
        await stack.restart_kafka()
        assert_gone(old_kafka)
        assert set(all_topic_partitions()) <= await topics(stack.kafka_bootstrap)
