"""The consuming side every service shares: envelope and contract checks, dead letters, inbox.

A handler receives an `Inbound` inside an open transaction in which the message id has already
been claimed in the inbox; whatever it writes (state and outbox rows) commits together with
that claim. A message that cannot be parsed or breaks the contract goes to the topic's
dead-letter topic with the reason and the partition moves on; one too large to be carried whole goes
as a reference to it (runtime.dead_letters). A transient failure (database or
broker away) rewinds the partition to retry; a handler that keeps failing on one message sends
that message to the dead-letter topic after `MAX_ATTEMPTS`, so it never blocks the partition.
Messages arrive in batches and share one transaction (runtime/batch_consumer.py).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import ValidationError

from contracts.catalogue import MESSAGE_TYPES
from contracts.envelope import Envelope, EnvelopeError
from contracts.messages import Payload
from contracts.topics import Topic
from runtime import dead_letters
from runtime.metrics import RuntimeMetrics
from runtime.settings import MAX_MESSAGE_BYTES

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
MAX_ATTEMPTS = 5
#: MAX_MESSAGE_BYTES (runtime.settings): the largest payload any contract allows is a sealed carnet document
#: (900,000 characters of ciphertext); anything bigger is refused before parsing, so no message can exhaust memory.
#: Failures of the surroundings, not of the message: retried without limit, never dead-lettered.
#: A PostgreSQL restart shows as OperatorInterventionError (admin shutdown, cannot connect now)
#: and PostgresConnectionError (connection gone) on connections that were open, and InternalClientError on
#: a connection that broke in the middle of an operation.
TRANSIENT = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
)


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


def parse(
    topic: Topic, headers: dict[str, Any], body: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES
) -> tuple[Envelope, Payload]:
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
        raise ContractViolation(
            kind, f"payload does not match {envelope.type} v{envelope.schema_version}: {detail}"
        ) from exc
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
        headers = {
            k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else "" if v is None else v)
            for k, v in raw.headers
        }
        repeated: tuple[str, ...] = ()
        if len(headers) != len(raw.headers):
            seen = Counter(k for k, _ in raw.headers)
            repeated = tuple(sorted(k for k, n in seen.items() if n > 1 and k.startswith("ce_")))
        return cls(
            raw.topic,
            raw.value or b"",
            headers,
            raw.key or None,
            f"{raw.topic}/{raw.partition}@{raw.offset}",
            raw.timestamp,
            raw.partition,
            raw.offset,
            repeated,
        )


class Consumer:
    """One service's handler for one topic, and that topic's dead-letter topic."""

    def __init__(
        self,
        *,
        service: str,
        topic: Topic,
        handler: Handler,
        pool_getter: Callable[[], asyncpg.Pool],
        broker: Any,
        metrics: RuntimeMetrics,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.service = service
        self.topic = topic
        self.handler = handler
        self.pool_getter = pool_getter
        self.broker = broker
        self.metrics = metrics
        self.max_message_bytes = max_message_bytes

    async def __call__(self, body: bytes, headers: dict[str, Any], key: bytes | None, where: str) -> None:
        """One message on its own (a batch of one)."""
        from runtime.batch_consumer import BatchConsumer

        await BatchConsumer(self.service, {self.topic.name: self}, self.pool_getter, self.metrics)(
            [Record(self.topic.name, body, headers, key, where)]
        )

    async def dead_letter(self, record: Record, kind: str, reason: str) -> None:
        """To the topic's dead-letter topic, whole or as a reference (runtime.dead_letters)."""
        origin = dead_letters.Origin(record.topic, record.partition, record.offset, record.where)
        sent = await dead_letters.dead_letter(
            self.broker,
            self.topic.dead_letter,
            origin,
            record.body,
            record.headers,
            record.key,
            kind=kind,
            reason=reason,
            consumer=self.service,
            limit=self.max_message_bytes,
        )
        self.metrics.dead_letters(self.topic.name, kind).inc()
        if sent != "whole":
            self.metrics.dead_letter_references(self.topic.name, sent).inc()
