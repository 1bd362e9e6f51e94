"""Bulk issuance (issuer/bulk.py): a batch of requests decided together keeps every per-message answer.

The issuer's own handlers behind runtime.batch_consumer.BatchConsumer, a real PostgreSQL, batches of
records as the Kafka subscriber hands them over. R1 (numbers unique, consecutive), R4
(rejection with reasons), idempotency (a repeated request id gets the stored answer; the same
message twice changes nothing) and dead-lettering of a poison message alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest

from contracts.messages import GoodsCategory
from contracts.topics import ISSUANCE_EVENTS, ISSUANCE_REQUESTS, issuance_responses
from issuer.app import build
from issuer.domain import carnet_number
from runtime.consumer import MAX_ATTEMPTS
from runtime.metrics import RuntimeMetrics
from runtime.service import Service
from tests.service.conftest import outbox
from tests.support.batches import DeadLetterSink, consumer_of, record
from tests.support.messages import goods, sealed_request

FR = issuance_responses("FR").name


@pytest.fixture
async def issuer(settings: Any, clock: Any) -> AsyncIterator[Service]:
    service = build(settings, clock=clock)
    await service.open_database()
    try:
        yield service
    finally:
        await service.pool.close()


def sample(metrics: RuntimeMetrics, outcome: str, type_: str = "SealedIssuanceRequested") -> float:
    return metrics.handled(ISSUANCE_REQUESTS.name, type_, outcome)._value.get()


async def test_r1_a_clean_batch_is_issued_in_bulk_with_consecutive_numbers_in_request_order(issuer: Service) -> None:
    """R1: numbers consecutive per country and year, in request order; the bulk path, no fallback."""
    batch, metrics = consumer_of(issuer, DeadLetterSink())
    ids = [f"BULK-{i}" for i in range(12)]
    await batch([record(sealed_request(rid), i) for i, rid in enumerate(ids)])
    queued = await outbox(issuer)
    answers = [m for m in queued if m["topic"] == FR]
    ledger = [m for m in queued if m["topic"] == ISSUANCE_EVENTS.name]
    assert [a["key"] for a in answers] == ids
    assert [a["payload"]["carnet_number"] for a in answers] == [carnet_number("FR", 2026, n) for n in range(1, 13)]
    assert all(a["payload"]["document"] is None for a in answers)  # the NGA's answer carries no document
    assert [e["key"] for e in ledger] == [a["payload"]["carnet_number"] for a in answers]
    assert all(e["payload"]["document"] is not None for e in ledger)  # the ledger's event carries it
    assert sample(metrics, "applied") == 12
    assert metrics.handled(ISSUANCE_REQUESTS.name, "bulk", "fallback")._value.get() == 0
    async with issuer.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM carnets WHERE kind = 'issued' AND status = 'issued'") == 12
        assert await conn.fetchval("SELECT count(*) FROM requests WHERE outcome = 'issued'") == 12
        assert await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'issuer'") == 12


@pytest.mark.parametrize("with_poison", [True, False], ids=["poison-falls-back", "all-in-bulk"])
async def test_r1_r4_poison_repeat_and_rejection_in_one_batch_each_get_exactly_their_answer(
    issuer: Service, with_poison: bool
) -> None:
    """A poison message is dead-lettered alone; a repeated request id gets the first answer; a
    rejected request (R4) gets its reasons; the same message twice is applied once; the rest commit.
    With the poison the batch falls back to one by one; without it, all of it goes in bulk."""
    async with issuer.pool.acquire() as conn:  # R1: the 2027 series is exhausted: issuing in it fails every time
        await conn.execute("INSERT INTO carnet_sequences (country, year, last_value) VALUES ('FR', 2027, 9999999)")
    alcohol = goods(2)
    alcohol[1] = alcohol[1].model_copy(update={"category": GoodsCategory.ALCOHOL})
    sink = DeadLetterSink()
    batch, metrics = consumer_of(issuer, sink)
    await batch([record(sealed_request("OLD-1"), 0)])
    twice = record(sealed_request("OK-2"), 3)
    poison = record(sealed_request("POISON", issue_date=date(2027, 1, 10), expiry_date=date(2027, 6, 1)), 4)
    records = [
        record(sealed_request("OK-1"), 1),
        record(sealed_request("OK-1"), 2),  # the same request id again (a fresh message)
        twice,
        poison,
        record(sealed_request("REJ-1", goods=alcohol), 5),
        twice,  # the same message again (redelivery)
        record(sealed_request("OLD-1"), 6),  # a request id answered in an earlier batch
        record(sealed_request("OK-3"), 7),
    ]
    if not with_poison:
        records.remove(poison)
    await batch(records)
    queued = await outbox(issuer)
    answers = [(m["key"], m["type"], m["payload"]) for m in queued if m["topic"] == FR]
    ledger = [m["payload"]["request_id"] for m in queued if m["topic"] == ISSUANCE_EVENTS.name]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for key, _, payload in answers:
        by_key.setdefault(key, []).append(payload)

    fallbacks = metrics.handled(ISSUANCE_REQUESTS.name, "bulk", "fallback")._value.get()
    # the poison: dead-lettered alone after every attempt, no answer, nothing stored, numbers given back
    assert len(sink.published) == (1 if with_poison else 0) and fallbacks == (1 if with_poison else 0)
    if with_poison:
        _, topic, headers = sink.published[0]
        assert topic == ISSUANCE_REQUESTS.dead_letter and headers["ce_id"] == poison.headers["ce_id"]
        assert headers["dlq_kind"] == "handler_failed" and "sequence exhausted" in headers["dlq_reason"]
    assert "POISON" not in by_key
    # repeated request ids: the stored answer again, one carnet each
    assert len(by_key["OK-1"]) == 2 and by_key["OK-1"][0] == by_key["OK-1"][1]
    assert len(by_key["OLD-1"]) == 2 and by_key["OLD-1"][0] == by_key["OLD-1"][1]
    assert ledger == ["OLD-1", "OK-1", "OK-2", "OK-3"]
    # the same message twice: one answer
    assert len(by_key["OK-2"]) == 1
    # the rejection: its R4 reason, no number
    [rejected] = by_key["REJ-1"]
    assert [(r["rule"], r["item_number"]) for r in rejected["reasons"]] == [("R4", 2)]
    # R1: no number lost to the poison's rolled-back attempts
    numbers = sorted(p[0]["carnet_number"] for k, p in by_key.items() if k != "REJ-1")
    assert numbers == [carnet_number("FR", 2026, n) for n in range(1, 5)]
    assert sample(metrics, "dead_lettered") == (1 if with_poison else 0) and sample(metrics, "duplicate") == 1
    async with issuer.pool.acquire() as conn:
        assert await conn.fetchval("SELECT last_value FROM carnet_sequences WHERE year = 2027") == 9999999
        outcomes = dict(await conn.fetch("SELECT request_id, outcome FROM requests"))
    assert outcomes == {"OLD-1": "issued", "OK-1": "issued", "OK-2": "issued", "OK-3": "issued", "REJ-1": "rejected"}


async def test_a_handler_failure_in_bulk_falls_back_to_one_by_one_and_retries_each(issuer: Service) -> None:
    """The fallback is the per-message path: MAX_ATTEMPTS tries for the poison, one try for the others."""
    async with issuer.pool.acquire() as conn:
        await conn.execute("INSERT INTO carnet_sequences (country, year, last_value) VALUES ('FR', 2027, 9999999)")
    batch, metrics = consumer_of(issuer, DeadLetterSink())
    poison = sealed_request("POISON", issue_date=date(2027, 1, 10), expiry_date=date(2027, 6, 1))
    await batch([record(sealed_request("A"), 0), record(poison, 1), record(sealed_request("B"), 2)])
    assert metrics.handled(ISSUANCE_REQUESTS.name, "bulk", "fallback")._value.get() == 1
    assert sample(metrics, "retry") == MAX_ATTEMPTS - 1
    assert sample(metrics, "applied") == 2
