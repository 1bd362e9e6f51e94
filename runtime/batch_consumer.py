"""A batch of records, of any of a service's topics, handled in ONE database transaction.

The common case costs one inbox statement for the whole batch and no savepoint: every message id is claimed
at once (runtime.inbox.claim_many) and the handlers run straight in the batch's transaction. Only if a
handler raises (not TRANSIENT) does the batch roll back and run again the careful way, each message in its
own savepoint (its claim and effects commit with the batch or roll back alone), retried in place up to
MAX_ATTEMPTS and then dead-lettered while the rest commits. Per message the careful way costs three
statements more (SAVEPOINT, the claim, RELEASE), which a crossing paid at every hop. What handlers leave for
after the commit (runtime.commit_hooks) runs once the batch committed, without what rolled back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from contracts.envelope import is_deprecated
from runtime import commit_hooks, inbox
from runtime.consumer import (
    MAX_ATTEMPTS,
    TRANSIENT,
    Consumer,
    ContractViolation,
    Inbound,
    OnViolation,
    Record,
    WithBulk,
    parse,
)
from runtime.metrics import RuntimeMetrics, observe_many

log = logging.getLogger(__name__)


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

    def __init__(
        self,
        service: str,
        consumers: dict[str, Consumer],
        pool_getter: Callable[[], asyncpg.Pool],
        metrics: RuntimeMetrics,
        *,
        retry_delay_s: float = 0.05,
    ) -> None:
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
            parsed.append(_Parsed(consumer, r, Inbound(envelope, payload, r.topic, key)))
        for topic, seconds in lags.items():  # one labelled child and one increment per bucket, per topic
            observe_many(self.metrics.consume_lag(topic), seconds)
        for topic, n in deprecated.items():
            self.metrics.deprecated_envelopes(topic).inc(n)
        outcomes: list[tuple[_Parsed, str, float]] = []
        settled = len(dead)  # dead letters decided before any transaction (envelope and contract checks)
        if parsed or violated:
            if parsed:
                self.metrics.batch_size.observe(len(parsed))
            try:
                with commit_hooks.collect() as after:
                    async with self.pool_getter().acquire() as conn:
                        fell_back, failed = await self._straight(conn, parsed, violated, outcomes, dead)
                        if fell_back:
                            outcomes.clear()
                            del dead[settled:]
                            commit_hooks.discard()  # the straight run's transaction rolled back
                            async with conn.transaction():
                                alone = parsed
                                if any(isinstance(p.consumer.handler, WithBulk) for p in parsed):
                                    alone = await self._apply_bulk(conn, parsed, outcomes)
                                for p in alone:
                                    outcomes.append(await self._apply(conn, p, dead, tried=1 if p is failed else 0))
                                await self._violations(conn, violated, dead)
                # Committed (a rollback raised above): what the handlers left for after the commit, before the
                # dead letters and the offsets.
                commit_hooks.run(after)
            except TRANSIENT as exc:
                if not parsed:
                    log.warning(
                        "%s: transient failure answering %d contract violations from %s: %s; will retry",
                        self.service,
                        len(violated),
                        violated[0][1].where,
                        exc,
                    )
                    await asyncio.sleep(1.0)
                    raise
                first = parsed[0].inbound.envelope
                log.warning(
                    "%s: transient failure on a batch of %d from %s (first %s %s, carnet %s): %s; will retry",
                    self.service,
                    len(parsed),
                    parsed[0].record.where,
                    first.type,
                    first.message_id,
                    first.subject,
                    exc,
                )
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

    async def _straight(
        self,
        conn: asyncpg.Connection,
        parsed: list[_Parsed],
        violated: list[tuple[Consumer, Record, ContractViolation, OnViolation]],
        outcomes: list[tuple[_Parsed, str, float]],
        dead: list[tuple[Consumer, Record, str, str]],
    ) -> tuple[bool, _Parsed | None]:
        """The batch in one transaction without savepoints: one inbox claim for every message id, then each
        topic's bulk handler (WithBulk, two messages or more) or each message's handler. Answers (False, None)
        when it committed; (True, the message whose own handler raised, None for a bulk handler) when it rolled
        back and the careful way must run; that message has had its first attempt.
        A repeated id within the batch is a duplicate of its first occurrence, as one by one."""
        current: _Parsed | None = None
        bulk = False
        try:
            async with conn.transaction():
                fresh, repeated = await _claim_many(conn, self.service, parsed)
                groups, alone = _by_bulk_topic(fresh)
                for group in groups.values():
                    started = time.perf_counter()
                    handler = group[0].consumer.handler
                    assert isinstance(handler, WithBulk)
                    current, bulk = group[0], True
                    await handler.bulk(conn, [p.inbound for p in group])
                    share = (time.perf_counter() - started) / len(group)
                    outcomes.extend((p, "applied", share) for p in group)
                for p in alone:
                    current, bulk = p, False
                    started = time.perf_counter()
                    await p.consumer.handler(conn, p.inbound)
                    outcomes.append((p, "applied", time.perf_counter() - started))
                outcomes.extend((p, "duplicate", 0.0) for p in repeated)
                await self._violations(conn, violated, dead)
        except TRANSIENT:
            raise
        except Exception as exc:
            if current is None:
                raise
            envelope = current.inbound.envelope
            log.warning(
                "%s: a handler failed on %s %s (carnet %s) from %s (%s: %s); the batch of %d runs again "
                "message by message",
                self.service,
                envelope.type,
                envelope.message_id,
                envelope.subject,
                current.record.where,
                type(exc).__name__,
                exc,
                len(parsed),
            )
            self.metrics.handled(current.record.topic, "batch", "fallback").inc()
            return True, None if bulk else current
        return False, None

    async def _violations(
        self,
        conn: asyncpg.Connection,
        violated: list[tuple[Consumer, Record, ContractViolation, OnViolation]],
        dead: list[tuple[Consumer, Record, str, str]],
    ) -> None:
        for consumer, r, exc, hook in violated:  # after the valid ones: record order per request id
            dead.append((consumer, r, exc.kind, f"{exc} [{await self._on_violation(conn, r, exc, hook)}]"))

    async def _apply_bulk(
        self, conn: asyncpg.Connection, parsed: list[_Parsed], outcomes: list[tuple[_Parsed, str, float]]
    ) -> list[_Parsed]:
        """Each bulk topic's messages in one savepoint; returns the messages left for the per-message path.

        One inbox claim for all the message ids (a repeated id within the batch is a duplicate of its
        first occurrence), then the topic's bulk handler on the claimed ones. If the handler raises
        (not TRANSIENT), the savepoint rolls back claims and effects alike and every message of the
        group goes through `_apply`, exactly as without a bulk handler."""
        groups, alone = _by_bulk_topic(parsed)
        for topic, group in groups.items():
            started = time.perf_counter()
            handler = group[0].consumer.handler
            assert isinstance(handler, WithBulk)
            since = commit_hooks.mark()
            try:
                async with conn.transaction():  # a savepoint: the whole group, or nothing of it
                    fresh, repeated = await _claim_many(conn, self.service, group)
                    if fresh:
                        await handler.bulk(conn, [p.inbound for p in fresh])
            except TRANSIENT:
                raise
            except Exception as exc:
                commit_hooks.discard(since)
                log.warning(
                    "%s: bulk handling of %d messages from %s failed (%s: %s); handling them one by one",
                    self.service,
                    len(group),
                    topic,
                    type(exc).__name__,
                    exc,
                )
                self.metrics.handled(topic, "bulk", "fallback").inc()
                alone.extend(group)
                continue
            share = (time.perf_counter() - started) / len(group)  # each message's part of the group's time
            outcomes.extend((p, "applied", share) for p in fresh)
            outcomes.extend((p, "duplicate", share) for p in repeated)
        return alone

    async def _on_violation(
        self, conn: asyncpg.Connection, r: Record, exc: ContractViolation, hook: OnViolation
    ) -> str:
        """The hook's note for the dead letter; a hook that fails (not TRANSIENT) leaves only its own savepoint."""
        since = commit_hooks.mark()
        try:
            async with conn.transaction():
                return await hook(conn, r, exc)
        except TRANSIENT:
            raise
        except Exception as failure:
            commit_hooks.discard(since)
            log.exception(
                "%s: contract-violation hook failed on %s (message id %s)",
                self.service,
                r.where,
                r.headers.get("ce_id"),
            )
            return f"no answer: the hook failed ({type(failure).__name__})"

    async def _apply(
        self, conn: asyncpg.Connection, p: _Parsed, dead: list[tuple[Consumer, Record, str, str]], tried: int = 0
    ) -> tuple[_Parsed, str, float]:
        """One message in its own savepoint; `tried`: attempts it already had (the straight run's)."""
        envelope = p.inbound.envelope
        for attempt in range(tried + 1, MAX_ATTEMPTS + 1):
            started, since = time.perf_counter(), commit_hooks.mark()
            try:
                async with conn.transaction():  # a savepoint: this message's effects alone
                    if not await inbox.claim(conn, self.service, envelope.message_id):
                        return p, "duplicate", time.perf_counter() - started
                    await p.consumer.handler(conn, p.inbound)
                return p, "applied", time.perf_counter() - started
            except TRANSIENT:
                raise
            except Exception as exc:
                commit_hooks.discard(since)
                log.exception(
                    "%s: handler failed on %s %s (carnet %s) from %s, attempt %d",
                    self.service,
                    envelope.type,
                    envelope.message_id,
                    envelope.subject,
                    p.record.where,
                    attempt,
                )
                if attempt == MAX_ATTEMPTS:
                    dead.append((p.consumer, p.record, "handler_failed", f"{type(exc).__name__}: {exc}"))
                    return p, "dead_lettered", time.perf_counter() - started
                self.metrics.handled(p.record.topic, envelope.type, "retry").inc()
                await asyncio.sleep(self.retry_delay_s * attempt)
        raise AssertionError("unreachable")


async def _claim_many(
    conn: asyncpg.Connection, consumer: str, group: list[_Parsed]
) -> tuple[list[_Parsed], list[_Parsed]]:
    """(new, already applied) in one round trip: the inbox claim (runtime.inbox.claim_many) for many message ids."""
    new = await inbox.claim_many(conn, consumer, [p.inbound.envelope.message_id for p in group])
    fresh, repeated = [], []
    for p in group:
        mid = p.inbound.envelope.message_id
        if mid in new:
            fresh.append(p)
            new.discard(mid)  # a second record with the same id is a duplicate of the first
        else:
            repeated.append(p)
    return fresh, repeated


def _by_bulk_topic(parsed: list[_Parsed]) -> tuple[dict[str, list[_Parsed]], list[_Parsed]]:
    """(each bulk topic's messages, two or more; the messages for their own handlers)."""
    groups: dict[str, list[_Parsed]] = {}
    alone: list[_Parsed] = []
    for p in parsed:
        if isinstance(p.consumer.handler, WithBulk):
            groups.setdefault(p.record.topic, []).append(p)
        else:
            alone.append(p)
    for topic in [t for t, group in groups.items() if len(group) == 1]:
        alone.extend(groups.pop(topic))
    return groups, alone
