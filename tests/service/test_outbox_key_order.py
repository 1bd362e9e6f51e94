"""N relays keep each key's order: while one relay holds a key's earlier outbox row (it took it FOR UPDATE and
is publishing it), another relay must not publish that key's later rows first, and still publishes the other
keys' rows. Deterministic: the holder is a second connection with the row locked, or a real relay paused in
its publish (real PostgreSQL; the broker replaced by a recorder)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry

from runtime.metrics import RuntimeMetrics
from runtime.outbox import OutboxRelay
from runtime.service import Service
from tests.support.outbox import queue, service  # noqa: F401 (service: the fixture, a schema with the runtime's tables)


class Recorder:
    """Stands in for the broker: what was published, in order; `hold` pauses the publish of one body."""

    def __init__(self, hold: bytes | None = None) -> None:
        self.published: list[bytes] = []
        self.hold = hold
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str], **_: Any) -> None:
        if body == self.hold:
            self.holding.set()
            await self.release.wait()
        self.published.append(body)


def relay(service: Service, broker: Recorder, batch: int = 500) -> OutboxRelay:
    return OutboxRelay(
        service.pool, broker, service.schema, RuntimeMetrics(CollectorRegistry(), service.name), batch=batch
    )


async def test_a_later_row_of_a_key_waits_while_another_connection_holds_its_earlier_row(service: Service) -> None:
    first, *_ = await queue(service, [("K", "K1"), ("K", "K2"), ("L", "L1"), (None, "N1"), ("K", "K3")])
    holder: asyncpg.Connection = await service.pool.acquire()
    tx = holder.transaction()
    await tx.start()
    await holder.fetchval("SELECT id FROM outbox WHERE id = $1 FOR UPDATE", first)  # as another relay would
    try:
        broker = Recorder()
        assert await relay(service, broker).flush_once() == 2
        assert broker.published == [b"L1", b"N1"]  # K2 and K3 wait for K1: no inversion
    finally:
        await tx.rollback()  # the other relay gave up K1 (crashed, or its publish failed)
        await service.pool.release(holder)
    assert await relay(service, broker).flush_once() == 3
    assert broker.published == [b"L1", b"N1", b"K1", b"K2", b"K3"]


async def test_two_relays_publish_each_key_in_order(service: Service) -> None:
    await queue(service, [("K", "K1"), ("K", "K2"), ("L", "L1"), ("L", "L2"), ("K", "K3")])
    broker = Recorder(hold=b"K1")
    one = asyncio.create_task(relay(service, broker, batch=1).flush_once())  # takes K1 and pauses publishing it
    try:
        await asyncio.wait_for(broker.holding.wait(), 10)
        meanwhile = await relay(service, broker).flush_once()  # the other relay
        published = list(broker.published)
    finally:
        broker.release.set()
        done = await asyncio.wait_for(one, 10)
    assert (meanwhile, published, done) == (2, [b"L1", b"L2"], 1)
    assert await relay(service, broker).flush_once() == 2
    assert broker.published == [b"L1", b"L2", b"K1", b"K2", b"K3"]
