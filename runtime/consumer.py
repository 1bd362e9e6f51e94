"""The consuming side every service shares: envelope and contract checks, dead letters, inbox.

A handler receives an `Inbound` inside an open transaction in which the message id has already
been claimed in the inbox; whatever it writes (state and outbox rows) commits together with
that claim. A message that cannot be parsed or breaks the contract goes to the topic's
dead-letter topic with the reason and the partition moves on; one too large to be carried whole goes
as a reference to it (runtime.dead_letters). A transient failure (database or
broker away) rewinds the partition to retry; a handler that keeps failing on one message sends
that message to the dead-letter topic after `MAX_ATTEMPTS`, so it never blocks the partition.
Messages arrive in batches and share one transaction, each in its own savepoint (BatchConsumer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import ValidationError

from contracts.envelope import Envelope, EnvelopeError, is_deprecated
from contracts.catalogue import MESSAGE_TYPES
from contracts.messages import Payload
from contracts.topics import Topic
from runtime import dead_letters, inbox
from runtime.metrics import RuntimeMetrics, observe_many
from runtime.settings import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
MAX_ATTEMPTS = 5
#: MAX_MESSAGE_BYTES (runtime.settings): the largest payload any contract allows is a sealed carnet document
#: (900,000 characters of ciphertext); anything bigger is refused before parsing, so no message can exhaust memory.
#: Failures of the surroundings, not of the message: retried without limit, never dead-lettered.
#: A PostgreSQL restart shows as OperatorInterventionError (admin shutdown, cannot connect now)
#: and PostgresConnectionError (connection gone) on connections that were open.
TRANSIENT = (OSError, TimeoutError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError,
             asyncpg.exceptions.OperatorInterventionError, asyncpg.exceptions.InsufficientResourcesError,
             asyncpg.SerializationError, asyncpg.DeadlockDetectedError)


class ContractViolation(ValueError):
    """The message is not one this topic accepts; `kind` is a short label for metrics."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass(frozen=True)
class Inbound(Generic[P]):
    envelope: Envelope
    payload: P
    topic: str
    key: str | None


Handler = Callable[[asyncpg.Connection, Inbound[Any]], Awaitable[None]]
#: Handles every message of a list inside the caller's savepoint, or raises (then nothing of it stays).
BulkHandler = Callable[[asyncpg.Connection, list[Inbound[Any]]], Awaitable[None]]
#: Acts on a record that breaks the contract, inside the batch's transaction (its own savepoint), before
#: the record is dead-lettered; answers what the dead letter adds to its reason (what it did, or why
#: nothing could be done). The issuer answers the NGA's request id with it (one answer per request id).
OnViolation = Callable[[asyncpg.Connection, "Record", ContractViolation], Awaitable[str]]


