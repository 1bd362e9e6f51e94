"""The consuming side every service shares: envelope and contract checks, dead letters, inbox.

A handler receives an `Inbound` inside an open transaction in which the message id has already
been claimed in the inbox; whatever it writes (state and outbox rows) commits together with
that claim. A message that cannot be parsed or breaks the contract goes to the topic's
dead-letter topic with the reason and the partition moves on. A transient failure (database or
broker away) rewinds the partition to retry; a handler that keeps failing on one message sends
that message to the dead-letter topic after `MAX_ATTEMPTS`, so it never blocks the partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg
from pydantic import ValidationError

from contracts.envelope import Envelope, EnvelopeError
from contracts.messages import MESSAGE_TYPES, Payload
from contracts.topics import Topic
from runtime import inbox
from runtime.metrics import RuntimeMetrics

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
MAX_ATTEMPTS = 5
#: The largest payload any contract allows is a sealed carnet document (900,000 characters of
#: ciphertext); anything bigger is refused before parsing, so no message can exhaust memory.
MAX_MESSAGE_BYTES = 1_048_576
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


def parse(topic: Topic, headers: dict[str, Any], body: bytes) -> tuple[Envelope, Payload]:
    if len(body) > MAX_MESSAGE_BYTES:
        raise ContractViolation("too_large", f"payload of {len(body)} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
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


class Consumer:
    """Wraps one service's handler for one topic."""

    def __init__(self, *, service: str, topic: Topic, handler: Handler, pool_getter: Callable[[], asyncpg.Pool],
                 broker: Any, metrics: RuntimeMetrics) -> None:
        self.service = service
        self.topic = topic
        self.handler = handler
        self.pool_getter = pool_getter
        self.broker = broker
        self.metrics = metrics
        self._failures: dict[str, int] = {}

    async def __call__(self, body: bytes, headers: dict[str, Any], key: bytes | None, where: str) -> None:
        started = time.perf_counter()
        try:
            envelope, payload = parse(self.topic, headers, body)
        except ContractViolation as exc:
            await self.dead_letter(body, headers, key, exc.kind, str(exc), where)
            return
        message_key = key.decode("utf-8", "replace") if key else None
        try:
            outcome = await self._apply(Inbound(envelope, payload, self.topic.name, message_key))
        except TRANSIENT as exc:
            log.warning("%s: transient failure on %s %s (carnet %s): %s; will retry",
                        self.service, envelope.type, envelope.message_id, envelope.subject, exc)
            self.metrics.handled(self.topic.name, envelope.type, "retry").inc()
            await asyncio.sleep(1.0)
            raise
        except Exception as exc:
            attempts = self._failures.get(str(envelope.message_id), 0) + 1
            self._failures[str(envelope.message_id)] = attempts
            log.exception("%s: handler failed on %s %s (carnet %s), attempt %d",
                          self.service, envelope.type, envelope.message_id, envelope.subject, attempts)
            if attempts < MAX_ATTEMPTS:
                self.metrics.handled(self.topic.name, envelope.type, "retry").inc()
                await asyncio.sleep(0.2 * attempts)
                raise
            self._failures.pop(str(envelope.message_id), None)
            await self.dead_letter(body, headers, key, "handler_failed", f"{type(exc).__name__}: {exc}", where)
            return
        self._failures.pop(str(envelope.message_id), None)
        self.metrics.handled(self.topic.name, envelope.type, outcome).inc()
        self.metrics.handle_seconds(self.topic.name).observe(time.perf_counter() - started)

    async def _apply(self, inbound: Inbound[Any]) -> str:
        async with self.pool_getter().acquire() as conn, conn.transaction():
            if not await inbox.claim(conn, self.service, inbound.envelope.message_id):
                return "duplicate"
            await self.handler(conn, inbound)
        return "applied"

    async def dead_letter(self, body: bytes, headers: dict[str, Any], key: bytes | None, kind: str, reason: str, where: str) -> None:
        log.error("%s: dead-lettering message from %s (%s, message id %s, carnet %s): %s",
                  self.service, where, kind, headers.get("ce_id"), headers.get("ce_subject"), reason)
        out = {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in headers.items()}
        out.update({
            "dlq_reason": reason[:2000],
            "dlq_kind": kind,
            "dlq_source": where,
            "dlq_consumer": self.service,
        })
        await self.broker.publish(body, self.topic.dead_letter, key=key, headers=out)
        self.metrics.dead_letters(self.topic.name, kind).inc()
