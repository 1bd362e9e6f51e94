"""A batch of messages in one transaction keeps every per-message guarantee ("a crash loses nothing").

runtime.batch_consumer.BatchConsumer against a real PostgreSQL: one inbox claim and no savepoint while every
handler succeeds, else each message in its own savepoint, a message whose handler keeps failing
dead-lettered alone after MAX_ATTEMPTS while the rest commit,
a transient failure rolling the whole batch back (the caller then does not commit offsets), and
the inbox absorbing the redelivery.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from contracts.topics import ISSUANCE_REQUESTS
from runtime import commit_hooks
from runtime.batch_consumer import BatchConsumer
from runtime.consumer import MAX_ATTEMPTS, Consumer, Inbound, Record, WithBulk
from runtime.metrics import RuntimeMetrics
from runtime.service import Service
from tests.support.batches import DeadLetterSink, applied, records, service  # noqa: F401  (service: the fixture)


def batch_of(service: Service, handler: Any, sink: DeadLetterSink) -> tuple[BatchConsumer, RuntimeMetrics]:
    metrics = RuntimeMetrics(CollectorRegistry(), service.name)
    consumer = Consumer(
        service=service.name,
        topic=ISSUANCE_REQUESTS,
        handler=handler,
        pool_getter=lambda: service.pool,
        broker=sink,
        metrics=metrics,
    )
    return BatchConsumer(
        service.name, {ISSUANCE_REQUESTS.name: consumer}, lambda: service.pool, metrics, retry_delay_s=0
    ), metrics


async def claimed(service: Service) -> int:
    async with service.pool.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", service.name)


async def test_one_message_failing_every_attempt_is_dead_lettered_alone_and_the_rest_commit(service: Service) -> None:
    attempts: dict[str, int] = {}

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        rid = inbound.payload.request_id
        await conn.execute("INSERT INTO applied VALUES ($1)", rid)  # written, then rolled back for B
        if rid == "B":
            attempts[rid] = attempts.get(rid, 0) + 1
            raise ValueError("B is poison")

    sink = DeadLetterSink()
    batch, metrics = batch_of(service, handler, sink)
    await batch(records("A", "B", "C"))
    assert await applied(service) == ["A", "C"]
    assert attempts == {"B": MAX_ATTEMPTS}
    assert [(t, h["ce_subject"], h["dlq_kind"]) for _, t, h in sink.published] == [
        (ISSUANCE_REQUESTS.dead_letter, "B", "handler_failed")
    ]
    assert "B is poison" in sink.published[0][2]["dlq_reason"]
    assert await claimed(service) == 2  # B is not marked applied: a redelivery would try it again
    assert metrics.batch_size._sum.get() == 3


async def test_a_transient_failure_rolls_the_whole_batch_back_and_the_redelivery_applies_it_once(
    service: Service,
) -> None:
    outage = {"left": 1}

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        await conn.execute("INSERT INTO applied VALUES ($1)", inbound.payload.request_id)
        if inbound.payload.request_id == "C" and outage["left"]:
            outage["left"] -= 1
            raise ConnectionRefusedError(111, "database away")

    sink = DeadLetterSink()
    batch, _ = batch_of(service, handler, sink)
    delivered = records("A", "B", "C")
    with pytest.raises(ConnectionRefusedError):  # the subscriber nacks: offsets stay, partitions rewind
        await batch(delivered)
    assert await applied(service) == [] and await claimed(service) == 0
    await batch(delivered)  # the redelivery
    await batch(delivered)  # and a duplicate of it: the inbox absorbs it
    assert await applied(service) == ["A", "B", "C"] and await claimed(service) == 3
    assert sink.published == []


async def test_a_malformed_message_in_a_batch_is_dead_lettered_and_the_others_apply(service: Service) -> None:
    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        await conn.execute("INSERT INTO applied VALUES ($1)", inbound.payload.request_id)

    sink = DeadLetterSink()
    batch, _ = batch_of(service, handler, sink)
    await batch(records("A", "B", "C", garbage_at=1))
    assert await applied(service) == ["A", "C"]
    assert [(h["ce_subject"], h["dlq_kind"]) for _, _, h in sink.published] == [("B", "malformed_json")]


async def test_a_contract_violation_hook_writes_in_the_batch_and_its_note_reaches_the_dead_letter(
    service: Service,
) -> None:
    """runtime.consumer.OnViolation: the hook runs inside the batch's transaction (its writes commit with
    the batch), in its own savepoint (a failing hook undoes only itself), and the dead letter says what it did."""

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        await conn.execute("INSERT INTO applied VALUES ($1)", inbound.payload.request_id)

    async def on_violation(conn: asyncpg.Connection, record: Record, violation: Any) -> str:
        await conn.execute("INSERT INTO applied VALUES ($1)", f"answered-{record.key.decode()}")
        if record.key == b"D":
            raise ValueError("cannot answer D")
        return f"answered {record.key.decode()} ({violation.kind})"

    async def bulk(conn: asyncpg.Connection, inbounds: list[Inbound[Any]]) -> None:
        for inbound in inbounds:
            await handler(conn, inbound)

    sink = DeadLetterSink()
    batch, _ = batch_of(service, WithBulk(handler, bulk, on_violation), sink)
    broken = records("A", "B", "C", "D", garbage_at=1)
    broken[3] = Record(broken[3].topic, b"{not json", broken[3].headers, b"D", broken[3].where)
    await batch(broken)
    assert await applied(service) == ["A", "C", "answered-B"]  # D's hook write rolled back alone
    assert [(h["dlq_kind"], h["dlq_reason"].rsplit("[", 1)[1]) for _, _, h in sink.published] == [
        ("malformed_json", "answered B (malformed_json)]"),
        ("malformed_json", "no answer: the hook failed (ValueError)]"),
    ]


async def test_a_batch_whose_handlers_all_succeed_costs_one_inbox_statement_and_no_savepoint(service: Service) -> None:
    """The straight way: BEGIN, one claim for every id, the handlers' own statements, COMMIT."""
    from contextlib import asynccontextmanager

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        await conn.execute("INSERT INTO applied VALUES ($1)", inbound.payload.request_id)

    seen: list[str] = []
    async with service.pool.acquire() as conn:

        class OneConnection:  # the batch's pool: this connection, whose statements are logged
            @asynccontextmanager
            async def acquire(self):
                yield conn

        metrics = RuntimeMetrics(CollectorRegistry(), service.name)
        sink = DeadLetterSink()
        consumer = Consumer(
            service=service.name,
            topic=ISSUANCE_REQUESTS,
            handler=handler,
            pool_getter=lambda: service.pool,
            broker=sink,
            metrics=metrics,
        )
        batch = BatchConsumer(service.name, {ISSUANCE_REQUESTS.name: consumer}, OneConnection, metrics)
        await batch(records("A", "B", "C"))  # the first use of a type makes asyncpg look it up: not counted

        def logged(record: Any) -> None:
            seen.append(record.query.split(None, 1)[0].upper().rstrip(";"))

        conn.add_query_logger(logged)
        await batch(records("D", "E", "F"))
        conn.remove_query_logger(logged)
    assert await applied(service) == ["A", "B", "C", "D", "E", "F"] and await claimed(service) == 6
    assert seen == ["BEGIN", "INSERT", "INSERT", "INSERT", "INSERT", "COMMIT"]  # the claim, then D, E and F
    assert sink.published == []


