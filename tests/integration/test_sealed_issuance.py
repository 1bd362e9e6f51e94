"""The carnet document never travels in open form (ARCHITECTURE, DOMAIN flow step 2; R1, R3).

Issuer and core run on the real broker and a real PostgreSQL; carnets go through the `ata`
CLI's Kafka path (sealed on the NGA's side). Then every topic and every table of every schema is
read back whole: the holder's name and the goods' descriptions appear nowhere, while the carnet
number, which travels in the clear, is found in both (so the dump did read what the issuance wrote).
"""

from __future__ import annotations

import asyncio
import io
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console

from core.app import build as build_core
from issuer.app import build as build_issuer
from nga_client import cli
from runtime.settings import Settings
from tests.support.messages import goods, plain_carnet

pytestmark = pytest.mark.integration


async def dump_topics(bootstrap: str) -> bytes:
    """Every record (key, headers, value) of every topic, read from the beginning until quiet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = await admin.list_topics()
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    out = bytearray()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in names
            for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        quiet = 0
        while quiet < 3:  # the embedded broker's end offsets are wrong: read until three empty polls
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            quiet = 0 if batch else quiet + 1
            for records in batch.values():
                for r in records:
                    out += (
                        (r.key or b"")
                        + b"".join(k.encode() + (v or b"") for k, v in r.headers)
                        + (r.value or b"")
                        + b"\n"
                    )
    finally:
        await consumer.stop()
    return bytes(out)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
    return consumer.partitions_for_topic(topic) or set()


async def dump_tables(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema"
            " NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        )
        parts = []
        for t in tables:
            rows = await conn.fetch(f'SELECT * FROM "{t["table_schema"]}"."{t["table_name"]}"')
            parts.extend(repr(tuple(r.values())) for r in rows)
        return "\n".join(parts)
    finally:
        await conn.close()


async def test_no_plain_holder_name_or_item_description_in_any_topic_or_table(database_url, kafka_bootstrap, tmp_path):
    from deploy.local.identity import ensure_wallet_issuer
    from tokens import trustlist

    anchor = tmp_path / "keys" / "trust-anchor.pem"
    trustlist.ensure_anchor(anchor)
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        data_dir=tmp_path,
        wallet_issuer_public_key_path=ensure_wallet_issuer(tmp_path),
        trust_anchor_key_path=anchor,
    )
    marker = uuid.uuid4().hex[:12]
    name, description = f"Holder {marker} GmbH", f"Camera {marker} s/n"
    items = [g.model_copy(update={"description": f"{description} {g.item_number}"}) for g in goods(3)]
    run = f"IT-SEAL-{uuid.uuid4().hex[:10]}"
    carnets = [
        plain_carnet(
            f"{run}-{i}",
            nga="BE",
            issuing_association="BE-CCI-BXL",
            goods=items,
            holder=plain_carnet().carnet.holder.model_copy(
                update={"name": name, "holder_id": f"hld_{uuid.uuid4().hex[:10]}"}
            ),
        )
        for i in range(3)
    ]
    issuer, core = build_issuer(settings), build_core(settings)
    await issuer.start()
    await core.start()
    try:
        summary = cli.Summary()
        await cli.issue(
            carnets,
            summary,
            kafka=kafka_bootstrap,
            http=None,
            api_key=None,
            timeout=90,
            console=Console(file=io.StringIO()),
        )
        numbers = sorted(summary.issued.values())
        for _ in range(300):  # the core takes them into its ledger, then nothing is left to relay
            async with core.pool.acquire() as conn:
                known = await conn.fetchval("SELECT count(*) FROM carnets WHERE carnet_number = ANY($1)", numbers)
            if known == len(numbers):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
    finally:
        await core.stop()
        await issuer.stop()
    topics, tables = await dump_topics(kafka_bootstrap), await dump_tables(database_url)
    assert len(numbers) == 3 and known == 3
    assert all(n.encode() in topics and n in tables for n in numbers)
    for plain in (name, description):
        assert plain.encode() not in topics
        assert plain not in tables
    assert marker.encode() not in topics and marker not in tables
