"""Transactional outbox: `add` inside the caller's transaction; a relay publishes and deletes.

The relay locks a batch with FOR UPDATE SKIP LOCKED, so several relays (several instances of a
service) never publish the same row twice at once; a crash between publish and delete
republishes the batch, which consumers' inboxes absorb (at-least-once delivery, exactly-once
effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from pydantic_core import from_json, to_json

from contracts.envelope import Envelope
from contracts.messages import Payload
from runtime.metrics import RuntimeMetrics, observe_many

log = logging.getLogger(__name__)


def channel_for(schema: str) -> str:
    return f"outbox_{schema}"


async def add(conn: asyncpg.Connection, topic: str, key: str | None, envelope: Envelope, payload: Payload) -> None:
    """Queue a message; it is published only if the caller's transaction commits."""
    await add_many(conn, [(topic, key, envelope, payload)])


async def emit(conn: asyncpg.Connection, topic: str, payload: Payload, *, key: str | None, producer: str,
               cause: Envelope | None = None, subject: str | None = None) -> Envelope:
    """Queue `payload` with a fresh envelope, continuing `cause`'s conversation when given."""
    envelope = envelope_for(payload, key=key, producer=producer, cause=cause, subject=subject)
    await add(conn, topic, key, envelope, payload)
    return envelope


def envelope_for(payload: Payload, *, key: str | None, producer: str, cause: Envelope | None = None,
                 subject: str | None = None) -> Envelope:
    """The envelope `emit` would give `payload` (for `add_many`, which queues many at once)."""
    subject = subject if subject is not None else key
    if cause is not None:
        # What `cause.caused` builds, every field given (pydantic's default factories cost more than the
        # values), and validated: in pydantic 2.14 validating these eight fields (~2 µs) is cheaper than
        # model_construct without validation (~5 µs), which round 3 used (bench/README.md, round 4).
        return Envelope(message_id=uuid4(), type=payload.TYPE, schema_version=payload.VERSION,
                        occurred_at=datetime.now(timezone.utc), correlation_id=cause.correlation_id,
                        causation_id=cause.message_id, producer=producer,
                        subject=subject if subject is not None else cause.subject)
    return Envelope(type=payload.TYPE, schema_version=payload.VERSION, producer=producer, subject=subject)


#: One queued message for `add_many`: topic, key, envelope, payload.
Queued = tuple[str, "str | None", Envelope, Payload]


async def add_many(conn: asyncpg.Connection, rows: list[Queued], bodies: list[bytes | None] | None = None) -> None:
    """Queue many messages in ONE round trip (a multi-row INSERT over arrays and one NOTIFY).

    The rows get ids in list order, so the relay publishes them in that order. NOTIFY is
    transactional, delivered at commit and coalesced per transaction; the channel is named after
    the connection's schema. Bulk consumers (issuer/bulk.py) use it: one statement per batch
    instead of one per message. `bodies[i]`, when given, is row i's payload already serialised
    (`payload.model_dump_json()`, which the caller needed anyway); None serialises it here."""
    if not rows:
        return
    if bodies is not None and len(bodies) != len(rows):
        raise ValueError(f"{len(bodies)} bodies for {len(rows)} rows")
    for _, _, envelope, payload in rows:
        if envelope.type != payload.TYPE or envelope.schema_version != payload.VERSION:
            raise ValueError(f"envelope {envelope.type}/v{envelope.schema_version} does not match "
                             f"{payload.TYPE}/v{payload.VERSION}")
    await conn.execute(
        "WITH rows AS (INSERT INTO outbox (message_id, topic, key, headers, payload) "
        "SELECT m, t, k, h::jsonb, p FROM unnest($1::uuid[], $2::text[], $3::bytea[], $4::text[], $5::bytea[])"
        " WITH ORDINALITY AS u(m, t, k, h, p, n) ORDER BY n RETURNING 1) "
        "SELECT pg_notify('outbox_' || current_schema(), '') FROM (SELECT 1 FROM rows LIMIT 1) AS one",
        [e.message_id for _, _, e, _ in rows],
        [t for t, _, _, _ in rows],
        [k.encode() if k is not None else None for _, k, _, _ in rows],
        [to_json(e.to_headers()).decode() for _, _, e, _ in rows],  # pydantic-core's JSON: ~2.5x json's speed
        [p.model_dump_json().encode() for _, _, _, p in rows] if bodies is None else
        [b if b is not None else p.model_dump_json().encode() for (_, _, _, p), b in zip(rows, bodies, strict=True)],
    )


