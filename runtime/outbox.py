"""Transactional outbox: `add` inside the caller's transaction; a relay publishes and deletes.

A row is normally published straight after its transaction commits, by the relay of the process that wrote
it, from memory (runtime/outbox_direct.py). The relay's take is the way for everything else (rows of bulk
statements, rows behind an earlier row of their key, rows whose writer crashed): it locks a batch with FOR
UPDATE SKIP LOCKED, so several relays (several instances of a service) never publish the same row twice at
once; a crash between publish and delete republishes the batch, which consumers' inboxes absorb
(at-least-once delivery, exactly-once effect).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from uuid import uuid4

import asyncpg
from pydantic_core import from_json, to_json

from contracts.envelope import Envelope
from contracts.messages import Payload
from contracts.topics import audit_topics
from runtime.background import BackgroundLoop, LoopMetrics
from runtime.metrics import RuntimeMetrics, observe_many
from runtime.outbox_direct import DIRECT_GRACE_S, DIRECT_MAX_BYTES, HINTS, parse_notice, row_of

# Re-exported (noqa): repositories build statements that queue rows; tests reach the producer and the batches.
from runtime.outbox_publish import kafka_producer, publish_batches, publish_rows, record_size  # noqa: F401
from runtime.outbox_sql import MEASURE, NOTIFY_QUEUED, PARK, TAKE_BATCH, queue_cte  # noqa: F401
from runtime.settings import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

#: How soon a relay looks again at rows it held back behind another relay's.
HELD_BACK_RETRY_S = 0.05
#: With nothing of its own to delete, a relay that publishes direct takes every this many periods: a take then
#: only finds rows whose writer died, or rows queued without a NOTIFY (an operator's INSERT).
IDLE_TAKE_PERIODS = 5


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


def queue_args(rows: list[Queued], bodies: list[bytes | None] | None = None) -> list[list[Any]]:
    """The six arrays `queue_cte` inserts, checked: each envelope must name its payload's type and version. When
    this process's relay publishes direct (runtime/outbox_direct.py), the rows are kept in memory for it and asked
    to be direct."""
    if bodies is not None and len(bodies) != len(rows):
        raise ValueError(f"{len(bodies)} bodies for {len(rows)} rows")
    for _, _, envelope, payload in rows:
        if envelope.type != payload.TYPE or envelope.schema_version != payload.VERSION:
            raise ValueError(
                f"envelope {envelope.type}/v{envelope.schema_version} does not match {payload.TYPE}/v{payload.VERSION}"
            )
    ids = [e.message_id for _, _, e, _ in rows]
    topics = [t for t, _, _, _ in rows]
    keys = [k.encode() if k is not None else None for _, k, _, _ in rows]
    headers = [to_json(e.to_headers()).decode() for _, _, e, _ in rows]  # pydantic-core's JSON: ~2.5x json's speed
    payloads = (
        [p.model_dump_json().encode() for _, _, _, p in rows]
        if bodies is None
        else [
            b if b is not None else p.model_dump_json().encode() for (_, _, _, p), b in zip(rows, bodies, strict=True)
        ]
    )
    direct = [HINTS.wanted(len(rows)) and len(p) <= DIRECT_MAX_BYTES for p in payloads]
    for row, kept in zip(zip(ids, topics, keys, headers, payloads, strict=True), direct, strict=True):
        if kept:
            HINTS.add(*row)
    return [ids, topics, keys, headers, payloads, direct]


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
        #: How long a take leaves a direct row to its writer: none until this relay publishes direct itself.
        self.grace_s = 0.0
        self._direct: list[dict[str, Any]] = []  # committed direct rows of this process, to publish
        self._deferred: list[dict[str, Any]] = []  # the same, of audit topics: published every `poll_s`
        self._audit = audit_topics()
        self._published: list[int] = []  # ids published direct, deleted by the next take
        self._take_due = True
        self._last_take = float("-inf")
        self._publishing_direct = False

    async def flush_once(self) -> int:
        """Publish up to one batch; returns how many rows went out (published or parked). Deletes the rows
        published direct since the last take, in the same transaction."""
        deleting, self._published = self._published, []
        try:
            return await self._take(deleting)
        except BaseException:
            self._published = deleting + self._published
            raise

    async def _take(self, deleting: list[int]) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            taken = await conn.fetch(TAKE_BATCH, self.batch, deleting, self.grace_s)
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
            published = await publish_rows(self.broker, sendable, parked)
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

    def noticed(self, payload: str) -> None:
        """A NOTIFY on the relay's channel (runtime/outbox_sql.NOTIFY_QUEUED): this process's direct rows in it
        committed and are queued for publication; the rest are other processes' (no hint here: passed over)."""
        take, direct = parse_notice(payload)
        self._take_due = self._take_due or take
        for row_id, message_id in direct:
            hint = HINTS.take(message_id)
            if hint is not None:
                (self._deferred if hint.topic in self._audit else self._direct).append(row_of(row_id, message_id, hint))

    async def publish_direct(self, rows: list[dict[str, Any]]) -> int:
        """Publish committed direct rows, in commit order; they are deleted by the next take. A row that does not
        go out (broker away, refused) stays in the outbox, and the take publishes or parks it after the grace."""
        sendable = [r for r in rows if len(r["payload"]) + len(r["headers"]) + 128 <= self.max_message_bytes]
        refused: list[tuple[Any, str]] = []
        try:
            published = await publish_rows(self.broker, sendable, refused)
        except Exception as exc:
            published = []
            log.warning(
                "%s: %d outbox rows (first: message id %s, carnet %s) not published straight after commit, "
                "left to the relay's take in %.0f s: %s: %s",
                self.schema,
                len(rows),
                rows[0]["message_id"],
                bytes(rows[0]["key"] or b"")[:100].decode("utf-8", "replace"),
                self.grace_s,
                type(exc).__name__,
                exc,
            )
        self._published += [r["id"] for r in published]
        for topic, n in Counter(r["topic"] for r in published).items():
            self.metrics.outbox_published(topic).inc(n)
        self.metrics.outbox_direct("published").inc(len(published))
        if len(published) < len(rows):
            self.metrics.outbox_direct("left").inc(len(rows) - len(published))
        now = time.monotonic()
        observe_many(self.metrics.outbox_delay, [now - r["queued_at"] for r in published])
        return len(published)

    def background(self, metrics: LoopMetrics) -> BackgroundLoop:
        """The relay's loop: this process's direct rows as their NOTIFY arrives; a take when a NOTIFY names rows
        that are not direct, at once again after a full one, every `poll_s` while rows it published direct wait
        for deletion (at once when `batch` of them wait), else every IDLE_TAKE_PERIODS periods. Broker or database
        away: the rows stay and the pass is retried (runtime/background.py). The backlog gauges are measured when
        /metrics is scraped (runtime/observability.py), not here."""

        async def relay() -> bool:
            if not self._publishing_direct:  # from the first pass: nothing is queued direct without a relay running
                self._publishing_direct = True
                HINTS.active += 1
            if self._direct:
                rows, self._direct = self._direct, []
                await self.publish_direct(rows)
            now = time.monotonic()
            if self._deferred and (
                self._take_due  # before a take: a later row of the same key may be in it
                or now - self._deferred[0]["queued_at"] >= self.poll_s
                or len(self._deferred) >= self.batch
            ):
                rows, self._deferred = self._deferred, []
                await self.publish_direct(rows)
            if not (
                self._take_due
                or self.held_back
                or now - self._last_take >= (self.poll_s if self._published else self.poll_s * IDLE_TAKE_PERIODS)
                or len(self._published) >= self.batch
            ):
                return bool(self._direct)
            self._take_due, self._last_take = False, now
            try:
                taken = await self.flush_once()
            except BaseException:
                self._take_due = True
                raise
            if taken >= self.batch:
                self._take_due = True
                return True
            if self.held_back:
                # Rows wait behind another relay's: it commits within its publish time, and no NOTIFY says so.
                await asyncio.sleep(HELD_BACK_RETRY_S)
                return True
            return bool(self._direct)

        async def stopped() -> None:
            if self._publishing_direct:
                self._publishing_direct = False
                HINTS.active -= 1

        self.grace_s = DIRECT_GRACE_S
        return BackgroundLoop(
            "outbox-relay",
            relay,
            period_s=self.poll_s,
            metrics=metrics,
            pool=lambda: self.pool,
            channel=channel_for(self.schema),
            wake=self._wake,
            on_notify=self.noticed,
            on_exit=stopped,
        )


async def measure(conn: asyncpg.Connection) -> tuple[int, float, int]:
    """(rows waiting, age of the oldest in seconds, rows parked), for the gauges /metrics reports."""
    row = await conn.fetchrow(MEASURE)
    return row["n"], float(row["age"] or 0.0), row["parked"]
