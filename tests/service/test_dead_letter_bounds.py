"""No message can stall a partition: a batch holding a record Kafka will not take back whole (too large for
its dead letter, or refused by the producer) dead-letters it as a reference and still commits the rest, so the
caller commits the offsets; a record carrying an envelope header twice is dead-lettered, not guessed at.
BatchConsumer on a real PostgreSQL (on the real broker: tests/integration/test_dead_letters_on_real_broker.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka.errors import MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from contracts.topics import ISSUANCE_REQUESTS
from runtime.batch_consumer import BatchConsumer
from runtime.consumer import Consumer, Inbound, Record
from runtime.dead_letters import record_size
from runtime.metrics import RuntimeMetrics
from runtime.service import Service
from tests.support.batches import applied, records, service  # noqa: F401 (fixture)

LIMIT = 200_000


class Producer:
    """The broker's publish as aiokafka's producer behaves with max_request_size=`limit`."""

    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.attempts = 0
        self.published: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str]) -> None:
        self.attempts += 1
        if record_size(key, body, headers) > self.limit:
            raise MessageSizeTooLargeError("The message is too large")
        self.published.append((body, topic, headers))


async def insert(conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
    await conn.execute("INSERT INTO applied VALUES ($1)", inbound.payload.request_id)


def batch_of(service: Service, producer: Producer) -> tuple[BatchConsumer, RuntimeMetrics]:
    metrics = RuntimeMetrics(CollectorRegistry(), service.name)
    consumer = Consumer(
        service=service.name,
        topic=ISSUANCE_REQUESTS,
        handler=insert,
        pool_getter=lambda: service.pool,
        broker=producer,
        metrics=metrics,
        max_message_bytes=LIMIT,
    )
    return BatchConsumer(
        service.name, {ISSUANCE_REQUESTS.name: consumer}, lambda: service.pool, metrics, retry_delay_s=0
    ), metrics


async def test_an_oversized_record_is_dead_lettered_as_a_reference_and_the_next_one_applies(service: Service) -> None:
    a, b, c, d, e = records("A", "B", "C", "D", "E")

    def like(r: Record, body: bytes, **headers: str) -> Record:
        offset = int(r.where.rsplit("@", 1)[1])
        return Record(r.topic, body, {**r.headers, **headers}, r.key, r.where, partition=0, offset=offset)

    poison = [
        like(b, b"{" + b" " * LIMIT + b"}"),  # over the limit: a reference straight away
        like(c, b"{not json" + b" " * 150_000),  # fits the room, but this producer refuses it whole
        like(d, b"{not json", **{"x-bloat": "y" * LIMIT}),
    ]  # small body, headers too large to carry
    producer = Producer(limit=LIMIT // 2)  # a broker with a lower limit than ours (deploy/ drifted)
    batch, metrics = batch_of(service, producer)
    await batch([a, *poison, e])  # returns: the caller commits the offsets, the partition moves on
    assert await applied(service) == ["A", "E"]
    assert producer.attempts == 4  # C: once whole (refused), once as a reference
    assert [(h["dlq_kind"], h["dlq_payload"], h["ce_subject"]) for _, _, h in producer.published] == [
        ("too_large", "omitted", "B"),
        ("malformed_json", "omitted", "C"),
        ("malformed_json", "omitted", "D"),
    ]
    references = [json.loads(body) for body, _, _ in producer.published]
    assert [(r["topic"], r["partition"], r["offset"], r["size"]) for r in references] == [
        (ISSUANCE_REQUESTS.name, 0, i, len(p.body)) for i, p in zip((1, 2, 3), poison, strict=True)
    ]
    assert "MessageSizeTooLargeError" in references[1]["payload_omitted_because"]
    assert metrics.dead_letter_references(ISSUANCE_REQUESTS.name, "reference")._value.get() == 3


@dataclass
class Raw:
    """What aiokafka hands the subscriber (ConsumerRecord's fields the consumer reads)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]
    timestamp: int = -1


async def test_repeated_or_malformed_envelope_headers_are_dead_lettered(service: Service) -> None:
    a, b, c, d = records("A", "B", "C", "D")
    headers = [(k, v.encode()) for k, v in b.headers.items()]
    twice = Raw(b.topic, 0, 1, b.key, b.body, headers + [("ce_id", b"6d1b3c9e-0000-4000-8000-000000000000")])
    other_twice = Raw(c.topic, 0, 2, c.key, c.body, [(k, v.encode()) for k, v in c.headers.items()] * 2)
    not_text = Raw(
        d.topic,
        0,
        3,
        d.key,
        d.body,
        [(k, None if k == "ce_time" else b"\xff\xfe" + v.encode()) for k, v in d.headers.items()],
    )
    producer = Producer()
    batch, _ = batch_of(service, producer)
    await batch([a, Record.of(twice), Record.of(other_twice), Record.of(not_text)])
    assert await applied(service) == ["A"]
    dead = [(h["dlq_kind"], h["dlq_reason"]) for _, _, h in producer.published]
    assert [k for k, _ in dead] == ["envelope"] * 3
    assert dead[0][1] == "envelope headers repeated: ce_id" and "ce_source" in dead[1][1]
    assert Record.of(twice).repeated == ("ce_id",) and Record.of(Raw(a.topic, 0, 0, None, None, [])).repeated == ()
