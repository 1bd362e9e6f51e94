"""Transactional outbox: `add` inside the caller's transaction; a relay publishes and deletes.

The relay locks a batch with FOR UPDATE SKIP LOCKED, so several relays (several instances of a
service) never publish the same row twice at once; a crash between publish and delete
republishes the batch, which consumers' inboxes absorb (at-least-once delivery, exactly-once
effect).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from uuid import uuid4

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from pydantic_core import from_json, to_json

from contracts.envelope import Envelope
from contracts.messages import Payload
from runtime.background import BackgroundLoop, LoopMetrics
from runtime.broker import REFUSED_RECORD
from runtime.kafka_internals import broker_producer
from runtime.metrics import RuntimeMetrics, observe_many
from runtime.settings import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

# --- the relay's SQL, all of it --------------------------------------------------------------------

#: The next batch, taken: locked (SKIP LOCKED: another relay's rows are passed over) and deleted in the same
#: statement, inside the flush's transaction, so a failed publish or a crash rolls the delete back and the rows
#: stay (at-least-once); a flush is BEGIN, this, COMMIT. A row is `held` (left in place) when an earlier row
#: of its (topic, key) exists that is not in this batch, i.e. another relay holds it (or it committed after
#: this batch's rows). Every row below this batch's last id is this relay's or locked by another, so the
#: look-up scans one batch's id range, not the backlog. One row comes back even when nothing was taken (its
#: id NULL): `held` counts the rows held back. Unordered: the relay sorts the ids (sorting the rows with
#: their payloads in PostgreSQL took longer than the whole look-up).
TAKE_BATCH = (
    "WITH mine AS MATERIALIZED ("
    " SELECT id, topic, key FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED),"
    " others AS ("
    " SELECT o.topic, o.key, min(o.id) AS first FROM outbox o"
    " WHERE o.id < (SELECT max(id) FROM mine) AND o.key IS NOT NULL AND o.id NOT IN (SELECT id FROM mine)"
    " GROUP BY o.topic, o.key),"
    " marked AS MATERIALIZED ("
    " SELECT m.id, coalesce(h.first < m.id, false) AS held FROM mine m"
    " LEFT JOIN others h ON h.topic = m.topic AND h.key = m.key),"
    " gone AS (DELETE FROM outbox o USING marked k WHERE o.id = k.id AND NOT k.held"
    " RETURNING o.id, o.message_id, o.topic, o.key, o.headers, o.payload, o.created_at) "
    "SELECT g.id, g.message_id, g.topic, g.key, g.headers, g.payload, g.created_at,"
    " extract(epoch FROM clock_timestamp() - g.created_at) AS age, h.n AS held "
    "FROM (SELECT count(*) FILTER (WHERE held) AS n FROM marked) h LEFT JOIN gone g ON true"
)
#: Rows Kafka refused for good, already taken from the outbox by TAKE_BATCH, kept in outbox_parked with the reason.
PARK = (
    "INSERT INTO outbox_parked (id, message_id, topic, key, headers, payload, created_at, reason) "
    "SELECT i, m, t, k, h::jsonb, p, c, r FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bytea[],"
    " $5::text[], $6::bytea[], $7::timestamptz[], $8::text[]) AS u(i, m, t, k, h, p, c, r)"
)
MEASURE = (
    "SELECT count(*) AS n, extract(epoch FROM now() - min(created_at)) AS age,"
    " (SELECT count(*) FROM outbox_parked) AS parked FROM outbox"
)
#: How soon a relay looks again at rows it held back behind another relay's.
HELD_BACK_RETRY_S = 0.05


def channel_for(schema: str) -> str:
    return f"outbox_{schema}"


async def add(conn: asyncpg.Connection, topic: str, key: str | None, envelope: Envelope, payload: Payload) -> None:
    """Queue a message; it is published only if the caller's transaction commits."""
    await add_many(conn, [(topic, key, envelope, payload)])


async def emit(
    conn: asyncpg.Connection,
    topic: str,
    payload: Payload,
    *,
    key: str | None,
    producer: str,
    cause: Envelope | None = None,
    subject: str | None = None,
) -> Envelope:
    """Queue `payload` with a fresh envelope, continuing `cause`'s conversation when given."""
    envelope = envelope_for(payload, key=key, producer=producer, cause=cause, subject=subject)
    await add(conn, topic, key, envelope, payload)
    return envelope