@dataclass(frozen=True)
class WithBulk:
    """A Handler that also handles many messages at once (`bulk`), with a constant number of round trips.

    Register it in place of a plain handler (`service.consume({topic: WithBulk(one, many)})`): the
    BatchConsumer hands the topic's messages of a batch to `bulk` together, and falls back to `one`
    per message (a savepoint each, retries, dead letters) when `bulk` raises, so a bad message is
    still dead-lettered alone and nothing is lost. Everywhere else it behaves as `one`."""

    one: Handler
    bulk: BulkHandler
    on_violation: OnViolation | None = None

    async def __call__(self, conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        await self.one(conn, inbound)


@dataclass(frozen=True)
class Only:
    """A Handler that acts on some of its topic's message types only (`types`: their TYPE names).

    The others are checked against the contract like every message (a bad one is still
    dead-lettered) and then passed over without a transaction or an inbox row: they change nothing,
    so there is nothing to deduplicate. The gateway reads the ledger's topic for two of its types;
    every crossing's TransactionRecorded cost it a transaction."""

    types: frozenset[str]
    handler: Handler

    @classmethod
    def of(cls, handler: Handler, *payloads: type[Payload]) -> Only:
        return cls(frozenset(p.TYPE for p in payloads), handler)

    async def __call__(self, conn: asyncpg.Connection, inbound: Inbound[Any]) -> None:
        if inbound.envelope.type in self.types:
            await self.handler(conn, inbound)


def parse(topic: Topic, headers: dict[str, Any], body: bytes, *,
          max_bytes: int = MAX_MESSAGE_BYTES) -> tuple[Envelope, Payload]:
    if len(body) > max_bytes:
        raise ContractViolation("too_large", f"payload of {len(body)} bytes is over the {max_bytes}-byte limit")
    try:
        envelope = Envelope.from_headers(headers)
    except EnvelopeError as exc:
        raise ContractViolation("envelope", str(exc)) from exc
    model = MESSAGE_TYPES.get((envelope.type, envelope.schema_version))
    if model is None:
        raise ContractViolation("unknown_type", f"unknown message type {envelope.type} v{envelope.schema_version}")
    if model not in topic.messages:
        raise ContractViolation("wrong_topic", f"{envelope.type} is not accepted on {topic.name}")
    try:
        payload = model.model_validate_json(body)
    except ValidationError as exc:
        kind = "malformed_json" if any(e["type"] == "json_invalid" for e in exc.errors()) else "schema"
        detail = "; ".join(f"{'.'.join(map(str, e['loc'])) or '<body>'}: {e['msg']}" for e in exc.errors()[:5])
        raise ContractViolation(kind, f"payload does not match {envelope.type} v{envelope.schema_version}: {detail}") from exc
    return envelope, payload


@dataclass(frozen=True)
class Record:
    """One Kafka record as the consumer needs it (from an aiokafka ConsumerRecord)."""

    topic: str
    body: bytes
    headers: dict[str, Any]
    key: bytes | None
    where: str
    timestamp_ms: int | None = None
    partition: int | None = None
    offset: int | None = None
    #: Envelope headers the record carries more than once (which one counts is anyone's guess: dead-lettered).
    repeated: tuple[str, ...] = ()

    @classmethod
    def of(cls, raw: Any) -> Record:
        # A header with no value is empty text and bytes that are not UTF-8 are replaced: the envelope check
        # then judges the record (dead letter) instead of the loop failing on it for ever.
        headers = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else "" if v is None else v)
                   for k, v in raw.headers}
        repeated: tuple[str, ...] = ()
        if len(headers) != len(raw.headers):
            seen = Counter(k for k, _ in raw.headers)
            repeated = tuple(sorted(k for k, n in seen.items() if n > 1 and k.startswith("ce_")))
        return cls(raw.topic, raw.value or b"", headers, raw.key or None, f"{raw.topic}/{raw.partition}@{raw.offset}",
                   raw.timestamp, raw.partition, raw.offset, repeated)


