"""A row published straight after its transaction commits (runtime/outbox_direct.py), on real PostgreSQL with the
broker replaced by a recorder: published once, without the relay's take; nothing published for a transaction
that rolled back; deleted by the next take; a writer that never publishes (crashed) costs only the grace; a
failing broker leaves the row to the take; a key's later row never overtakes its earlier one (ARCHITECTURE.md:
every state change is announced, exactly once in effect)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from contracts.messages import IssuanceRejected, Reason
from contracts.topics import DECLARATIONS
from runtime.background import LoopMetrics
from runtime.metrics import RuntimeMetrics
from runtime.outbox import OutboxRelay, add_many, envelope_for
from runtime.outbox_direct import DIRECT_MAX_BYTES, HINTS
from runtime.service import Service
from tests.support.outage import eventually
from tests.support.outbox import service  # noqa: F401 (fixture: a schema with the runtime's tables)


class Recorder:
    """Stands in for the broker: the bodies published, in order; `failing` refuses every publish."""

    def __init__(self) -> None:
        self.published: list[bytes] = []
        self.failing = False

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, **_: Any) -> None:
        if self.failing:
            raise ConnectionError("broker away")
        self.published.append(body)


def rejected(key: str, note: str | None = None, topic: str = "t.answers") -> tuple[str, str, Any, IssuanceRejected]:
    """A row keyed `key` whose body says `note` (the key when not given)."""
    payload = IssuanceRejected(request_id=key, nga="FR", reasons=[Reason(rule="R4", message=note or key)])
    return (topic, key, envelope_for(payload, key=key, producer="issuer"), payload)


def bodies(recorder: Recorder) -> list[str]:
    return [IssuanceRejected.model_validate_json(b).reasons[0].message for b in recorder.published]


async def queue(service: Service, *request_ids: str, rollback: bool = False) -> None:
    async with service.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        await add_many(conn, [rejected(r) for r in request_ids])
        await (tx.rollback() if rollback else tx.commit())


async def outbox(service: Service) -> list[tuple[str, bool]]:
    async with service.pool.acquire() as conn:
        return [
            (bytes(r["key"]).decode(), r["direct"])
            for r in await conn.fetch("SELECT key, direct FROM outbox ORDER BY id")
        ]


@asynccontextmanager
async def running(service: Service, recorder: Recorder, registry: CollectorRegistry) -> AsyncIterator[OutboxRelay]:
    """A relay's loop as a service runs it, its periodic take an hour apart: only a NOTIFY makes it act."""
    relay = OutboxRelay(service.pool, recorder, service.schema, RuntimeMetrics(registry, service.name), poll_s=3600)
    loop = relay.background(LoopMetrics(registry))
    loop.start()
    try:
        await eventually(lambda: HINTS.active > 0 and relay._last_take > float("-inf"))
        yield relay
    finally:
        await loop.stop()


def counted(registry: CollectorRegistry, outcome: str) -> float:
    return registry.get_sample_value("ata_outbox_direct_total", {"outcome": outcome}) or 0.0


async def test_a_committed_row_is_published_once_straight_after_commit_and_deleted_by_the_next_take(
    service: Service,
) -> None:
    recorder, registry = Recorder(), CollectorRegistry()
    async with running(service, recorder, registry) as relay:
        first_take = relay._last_take
        await queue(service, "A", "B")
        await eventually(lambda: bodies(recorder) == ["A", "B"])
        assert relay._last_take == first_take  # no take ran since the loop's first: its period is an hour
        assert await outbox(service) == [("A", True), ("B", True)]  # kept until the take deletes them
        assert counted(registry, "published") == 2
        assert await relay.flush_once() == 0  # the take: deletes them, publishes nothing again
        assert await outbox(service) == [] and bodies(recorder) == ["A", "B"]


async def test_a_rolled_back_transaction_publishes_nothing(service: Service) -> None:
    recorder, registry = Recorder(), CollectorRegistry()
    async with running(service, recorder, registry):
        await queue(service, "GONE", rollback=True)
        await queue(service, "KEPT")
        await eventually(lambda: bodies(recorder) == ["KEPT"])
        await asyncio.sleep(0.2)
        assert bodies(recorder) == ["KEPT"]


async def test_a_direct_row_whose_writer_never_published_it_goes_out_after_the_grace(service: Service) -> None:
    """The writer crashed between commit and publish: its row is in the outbox, flagged direct, and no process
    holds it in memory. A take leaves it for the grace, then publishes it."""
    HINTS.active += 1  # rows are queued direct as in a service whose relay runs, but no relay publishes them
    try:
        await queue(service, "ORPHAN")
    finally:
        HINTS.active -= 1
    assert await outbox(service) == [("ORPHAN", True)]
    recorder = Recorder()
    relay = OutboxRelay(service.pool, recorder, service.schema, RuntimeMetrics(CollectorRegistry(), service.name))
    relay.grace_s = 3.0
    assert await relay.flush_once() == 0 and recorder.published == []  # its writer may still be publishing it
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET created_at = created_at - interval '4 seconds'")
    assert await relay.flush_once() == 1 and bodies(recorder) == ["ORPHAN"]