def envelope_for(
    payload: Payload, *, key: str | None, producer: str, cause: Envelope | None = None, subject: str | None = None
) -> Envelope:
    """The envelope `emit` would give `payload` (for `add_many`, which queues many at once)."""
    subject = subject if subject is not None else key
    if cause is not None:
        # What `cause.caused` builds, every field given (pydantic's default factories cost more than the
        # values), and validated: in pydantic 2.14 validating these eight fields (~2 µs) is cheaper than
        # model_construct without validation (~5 µs), which round 3 used (bench/README.md, round 4).
        return Envelope(
            message_id=uuid4(),
            type=payload.TYPE,
            schema_version=payload.VERSION,
            occurred_at=datetime.now(UTC),
            correlation_id=cause.correlation_id,
            causation_id=cause.message_id,
            producer=producer,
            subject=subject if subject is not None else cause.subject,
        )
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
    await conn.execute(f"WITH {queue_cte(1)} {NOTIFY_QUEUED}", *queue_args(rows, bodies))


#: Ends a statement that has `queue_cte` among its CTEs: the relay's wake-up, sent at commit if rows were queued.
NOTIFY_QUEUED = "SELECT pg_notify('outbox_' || current_schema(), '') FROM (SELECT 1 FROM queued LIMIT 1) AS one"


def queue_cte(first: int) -> str:
    """The outbox insert as a CTE named `queued`, its five arrays in parameters $first..$first+4 (`queue_args`):
    for a repository statement that writes its own rows and queues messages in the same round trip (a single
    statement is atomic, so it needs no BEGIN and COMMIT of its own)."""
    a, b, c, d, e = (f"${first + i}" for i in range(5))
    return (
        "queued AS (INSERT INTO outbox (message_id, topic, key, headers, payload) "
        f"SELECT m, t, k, h::jsonb, p FROM unnest({a}::uuid[], {b}::text[], {c}::bytea[], {d}::text[], {e}::bytea[])"
        " WITH ORDINALITY AS u(m, t, k, h, p, n) ORDER BY n RETURNING 1)"
    )


def queue_args(rows: list[Queued], bodies: list[bytes | None] | None = None) -> list[list[Any]]:
    """The five arrays `queue_cte` inserts, checked: each envelope must name its payload's type and version."""
    if bodies is not None and len(bodies) != len(rows):
        raise ValueError(f"{len(bodies)} bodies for {len(rows)} rows")
    for _, _, envelope, payload in rows:
        if envelope.type != payload.TYPE or envelope.schema_version != payload.VERSION:
            raise ValueError(
                f"envelope {envelope.type}/v{envelope.schema_version} does not match {payload.TYPE}/v{payload.VERSION}"
            )
    return [
        [e.message_id for _, _, e, _ in rows],
        [t for t, _, _, _ in rows],
        [k.encode() if k is not None else None for _, k, _, _ in rows],
        [to_json(e.to_headers()).decode() for _, _, e, _ in rows],  # pydantic-core's JSON: ~2.5x json's speed
        [p.model_dump_json().encode() for _, _, _, p in rows]
        if bodies is None
        else [
            b if b is not None else p.model_dump_json().encode() for (_, _, _, p), b in zip(rows, bodies, strict=True)
        ],
    ]


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


def _refusal(exc: BaseException) -> str:
    return f"refused by Kafka: {type(exc).__name__}: {exc}"[:2000]


