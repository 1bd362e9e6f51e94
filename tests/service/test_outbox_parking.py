"""The outbox relay parks a row Kafka refuses for good (a record over the size limit, an invalid topic): kept in
`outbox_parked` with the reason, counted (ata_outbox_parked_total, ata_outbox_parked_rows), and the rest keeps
flowing; a failure of the surroundings (broker away) still rolls the batch back and retries it. Real PostgreSQL,
the broker replaced by a recorder (on the real broker: tests/integration/test_outbox_parking_on_real_broker.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.errors import InvalidTopicError, KafkaTimeoutError
from prometheus_client import CollectorRegistry

from runtime import outbox
from runtime.metrics import RuntimeMetrics
from runtime.outbox import OutboxRelay
from runtime.service import Service
from tests.support.outbox import queue, service  # noqa: F401 (service: the fixture)

LIMIT = 70_000


class Kafka:
    """Publishes; refuses the topic named `invalid` (InvalidTopicError) and raises `outage` while it is set."""

    def __init__(self) -> None:
        self.published: list[bytes] = []
        self.outage: Exception | None = None

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str], **_: Any) -> None:
        if self.outage is not None:
            raise self.outage
        if topic == "invalid":
            raise InvalidTopicError("The request attempted to perform an operation on an invalid topic.")
        self.published.append(body)


async def parked_rows(service: Service) -> list[tuple[bytes, str, str]]:
    async with service.pool.acquire() as conn:
        return [
            (bytes(r["payload"])[:2], r["topic"], r["reason"])
            for r in await conn.fetch("SELECT payload, topic, reason FROM outbox_parked ORDER BY id")
        ]


@pytest.fixture
async def relay(service: Service) -> OutboxRelay:  # noqa: F811
    async with service.pool.acquire() as conn:
        await conn.execute("TRUNCATE outbox_parked")
    return OutboxRelay(
        service.pool,
        Kafka(),
        service.schema,
        RuntimeMetrics(CollectorRegistry(), service.name),
        max_message_bytes=LIMIT,
    )


async def test_a_refused_row_is_parked_with_its_reason_and_the_rest_is_published(
    service: Service,  # noqa: F811
    relay: OutboxRelay,
) -> None:
    await queue(service, [("K", "A1"), ("K", "B2" + "x" * LIMIT), ("L", "C3"), ("K", "D4")])
    async with service.pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET topic = 'invalid' WHERE payload = 'C3'")
    assert await relay.flush_once() == 4
    assert relay.broker.published == [b"A1", b"D4"]
    parked = await parked_rows(service)
    assert [(p, t) for p, t, _ in parked] == [(b"B2", "t.events"), (b"C3", "invalid")]
    assert "over the 70000-byte limit" in parked[0][2] and "InvalidTopicError" in parked[1][2]
    metrics = relay.metrics
    assert metrics.outbox_parked("t.events")._value.get() == 1 and metrics.outbox_parked("invalid")._value.get() == 1
    async with service.pool.acquire() as conn:
        assert await outbox.measure(conn) == (0, 0.0, 2)  # nothing waits; two parked
    assert await relay.flush_once() == 0  # parked rows are not tried again


async def test_a_transient_failure_keeps_every_row_and_parks_nothing(
    service: Service,  # noqa: F811
    relay: OutboxRelay,
) -> None:
    await queue(service, [("K", "A1"), ("K", "B2")])
    relay.broker.outage = KafkaTimeoutError()
    with pytest.raises(KafkaTimeoutError):
        await relay.flush_once()
    async with service.pool.acquire() as conn:
        backlog, _, parked = await outbox.measure(conn)
    assert (backlog, parked) == (2, 0)
    relay.broker.outage = None
    assert await relay.flush_once() == 2 and relay.broker.published == [b"A1", b"B2"]
