"""Outbox rows onto Kafka: record batches built straight from the rows (the relay's take and its direct
publication share this)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pydantic_core import from_json

from runtime.broker import REFUSED_RECORD
from runtime.kafka_internals import broker_producer

#: The connected aiokafka producer inside a FastStream broker, or None (runtime/kafka_internals.py).
kafka_producer = broker_producer


_PARTITIONER = DefaultPartitioner()


async def publish_batches(producer: AIOKafkaProducer, rows: list[Any]) -> list[tuple[asyncio.Future[Any], list[Any]]]:
    """Queue outbox rows on `producer` as record batches, one per partition (more when one fills up);
    answers each batch's acknowledgement future with the rows it carries.

    The row is already the wire message (payload bytes, CloudEvents headers): FastStream's publish chain
    was a third of the relay's CPU under bulk issuance (bench/README.md, round 2), and aiokafka's `send`
    per record (a future, an accumulator look-up and a batch append each) ~10 % of the issuer's (round 4).
    Each record goes to the partition `send` would pick (the producer's default partitioner over the same
    partition list: murmur2 of the key), in row order within its partition, so per-key order holds."""
    batches: dict[tuple[str, int], tuple[Any, list[Any]]] = {}
    pending: list[tuple[asyncio.Future[Any], list[Any]]] = []
    partitions: dict[str, list[int]] = {}
    for row in rows:
        topic = row["topic"]
        if topic not in partitions:
            partitions[topic] = list(await producer.partitions_for(topic))
        key = bytes(row["key"]) if row["key"] is not None else None
        partition = _PARTITIONER(key, partitions[topic], partitions[topic])
        headers = [(k, v.encode()) for k, v in from_json(row["headers"]).items()]
        value = bytes(row["payload"])
        entry = batches.get((topic, partition))
        if entry is None:
            entry = batches[(topic, partition)] = (producer.create_batch(), [])
        batch, carried = entry
        if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
            # Full: this one goes out now (before any later record of the partition) and a new one starts.
            # A first record always fits, however large (the broker judges its size, as with `send`).
            pending.append((await producer.send_batch(batch, topic, partition=partition), carried))
            batch, carried = batches[(topic, partition)] = (producer.create_batch(), [])
            batch.append(key=key, value=value, timestamp=None, headers=headers)
        carried.append(row)
    for (topic, partition), (batch, carried) in batches.items():
        pending.append((await producer.send_batch(batch, topic, partition=partition), carried))
    return pending


def record_size(row: Any) -> int:
    """An upper bound of the row's record size as the producer counts it (for max_request_size)."""
    key = bytes(row["key"]) if row["key"] is not None else None
    headers = [(k, v.encode()) for k, v in from_json(row["headers"]).items()]
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(key, bytes(row["payload"]), headers)


def refusal(exc: BaseException) -> str:
    return f"refused by Kafka: {type(exc).__name__}: {exc}"[:2000]


async def publish_rows(broker: Any, rows: list[Any], parked: list[tuple[Any, str]]) -> list[Any]:
    """Publish `rows`, each acknowledged (acks=all) before it counts; returns those published and adds
    those Kafka refused for good to `parked`. Any other failure is raised: the transaction rolls back,
    every row stays and the batch is tried again (what went out goes again: the inboxes absorb it)."""
    producer = kafka_producer(broker)
    if producer is None:
        return await _publish_each(broker, rows, parked)
    published: list[Any] = []
    alone: list[Any] = []
    pending = await publish_batches(producer, rows)
    results = await asyncio.gather(*(f for f, _ in pending), return_exceptions=True)
    for (_, carried), result in zip(pending, results, strict=True):
        if not isinstance(result, BaseException):
            published += carried
        elif not isinstance(result, REFUSED_RECORD):
            raise result
        elif len(carried) == 1:
            parked.append((carried[0], refusal(result)))
        else:  # which record of the batch? each alone then, in row order
            alone += carried
    for row in sorted(alone, key=lambda r: r["id"]):
        [(future, _)] = await publish_batches(producer, [row])
        try:
            await future
            published.append(row)
        except REFUSED_RECORD as exc:
            parked.append((row, refusal(exc)))
    return published


async def _publish_each(broker: Any, rows: list[Any], parked: list[tuple[Any, str]]) -> list[Any]:
    """Through `broker.publish` (no aiokafka producer inside the broker): slower, the same records."""
    pending: list[tuple[Any, Any]] = []
    for row in rows:
        key = bytes(row["key"]) if row["key"] is not None else None
        try:
            result = await broker.publish(
                bytes(row["payload"]), row["topic"], key=key, headers=from_json(row["headers"]), no_confirm=True
            )
        except REFUSED_RECORD as exc:
            parked.append((row, refusal(exc)))
            continue
        pending.append((row, result))
    published = []
    for row, result in pending:
        try:
            if inspect.isawaitable(result):
                await result
            published.append(row)
        except REFUSED_RECORD as exc:
            parked.append((row, refusal(exc)))
    return published