async def test_what_handlers_leave_for_after_the_commit_runs_once_the_batch_committed_and_only_for_what_did(
    service: Service,
) -> None:
    """runtime.commit_hooks: B fails every attempt, so the straight run rolls back and each message runs again in
    its savepoint; only A's and C's callbacks run, once each (not the straight run's, not B's)."""
    ran: list[str] = []

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        rid = inbound.payload.request_id
        await conn.execute("INSERT INTO applied VALUES ($1)", rid)
        assert commit_hooks.after_commit(lambda: ran.append(rid))
        if rid == "B":
            raise ValueError("B is poison")

    batch, _ = batch_of(service, handler, DeadLetterSink())
    assert not commit_hooks.collecting() and not commit_hooks.after_commit(lambda: ran.append("outside"))
    await batch(records("A", "B", "C"))
    assert ran == ["A", "C"] and await applied(service) == ["A", "C"]


async def test_a_rolled_back_batch_runs_nothing_after_and_its_redelivery_runs_each_callback_once(
    service: Service,
) -> None:
    ran: list[str] = []
    outage = {"left": 1}

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        rid = inbound.payload.request_id
        await conn.execute("INSERT INTO applied VALUES ($1)", rid)
        commit_hooks.after_commit(lambda: ran.append(rid))
        if rid == "C" and outage["left"]:
            outage["left"] -= 1
            raise ConnectionRefusedError(111, "database away")

    batch, _ = batch_of(service, handler, DeadLetterSink())
    delivered = records("A", "B", "C")
    with pytest.raises(ConnectionRefusedError):
        await batch(delivered)
    assert ran == []
    await batch(delivered)
    await batch(delivered)  # a duplicate: the inbox absorbs it, its handlers do not run
    assert ran == ["A", "B", "C"]


async def test_what_a_handler_counts_is_counted_once_even_when_its_batch_falls_back(service: Service) -> None:
    """A counter raised inside a handler counted twice when the straight run rolled back and the careful way ran
    the handler again; counted once committed (commit_hooks.once_committed), it counts what was applied."""
    counted: list[str] = []

    async def handler(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        rid = inbound.payload.request_id
        await conn.execute("INSERT INTO applied VALUES ($1)", rid)
        commit_hooks.once_committed(lambda: counted.append(rid))
        if rid == "B":
            raise ValueError("B is poison")

    batch, _ = batch_of(service, handler, DeadLetterSink())
    await batch(records("A", "B", "C"))
    assert counted == ["A", "C"] and await applied(service) == ["A", "C"]
    commit_hooks.once_committed(lambda: counted.append("outside"))  # no consumer transaction: at once
    assert counted[-1] == "outside"