class Consumer:
    """One service's handler for one topic, and that topic's dead-letter topic."""

    def __init__(self, *, service: str, topic: Topic, handler: Handler, pool_getter: Callable[[], asyncpg.Pool],
                 broker: Any, metrics: RuntimeMetrics, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.service = service
        self.topic = topic
        self.handler = handler
        self.pool_getter = pool_getter
        self.broker = broker
        self.metrics = metrics
        self.max_message_bytes = max_message_bytes

    async def __call__(self, body: bytes, headers: dict[str, Any], key: bytes | None, where: str) -> None:
        """One message on its own (a batch of one)."""
        await BatchConsumer(self.service, {self.topic.name: self}, self.pool_getter, self.metrics)(
            [Record(self.topic.name, body, headers, key, where)])

    async def dead_letter(self, record: Record, kind: str, reason: str) -> None:
        """To the topic's dead-letter topic, whole or as a reference (runtime.dead_letters)."""
        origin = dead_letters.Origin(record.topic, record.partition, record.offset, record.where)
        sent = await dead_letters.dead_letter(self.broker, self.topic.dead_letter, origin, record.body, record.headers,
                                              record.key, kind=kind, reason=reason, consumer=self.service,
                                              limit=self.max_message_bytes)
        self.metrics.dead_letters(self.topic.name, kind).inc()
        if sent != "whole":
            self.metrics.dead_letter_references(self.topic.name, sent).inc()


@dataclass
class _Parsed:
    consumer: Consumer
    record: Record
    inbound: Inbound[Any]


class BatchConsumer:
    """Handles a batch of records, of any of the service's topics, in ONE database transaction.

    Each message runs in its own savepoint: its inbox claim and its effects commit with the batch
    or, if its handler fails, roll back alone; it is retried in place (a fresh savepoint) up to
    MAX_ATTEMPTS and then dead-lettered, while the rest of the batch commits. A transient failure
    (TRANSIENT) rolls the whole batch back and raises, so the caller does not commit the offsets and
    the partitions rewind; the inbox makes the redelivery harmless. Dead letters are published after
    the commit and before the caller commits the offsets (at-least-once into the dead-letter topic).
    One transaction per batch instead of per message is what lifts a stage from ~100 to thousands
    of messages a second (bench/README.md).
    """

    def __init__(self, service: str, consumers: dict[str, Consumer], pool_getter: Callable[[], asyncpg.Pool],
                 metrics: RuntimeMetrics, *, retry_delay_s: float = 0.05) -> None:
        self.service = service
        self.consumers = consumers
        self.pool_getter = pool_getter
        self.metrics = metrics
        self.retry_delay_s = retry_delay_s

    async def __call__(self, records: list[Record]) -> None:
        parsed: list[_Parsed] = []
        dead: list[tuple[Consumer, Record, str, str]] = []
        now_ms = time.time() * 1000
        lags: dict[str, list[float]] = {}
        passed_over: Counter[tuple[str, str]] = Counter()
        violated: list[tuple[Consumer, Record, ContractViolation, OnViolation]] = []
        deprecated: Counter[str] = Counter()
        for r in records:
            if r.timestamp_ms and r.timestamp_ms > 0:  # -1: the broker gave none
                lags.setdefault(r.topic, []).append(max(0.0, (now_ms - r.timestamp_ms) / 1000))
            consumer = self.consumers[r.topic]
            if r.repeated:
                dead.append((consumer, r, "envelope", f"envelope headers repeated: {', '.join(r.repeated)[:200]}"))
                continue
            try:
                envelope, payload = parse(consumer.topic, r.headers, r.body, max_bytes=consumer.max_message_bytes)
            except ContractViolation as exc:
                hook = getattr(consumer.handler, "on_violation", None)
                if hook is not None:
                    violated.append((consumer, r, exc, hook))
                else:
                    dead.append((consumer, r, exc.kind, str(exc)))
                continue
            if is_deprecated(r.headers):
                deprecated[r.topic] += 1
            key = r.key.decode("utf-8", "replace") if r.key else None
            if isinstance(consumer.handler, Only) and envelope.type not in consumer.handler.types:
                passed_over[(r.topic, envelope.type)] += 1
                continue
            parsed.append(_Parsed(consumer, r, Inbound(envelope, payload, r.topic, key)))
        for topic, seconds in lags.items():  # one labelled child and one increment per bucket, per topic
            observe_many(self.metrics.consume_lag(topic), seconds)
        for labels, n in passed_over.items():
            self.metrics.handled(*labels, "ignored").inc(n)
        for topic, n in deprecated.items():
            self.metrics.deprecated_envelopes(topic).inc(n)
        outcomes: list[tuple[_Parsed, str, float]] = []
        if parsed or violated:
            if parsed:
                self.metrics.batch_size.observe(len(parsed))
            try:
                async with self.pool_getter().acquire() as conn, conn.transaction():
                    alone = parsed
                    if any(isinstance(p.consumer.handler, WithBulk) for p in parsed):
                        alone = await self._apply_bulk(conn, parsed, outcomes)
                    for p in alone:
                        outcomes.append(await self._apply(conn, p, dead))
                    for consumer, r, exc, hook in violated:  # after the valid ones: record order per request id
                        dead.append((consumer, r, exc.kind, f"{exc} [{await self._on_violation(conn, r, exc, hook)}]"))
            except TRANSIENT as exc:
                if not parsed:
                    log.warning("%s: transient failure answering %d contract violations from %s: %s; will retry",
                                self.service, len(violated), violated[0][1].where, exc)
                    await asyncio.sleep(1.0)
                    raise
                first = parsed[0].inbound.envelope
                log.warning("%s: transient failure on a batch of %d from %s (first %s %s, carnet %s): %s; will retry",
                            self.service, len(parsed), parsed[0].record.where, first.type, first.message_id,
                            first.subject, exc)
                for p in parsed:
                    self.metrics.handled(p.record.topic, p.inbound.envelope.type, "retry").inc()
                await asyncio.sleep(1.0)
                raise
        for consumer, r, kind, reason in dead:
            await consumer.dead_letter(r, kind, reason)
        # Counted per (topic, type, outcome) and observed per topic: one labelled child each, not per message.
        counts = Counter((p.record.topic, p.inbound.envelope.type, outcome) for p, outcome, _ in outcomes)
        for labels, n in counts.items():
            self.metrics.handled(*labels).inc(n)
        handled: dict[str, list[float]] = {}
        for p, outcome, seconds in outcomes:
            if outcome != "dead_lettered":
                handled.setdefault(p.record.topic, []).append(seconds)
        for topic, times in handled.items():
            observe_many(self.metrics.handle_seconds(topic), times)

    async def _apply_bulk(self, conn: asyncpg.Connection, parsed: list[_Parsed],
                          outcomes: list[tuple[_Parsed, str, float]]) -> list[_Parsed]:
        """Each bulk topic's messages in one savepoint; returns the messages left for the per-message path.

        One inbox claim for all the message ids (a repeated id within the batch is a duplicate of its
        first occurrence), then the topic's bulk handler on the claimed ones. If the handler raises
        (not TRANSIENT), the savepoint rolls back claims and effects alike and every message of the
        group goes through `_apply`, exactly as without a bulk handler."""
        groups: dict[str, list[_Parsed]] = {}
        alone: list[_Parsed] = []
        for p in parsed:
            if isinstance(p.consumer.handler, WithBulk):
                groups.setdefault(p.record.topic, []).append(p)
            else:
                alone.append(p)
        for topic, group in groups.items():
            if len(group) == 1:
                alone.extend(group)
                continue
            started = time.perf_counter()
            handler = group[0].consumer.handler
            assert isinstance(handler, WithBulk)
            try:
                async with conn.transaction():  # a savepoint: the whole group, or nothing of it
                    fresh, repeated = await _claim_many(conn, self.service, group)
                    if fresh:
                        await handler.bulk(conn, [p.inbound for p in fresh])
            except TRANSIENT:
                raise
            except Exception as exc:
                log.warning("%s: bulk handling of %d messages from %s failed (%s: %s); handling them one by one",
                            self.service, len(group), topic, type(exc).__name__, exc)
                self.metrics.handled(topic, "bulk", "fallback").inc()
                alone.extend(group)
                continue
            share = (time.perf_counter() - started) / len(group)  # each message's part of the group's time
            outcomes.extend((p, "applied", share) for p in fresh)
            outcomes.extend((p, "duplicate", share) for p in repeated)
        return alone

    async def _on_violation(self, conn: asyncpg.Connection, r: Record, exc: ContractViolation, hook: OnViolation) -> str:
        """The hook's note for the dead letter; a hook that fails (not TRANSIENT) leaves only its own savepoint."""
        try:
            async with conn.transaction():
                return await hook(conn, r, exc)
        except TRANSIENT:
            raise
        except Exception as failure:
            log.exception("%s: contract-violation hook failed on %s (message id %s)", self.service, r.where,
                          r.headers.get("ce_id"))
            return f"no answer: the hook failed ({type(failure).__name__})"

    async def _apply(self, conn: asyncpg.Connection, p: _Parsed,
                     dead: list[tuple[Consumer, Record, str, str]]) -> tuple[_Parsed, str, float]:
        envelope = p.inbound.envelope
        for attempt in range(1, MAX_ATTEMPTS + 1):
            started = time.perf_counter()
            try:
                async with conn.transaction():  # a savepoint: this message's effects alone
                    if not await inbox.claim(conn, self.service, envelope.message_id):
                        return p, "duplicate", time.perf_counter() - started
                    await p.consumer.handler(conn, p.inbound)
                return p, "applied", time.perf_counter() - started
            except TRANSIENT:
                raise
            except Exception as exc:
                log.exception("%s: handler failed on %s %s (carnet %s) from %s, attempt %d",
                              self.service, envelope.type, envelope.message_id, envelope.subject, p.record.where, attempt)
                if attempt == MAX_ATTEMPTS:
                    dead.append((p.consumer, p.record, "handler_failed", f"{type(exc).__name__}: {exc}"))
                    return p, "dead_lettered", time.perf_counter() - started
                self.metrics.handled(p.record.topic, envelope.type, "retry").inc()
                await asyncio.sleep(self.retry_delay_s * attempt)
        raise AssertionError("unreachable")


async def _claim_many(conn: asyncpg.Connection, consumer: str, group: list[_Parsed]) -> tuple[list[_Parsed], list[_Parsed]]:
    """(new, already applied) in one round trip: the inbox claim (runtime.inbox.claim) for many message ids."""
    ids = list(dict.fromkeys(p.inbound.envelope.message_id for p in group))
    rows = await conn.fetch("INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::uuid[]) "
                            "ON CONFLICT DO NOTHING RETURNING message_id", consumer, ids)
    new = {r["message_id"] for r in rows}
    fresh, repeated = [], []
    for p in group:
        mid = p.inbound.envelope.message_id
        if mid in new:
            fresh.append(p)
            new.discard(mid)  # a second record with the same id is a duplicate of the first
        else:
            repeated.append(p)
    return fresh, repeated