async def test_a_failing_broker_leaves_the_row_to_the_take(service: Service) -> None:
    recorder, registry = Recorder(), CollectorRegistry()
    recorder.failing = True
    async with running(service, recorder, registry) as relay:
        await queue(service, "LATER")
        await eventually(lambda: counted(registry, "left") == 1)
        assert recorder.published == [] and await outbox(service) == [("LATER", True)]
        recorder.failing = False
        relay.grace_s = 0.0  # as if the grace had passed
        assert await relay.flush_once() == 1
    assert bodies(recorder) == ["LATER"] and await outbox(service) == []


async def test_a_keys_later_row_is_not_direct_while_its_earlier_row_waits_and_does_not_overtake_it(
    service: Service,
) -> None:
    """K's first row is direct but its writer has not published it (as another instance's would be); K's second
    row, queued meanwhile, must go the relay's way and wait behind it: per-key order across instances."""
    HINTS.active += 1
    try:
        await queue(service, "K")  # no relay runs: nobody publishes it yet
        async with service.pool.acquire() as conn:
            await add_many(conn, [rejected("K", "K again")])
    finally:
        HINTS.active -= 1
    assert await outbox(service) == [("K", True), ("K", False)]
    recorder = Recorder()
    relay = OutboxRelay(service.pool, recorder, service.schema, RuntimeMetrics(CollectorRegistry(), service.name))
    relay.grace_s = 3.0
    assert await relay.flush_once() == 0 and relay.held_back == 1  # the later row waits for the earlier
    relay.grace_s = 0.0
    assert await relay.flush_once() == 2
    assert bodies(recorder) == ["K", "K again"]
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


@pytest.mark.parametrize("rows", [65, 200])
async def test_a_bulk_statement_goes_the_relays_way(service: Service, rows: int) -> None:
    """Over DIRECT_MAX_ROWS a statement's rows are not direct: the relay's batches are cheaper per row, and the
    NOTIFY payload stays under PostgreSQL's 8,000 bytes."""
    HINTS.active += 1
    try:
        before = len(HINTS)
        async with service.pool.acquire() as conn:
            await add_many(conn, [rejected(f"R{i}") for i in range(rows)])
        assert len(HINTS) == before  # nothing kept in memory for them
    finally:
        HINTS.active -= 1
    async with service.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FILTER (WHERE direct) FROM outbox") == 0


async def test_the_notify_payload_names_the_direct_rows_in_id_order(service: Service) -> None:
    heard: list[str] = []
    listener: asyncpg.Connection = await service.pool.acquire()

    def hear(*args: Any) -> None:
        heard.append(args[3])

    await listener.add_listener(f"outbox_{service.schema}", hear)
    HINTS.active += 1
    try:
        await queue(service, "X", "Y")
        await eventually(lambda: len(heard) == 1)
    finally:
        HINTS.active -= 1
        await listener.remove_listener(f"outbox_{service.schema}", hear)
        await service.pool.release(listener)
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT id, message_id FROM outbox ORDER BY id")
    assert heard == [",".join(f"{r['id']}:{r['message_id']}" for r in rows)]


async def test_an_audit_topics_rows_wait_for_the_batch_and_go_before_a_take(service: Service) -> None:
    """An audit trail no one waits on (Topic.audit) is published with the others of its period, not one produce
    request each; a take about to run publishes them first (a later row of their key may be in it)."""
    recorder, registry = Recorder(), CollectorRegistry()
    async with running(service, recorder, registry):
        async with service.pool.acquire() as conn:
            await add_many(conn, [rejected("D", "audit", topic=DECLARATIONS.name)])
        await queue(service, "NOW")
        await eventually(lambda: bodies(recorder) == ["NOW"])
        await asyncio.sleep(0.3)
        assert bodies(recorder) == ["NOW"]  # the audit row waits for its period (an hour here)
        async with service.pool.acquire() as conn:
            await add_many(conn, [rejected(f"B{i}") for i in range(65)])  # not direct: a take is due
        await eventually(lambda: len(recorder.published) == 67)
    assert bodies(recorder)[:2] == ["NOW", "audit"]


async def test_a_large_row_goes_the_relays_way_beside_small_direct_ones(service: Service) -> None:
    """A row over DIRECT_MAX_BYTES (an issued carnet's sealed document) is not kept in memory: the take publishes
    it; the small rows of the same statement stay direct."""
    big = b"x" * (DIRECT_MAX_BYTES + 1)  # the body as its writer serialised it
    HINTS.active += 1
    try:
        before = HINTS.bytes
        async with service.pool.acquire() as conn:
            await add_many(conn, [rejected("S"), rejected("L")], bodies=[None, big])
        assert HINTS.bytes - before < DIRECT_MAX_BYTES
    finally:
        HINTS.active -= 1
    assert await outbox(service) == [("S", True), ("L", False)]