def kafka_producer(broker: Any) -> AIOKafkaProducer | None:
    """The connected aiokafka producer inside a FastStream Kafka broker, or None (the test broker,
    a broker not started, or a FastStream whose internals moved: then the relay publishes through
    `broker.publish`, slower but the same records)."""
    state = getattr(getattr(getattr(broker, "config", None), "producer", None), "_producer", None)
    producer = getattr(state, "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


_PARTITIONER = DefaultPartitioner()


async def publish_batches(producer: AIOKafkaProducer, rows: list[Any]) -> list[asyncio.Future[Any]]:
    """Queue outbox rows on `producer` as record batches, one per partition (more when one fills up);
    answers the futures of their acknowledgements.

    The row is already the wire message (payload bytes, CloudEvents headers): FastStream's publish chain
    was a third of the relay's CPU under bulk issuance (bench/README.md, round 2), and aiokafka's `send`
    per record (a future, an accumulator look-up and a batch append each) ~10 % of the issuer's (round 4).
    Each record goes to the partition `send` would pick (the producer's default partitioner over the same
    partition list: murmur2 of the key), in row order within its partition, so per-key order holds."""
    batches: dict[tuple[str, int], Any] = {}
    pending: list[asyncio.Future[Any]] = []
    partitions: dict[str, list[int]] = {}
    for row in rows:
        topic = row["topic"]
        if topic not in partitions:
            partitions[topic] = list(await producer.partitions_for(topic))
        key = bytes(row["key"]) if row["key"] is not None else None
        partition = _PARTITIONER(key, partitions[topic], partitions[topic])
        headers = [(k, v.encode()) for k, v in from_json(row["headers"]).items()]
        value = bytes(row["payload"])
        batch = batches.get((topic, partition))
        if batch is None:
            batch = batches[(topic, partition)] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # Full: this one goes out now (before any later record of the partition) and a new one starts.
            # A first record always fits, however large (the broker judges its size, as with `send`).
            pending.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[(topic, partition)] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None, headers=headers)
    for (topic, partition), batch in batches.items():
        pending.append(await producer.send_batch(batch, topic, partition=partition))
    return pending


class OutboxRelay:
    def __init__(self, pool: asyncpg.Pool, broker: Any, schema: str, metrics: RuntimeMetrics, *, batch: int = 500,
                 poll_s: float = 1.0) -> None:
        self.pool = pool
        self.broker = broker
        self.schema = schema
        self.metrics = metrics
        self.batch = batch
        self.poll_s = poll_s
        self._wake = asyncio.Event()
        self.last_success = 0.0

    async def flush_once(self) -> int:
        """Publish up to one batch; returns how many rows went out."""
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, topic, key, headers, payload, extract(epoch FROM clock_timestamp() - created_at) AS age "
                "FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                self.batch,
            )
            selected = time.perf_counter()
            if not rows:
                return 0
            producer = kafka_producer(self.broker)
            if producer is not None:
                pending = await publish_batches(producer, rows)
            else:
                pending = []
                for row in rows:
                    key = bytes(row["key"]) if row["key"] is not None else None
                    result = await self.broker.publish(bytes(row["payload"]), row["topic"], key=key,
                                                       headers=from_json(row["headers"]), no_confirm=True)
                    if inspect.isawaitable(result):
                        pending.append(result)
            # Every record must be acknowledged (acks=all) before its row is deleted.
            await asyncio.gather(*pending)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        published = time.perf_counter()
        # One labelled child per topic, not one look-up per row (a batch is up to `batch` rows).
        for topic, n in Counter(row["topic"] for row in rows).items():
            self.metrics.outbox_published(topic).inc(n)
        observe_many(self.metrics.outbox_delay, [float(row["age"]) + published - selected for row in rows])
        return len(rows)

    async def run(self) -> None:
        listener = await self.pool.acquire()
        wake = lambda *_: self._wake.set()  # noqa: E731
        try:
            await listener.add_listener(channel_for(self.schema), wake)
            # The backlog gauges are measured when /metrics is scraped (runtime/observability.py), not here.
            while True:
                self._wake.clear()
                try:
                    sent = await self.flush_once()
                    self.last_success = time.monotonic()
                except Exception as exc:  # broker or database away: keep the rows, try again
                    log.warning("outbox relay of %s failed, retrying: %s", self.schema, exc)
                    await asyncio.sleep(self.poll_s)
                    continue
                if sent >= self.batch:
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
                except TimeoutError:
                    pass
        finally:
            with contextlib.suppress(Exception):
                await listener.remove_listener(channel_for(self.schema), wake)
            await self.pool.release(listener)
