"""Bulk issuance reaching the ledger (core) and the gateway's carnets on file (WithBulk on
ata.issuance.events.v1): a batch handled together leaves exactly the rows the one-by-one path
leaves, including R1's number collision (the first carnet stands, the other is refused loudly),
R5's duplicate of a carnet issued in the same batch and a redelivered message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from contracts.messages import CarnetIssued, CarnetItem
from contracts.topics import ISSUANCE_EVENTS
from core.app import build as build_core
from customs_gateway.app import build as build_gateway
from issuer.domain import carnet_number
from runtime.batch_consumer import BatchConsumer
from runtime.consumer import Consumer, Record, WithBulk
from runtime.metrics import RuntimeMetrics
from runtime.service import Service
from tests.support.batches import DeadLetterSink
from tests.support.databases import drop_database, fresh_database
from tests.support.messages import duplicate_issued, wire

DIGEST = "ab" * 32


def issued(seq: int, **overrides: Any) -> CarnetIssued:
    fields: dict[str, Any] = {
        "request_id": f"REQ-{seq}",
        "carnet_number": carnet_number("FR", 2026, seq),
        "nga": "FR",
        "issuing_association": "FR-CCI-PARIS",
        "holder_id": f"hld_{seq}",
        "representative_ids": [],
        "countries": ["CH", "GB"],
        "issue_date": date(2026, 11, 22),
        "expiry_date": date(2027, 11, 21),
        "general_list_digest": DIGEST,
        "items": [CarnetItem(item_number=i, quantity=i, origin_country="DE") for i in range(1, seq % 3 + 2)],
    }
    fields.update(overrides)
    return CarnetIssued(**fields)


def batch() -> list[Record]:
    # The odd characters a wallet id may hold (contracts.bounds.IDENTIFIER; a comma no longer passes the contract).
    first = issued(1, representative_ids=["rep_a", "rep:with@odd.chars+"])
    messages = [
        first,
        issued(2),
        issued(3, countries=["JP"]),
        issued(1, holder_id="hld_other", request_id="REQ-X", countries=["US"]),  # R1: same number, another carnet
        duplicate_issued(first.carnet_number, carnet_number("FR", 2026, 9), datetime(2026, 11, 23, tzinfo=UTC)),
    ]
    out = []
    for offset, payload in enumerate(messages):
        body, headers, _ = wire(payload, producer="issuer")
        out.append(Record(ISSUANCE_EVENTS.name, body, headers, b"k", f"{ISSUANCE_EVENTS.name}/0@{offset}"))
    return out + [out[1]]  # and a redelivery of one of them


#: What the intake writes, per service (and the inbox).
WRITTEN = {"core": ("carnets", "items"), "customs_gateway": ("carnets_on_file",)}


def consumer_of(service: Service) -> tuple[BatchConsumer, RuntimeMetrics, Consumer]:
    metrics = RuntimeMetrics(CollectorRegistry(), service.name)
    handler = service._consumers[ISSUANCE_EVENTS.name].handler
    assert isinstance(handler, WithBulk)
    consumer = Consumer(
        service=service.name,
        topic=ISSUANCE_EVENTS,
        handler=handler,
        pool_getter=lambda: service.pool,
        broker=DeadLetterSink(),
        metrics=metrics,
    )
    return (
        BatchConsumer(service.name, {ISSUANCE_EVENTS.name: consumer}, lambda: service.pool, metrics),
        metrics,
        consumer,
    )


async def tables(service: Service) -> dict[str, Any]:
    """The intake's rows, without the columns the database stamps with its own clock (`now()` defaults)."""
    out: dict[str, Any] = {}
    async with service.pool.acquire() as conn:
        for table in (*WRITTEN[service.name], "inbox"):
            columns = [
                r["column_name"]
                for r in await conn.fetch(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2"
                    " AND data_type <> 'timestamp with time zone' ORDER BY ordinal_position",
                    service.schema,
                    table,
                )
            ]
            rows = await conn.fetch(f"SELECT {', '.join(columns)} FROM {table}")
            out[table] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return out


@pytest.mark.parametrize("build", [build_core, build_gateway], ids=["core", "customs_gateway"])
async def test_r1_r5_a_batch_of_issued_carnets_leaves_what_one_by_one_leaves(
    build: Any, settings: Any, clock: Any, pg_server: str
) -> None:
    records = batch()
    together = build(settings, clock=clock)
    alone = build(settings.model_copy(update={"database_url": await fresh_database(pg_server)}), clock=clock)
    await together.open_database()
    await alone.open_database()
    try:
        bulk, metrics, _ = consumer_of(together)
        await bulk(records)
        assert metrics.handled(ISSUANCE_EVENTS.name, "bulk", "fallback")._value.get() == 0
        assert metrics.handled(ISSUANCE_EVENTS.name, "CarnetIssued", "applied")._value.get() == 4
        assert metrics.handled(ISSUANCE_EVENTS.name, "CarnetIssued", "duplicate")._value.get() == 1

        _, _, one = consumer_of(alone)
        for r in records:
            await one(r.body, r.headers, r.key, r.where)
        written = await tables(together)
        assert written == await tables(alone)
        assert all(written.values()) and len(written["inbox"]) == 5  # not vacuous: every table got rows
    finally:
        await together.pool.close()
        await alone.pool.close()
        await drop_database(pg_server, alone.settings.database_url)


async def test_r1_the_core_refuses_a_second_carnet_under_a_known_number_in_the_same_batch(
    settings: Any, clock: Any
) -> None:
    service = build_core(settings, clock=clock)
    await service.open_database()
    try:
        bulk, _, _ = consumer_of(service)
        collisions = service.registry.get_sample_value("ata_carnet_number_collisions_total") or 0.0
        await bulk(batch())
        assert (service.registry.get_sample_value("ata_carnet_number_collisions_total") or 0.0) == collisions + 1
        async with service.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT holder_id, representative_ids, countries FROM carnets WHERE carnet_number = $1",
                carnet_number("FR", 2026, 1),
            )
            items = await conn.fetchval("SELECT count(*) FROM items")
        assert (row["holder_id"], row["representative_ids"], row["countries"]) == (
            "hld_1",
            ["rep_a", "rep:with@odd.chars+"],
            ["CH", "GB"],
        )
        assert items == 2 + 3 + 1 + 2  # carnets 1, 2, 3 and the duplicate's copy of 1
    finally:
        await service.pool.close()
