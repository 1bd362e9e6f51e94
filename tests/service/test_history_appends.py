"""The per-carnet hash chain in the core's database (issue 3, item 7): appends form a verified chain, per carnet,
serialised."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from core import history_store
from core.history import CROSSING, DUTY_RECEIPT, GENESIS, canonical, link
from tests.support.history_store import NUMBER, OTHER, PARIS, RECORDS, add_carnet, append_in_transaction, build, seeded

# --- the store -------------------------------------------------------------------------------------------


async def test_appended_records_form_a_verified_chain_that_survives_jsonb(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        heads = await seeded(service, clock)
        async with service.pool.acquire() as conn:
            check = await history_store.check(conn, NUMBER)
            chain = await history_store.entries(conn, NUMBER)
            raw = await conn.fetch("SELECT record::text AS text FROM history ORDER BY position")
    assert (check.ok, check.length, check.head, check.broken_at, check.reason) == (True, 3, heads[-1], None, None)
    assert [e.position for e in chain] == [1, 2, 3]
    assert [e.event for e in chain] == [CROSSING, CROSSING, DUTY_RECEIPT]
    assert chain[0].prev_hash == GENESIS and chain[1].prev_hash == chain[0].hash and chain[2].prev_hash == chain[1].hash
    assert [e.hash.hex() for e in chain] == heads
    assert [e.recorded_at for e in chain] == [clock() + timedelta(minutes=i) for i in range(3)]
    # Stored as the JSON-native form that was hashed: strings for UUIDs and UTC instants, exact big integers.
    assert chain[0].record["transaction_id"] == str(UUID(int=1))
    assert chain[0].record["decided_at"] == "2026-11-22T08:31:01.123456Z"
    assert chain[0].record["big"] == 2**70 and chain[0].record["note"] == "Zürich → 東京"
    assert chain[2].record["receipt_date"] == "2027-01-05"
    # jsonb keeps its own key order and spacing, not the hashed bytes; verification re-encodes what it decodes.
    assert raw[0]["text"].encode() != canonical(RECORDS[0][1])
    assert json.loads(raw[0]["text"]) == chain[0].record
    # The hash covers the carnet number, position, event and recording time as well as the record.
    first = chain[0]
    assert first.hash == link(
        GENESIS,
        {"carnet_number": NUMBER, "position": 1, "event": CROSSING, "recorded_at": clock(), "record": RECORDS[0][1]},
    )


async def test_a_known_carnet_without_events_has_an_empty_verified_chain(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), service.pool.acquire() as conn:
        await add_carnet(conn)
        check = await history_store.check(conn, NUMBER)
    assert (check.ok, check.length, check.head) == (True, 0, GENESIS.hex())


async def test_chains_are_per_carnet(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        await seeded(service, clock)
        async with service.pool.acquire() as conn:
            await add_carnet(conn, OTHER)
            head = await append_in_transaction(conn, OTHER, CROSSING, RECORDS[0][1], clock())
            other = await history_store.entries(conn, OTHER)
            assert (await history_store.check(conn, OTHER)).ok and (await history_store.check(conn, NUMBER)).ok
            # The same record at the same place of another carnet hashes differently: chains cannot be transplanted.
            first = (await history_store.entries(conn, NUMBER))[0]
    assert [e.position for e in other] == [1] and other[0].prev_hash == GENESIS
    assert head != first.hash.hex()


async def test_append_needs_a_transaction_a_known_carnet_and_a_canonical_record(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), service.pool.acquire() as conn:
        await add_carnet(conn)
        with pytest.raises(RuntimeError, match="transaction"):
            await history_store.append(conn, NUMBER, CROSSING, {"a": 1}, clock())
        with pytest.raises(LookupError):
            await append_in_transaction(conn, OTHER, CROSSING, {"a": 1}, clock())
        with pytest.raises(ValueError):
            await append_in_transaction(conn, NUMBER, CROSSING, {"weight": 2.5}, clock())
        with pytest.raises(ValueError):
            await append_in_transaction(conn, NUMBER, CROSSING, {"a": 1}, datetime(2026, 11, 22, 9, 30))  # naive
        with pytest.raises(ValueError):
            await append_in_transaction(conn, NUMBER, "", {"a": 1}, clock())
        assert await conn.fetchval("SELECT count(*) FROM history") == 0


async def test_concurrent_appends_to_one_carnet_are_serialised_by_its_row_lock(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        async with service.pool.acquire() as conn:
            await add_carnet(conn)

        async def one(i: int) -> str:
            async with service.pool.acquire() as conn, conn.transaction():
                # No lock taken by the caller here: append takes the carnet's row lock itself.
                head = await history_store.append(conn, NUMBER, CROSSING, {"n": i}, clock())
                await asyncio.sleep(0.01)  # hold the lock a little, so the others queue behind it
                return head

        heads = await asyncio.gather(*(one(i) for i in range(4)))
        async with service.pool.acquire() as conn:
            check = await history_store.check(conn, NUMBER)
            chain = await history_store.entries(conn, NUMBER)
    assert check.ok and check.length == 4
    assert sorted(e.record["n"] for e in chain) == [0, 1, 2, 3]
    assert {e.hash.hex() for e in chain} == set(heads)


async def test_recorded_at_in_any_zone_verifies(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), service.pool.acquire() as conn:
        await add_carnet(conn)
        await append_in_transaction(conn, NUMBER, CROSSING, {"a": 1}, datetime(2026, 11, 22, 10, 30, tzinfo=PARIS))
        await append_in_transaction(conn, NUMBER, CROSSING, {"a": 2}, datetime(2026, 11, 22, 9, 31, tzinfo=UTC))
        assert (await history_store.check(conn, NUMBER)).ok