class OutboxRelay:
    """Publishes the outbox in id order, each key's rows in order however many relays run.

    Relays take rows FOR UPDATE SKIP LOCKED, so two never publish one row at once; a relay also holds back
    every row of a key whose earlier row someone else holds (another relay publishing it: SELECT_BATCH), so a
    key's later row never overtakes its earlier one (per-key order on the partition). A row Kafka refuses for
    good (REFUSED_RECORD: too large, invalid topic) is parked in `outbox_parked` with the reason, counted,
    and the rest goes on; a parked row is out of its key's order for good. Anything else is retried."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        broker: Any,
        schema: str,
        metrics: RuntimeMetrics,
        *,
        batch: int = 500,
        poll_s: float = 1.0,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.pool = pool
        self.broker = broker
        self.schema = schema
        self.metrics = metrics
        self.batch = batch
        self.poll_s = poll_s
        self.max_message_bytes = max_message_bytes
        self._wake = asyncio.Event()
        #: Rows the last flush held back behind a key's earlier row another relay holds.
        self.held_back = 0

    async def flush_once(self) -> int:
        """Publish up to one batch; returns how many rows went out (published or parked)."""
        async with self.pool.acquire() as conn, conn.transaction():
            taken = await conn.fetch(TAKE_BATCH, self.batch)
            selected = time.perf_counter()
            self.held_back = taken[0]["held"] if taken else 0
            ready = sorted((r for r in taken if r["id"] is not None), key=itemgetter("id"))
            if not ready:
                return 0
            parked: list[tuple[Any, str]] = []
            # A cheap upper bound first (JSON headers are longer than their bytes): only big rows are measured.
            sendable = []
            for row in ready:
                rough = len(row["payload"]) + len(row["headers"]) + len(row["key"] or b"") + 128
                if rough > self.max_message_bytes and (size := record_size(row)) > self.max_message_bytes:
                    parked.append(
                        (
                            row,
                            f"a record of {size} bytes is over the {self.max_message_bytes}-byte limit "
                            "(ATA_KAFKA_MAX_MESSAGE_BYTES)",
                        )
                    )
                else:
                    sendable.append(row)
            published = await self._publish(sendable, parked)
            if parked:
                rows = [r for r, _ in parked]
                await conn.execute(
                    PARK,
                    *(
                        [r[f] for r in rows]
                        for f in ("id", "message_id", "topic", "key", "headers", "payload", "created_at")
                    ),
                    [why for _, why in parked],
                )
        done = time.perf_counter()
        for row, why in parked:
            key = bytes(row["key"] or b"")[:100].decode("utf-8", "replace")
            log.error(
                "%s: outbox row %s (message id %s, carnet %s) to %s parked: %s",
                self.schema,
                row["id"],
                from_json(row["headers"]).get("ce_id"),
                key,
                row["topic"],
                why,
            )
        # One labelled child per topic, not one look-up per row (a batch is up to `batch` rows).
        for topic, n in Counter(row["topic"] for row in published).items():
            self.metrics.outbox_published(topic).inc(n)
        for topic, n in Counter(row["topic"] for row, _ in parked).items():
            self.metrics.outbox_parked(topic).inc(n)
        observe_many(self.metrics.outbox_delay, [float(row["age"]) + done - selected for row in published])
        return len(published) + len(parked)

    async def _publish(self, rows: list[Any], parked: list[tuple[Any, str]]) -> list[Any]:
        """Publish `rows`, each acknowledged (acks=all) before it counts; returns those published and adds
        those Kafka refused for good to `parked`. Any other failure is raised: the transaction rolls back,
        every row stays and the batch is tried again (what went out goes again: the inboxes absorb it)."""
        producer = kafka_producer(self.broker)
        if producer is None:
            return await self._publish_each(rows, parked)
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
                parked.append((carried[0], _refusal(result)))
            else:  # which record of the batch? each alone then, in row order
                alone += carried
        for row in sorted(alone, key=lambda r: r["id"]):
            [(future, _)] = await publish_batches(producer, [row])
            try:
                await future
                published.append(row)
            except REFUSED_RECORD as exc:
                parked.append((row, _refusal(exc)))
        return published

    async def _publish_each(self, rows: list[Any], parked: list[tuple[Any, str]]) -> list[Any]:
        """Through `broker.publish` (no aiokafka producer inside the broker): slower, the same records."""
        pending: list[tuple[Any, Any]] = []
        for row in rows:
            key = bytes(row["key"]) if row["key"] is not None else None
            try:
                result = await self.broker.publish(
                    bytes(row["payload"]), row["topic"], key=key, headers=from_json(row["headers"]), no_confirm=True
                )
            except REFUSED_RECORD as exc:
                parked.append((row, _refusal(exc)))
                continue
            pending.append((row, result))
        published = []
        for row, result in pending:
            try:
                if inspect.isawaitable(result):
                    await result
                published.append(row)
            except REFUSED_RECORD as exc:
                parked.append((row, _refusal(exc)))
        return published

    def background(self, metrics: LoopMetrics) -> BackgroundLoop:
        """The relay's loop: a batch on every NOTIFY or `poll_s`, at once again after a full one; broker or
        database away: the rows stay and the pass is retried (runtime/background.py). The backlog gauges are
        measured when /metrics is scraped (runtime/observability.py), not here."""

        async def relay() -> bool:
            if await self.flush_once() >= self.batch:
                return True
            if self.held_back:
                # Rows wait behind another relay's: it commits within its publish time, and no NOTIFY says so.
                await asyncio.sleep(HELD_BACK_RETRY_S)
                return True
            return False

        return BackgroundLoop(
            "outbox-relay",
            relay,
            period_s=self.poll_s,
            metrics=metrics,
            pool=lambda: self.pool,
            channel=channel_for(self.schema),
            wake=self._wake,
        )


async def measure(conn: asyncpg.Connection) -> tuple[int, float, int]:
    """(rows waiting, age of the oldest in seconds, rows parked), for the gauges /metrics reports."""
    row = await conn.fetchrow(MEASURE)
    return row["n"], float(row["age"] or 0.0), row["parked"]
