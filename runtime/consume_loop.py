"""A service's consumer loop on aiokafka's public API: fetch, one BatchConsumer call, commit what was read.

Why not FastStream's subscriber loop: per batch it runs its middleware chain, its parser and decoder, a
context scope and fast_depends' argument resolution, and resolving a `Context` parameter (the message,
to reach the raw records) goes through `anyio.to_thread.run_sync`: a thread-pool hop per batch
(fast_depends/core/model.py, `run_async` on the field's synchronous `use`). Its acknowledgement commits
with `consumer.commit()` and no offsets, i.e. every partition the group assigned the consumer (up to 25
here), not the ones that had records. bench/consume_loop.py measures both loops on the same records.

FastStream keeps what it is good at: the producer (dead letters, the outbox relay's connection), the
AsyncAPI documents (runtime/asyncapi.py) and TestKafkaBroker, which drives the same BatchConsumer through
the subscriber `Service.consume` registers on a router (tests/service). In a started service that router
is taken off the broker before it starts, so FastStream never starts a consumer of its own.

The cycle:
- `getmany` hands over whatever the Fetcher has buffered, up to MAX_RECORDS: while a batch is handled the
  Fetcher already fetches the next, so batches grow with the load and no timer holds a lone record back.
- one BatchConsumer call (one transaction) for the whole batch, of every topic;
- then one offset commit carrying only the partitions that had records, each at its last offset + 1
  (manual commit after the transaction: at-least-once, the inbox absorbs a redelivery);
- a batch that raised (database or broker away) is rewound: each of its partitions seeks back to its first
  record, so nothing is skipped and nothing is committed past it.

Idle backoff (embedded broker only, `idle_ms > busy_ms`): tansu answers a fetch only when its wait runs
out, so a consumer with nothing to read fetches every `busy_ms` (~1 ms of broker CPU each). After
`idle_after` fetch waits without a record the loop pauses its partitions (public `pause`: the Fetcher
sends nothing for paused partitions), rests `idle_ms - busy_ms`, resumes and lets one fetch go out (about
one fetch per `idle_ms`, as a fetch wait of `idle_ms` would give); the first record puts it back to busy.
A lone record after an idle spell waits up to `idle_ms`; a stream never does. On Apache Kafka, which answers
as soon as data arrives, the waits are equal and this stays off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError

from runtime.consumer import Record

log = logging.getLogger(__name__)

#: Most records one cycle handles (one transaction, one commit).
MAX_RECORDS = 500
#: How long one busy `getmany` may block: it returns as soon as records are buffered, so this only sets
#: how often a quiet loop looks at whether it has been quiet long enough to rest.
POLL_BLOCK_MS = 1000
#: Pause after a batch that raised, before it is read again (BatchConsumer already waits on a transient failure).
RETRY_PAUSE_S = 1.0

BatchHandler = Callable[[list[Record]], Awaitable[None]]


class ConsumeLoop:
    """One consumer group member reading the service's topics into `handle` (a BatchConsumer)."""

    def __init__(
        self,
        name: str,
        topics: list[str],
        handle: BatchHandler,
        *,
        consumer: AIOKafkaConsumer,
        busy_ms: int,
        idle_ms: int,
        idle_after: int,
        switches: Any = None,
    ) -> None:
        self.name = name
        self.topics = topics
        self.handle = handle
        self.consumer = consumer
        self.busy_ms = busy_ms
        self.idle_ms = idle_ms
        self.idle_after = idle_after
        self._switches = switches
        self.idle = False
        #: Batches handled and offset commits sent (a commit per batch, never one without records).
        self.batches = 0
        self.commits = 0

    @property
    def backoff(self) -> bool:
        return self.idle_ms > self.busy_ms and self.idle_after > 0

    @classmethod
    def build(
        cls,
        name: str,
        topics: list[str],
        handle: BatchHandler,
        *,
        bootstrap_servers: str,
        options: dict[str, Any],
        busy_ms: int,
        idle_ms: int,
        idle_after: int,
        switches: Any = None,
    ) -> ConsumeLoop:
        """`options`: aiokafka consumer options (runtime.broker.loop_consumer_options, TLS/SASL included)."""
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap_servers.split(","),
            group_id=name,
            client_id=name,
            enable_auto_commit=False,
            fetch_max_wait_ms=busy_ms,
            **options,
        )
        return cls(
            name,
            topics,
            handle,
            consumer=consumer,
            busy_ms=busy_ms,
            idle_ms=idle_ms,
            idle_after=idle_after,
            switches=switches,
        )

    async def start(self) -> asyncio.Task[None]:
        await self.consumer.start()
        return asyncio.create_task(self.run(), name=f"{self.name}:consume")

    async def stop(self) -> None:
        await self.consumer.stop()

    async def run(self) -> None:
        try:
            await self._run()
        except Exception:
            # The task ends and liveness reports it (Service.background_alive); say why here.
            log.exception("%s: the consumer loop ended on an unexpected error", self.name)
            raise

    async def _run(self) -> None:
        quiet_since = time.monotonic()
        while True:
            try:
                batches = await self.consumer.getmany(timeout_ms=self._poll_ms(), max_records=MAX_RECORDS)
            except ConsumerStoppedError:
                return
            except KafkaError as exc:
                log.warning("%s: fetching failed (%s: %s); retrying", self.name, type(exc).__name__, exc)
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            if not batches:
                if self.backoff and time.monotonic() - quiet_since >= self.idle_after * self.busy_ms / 1000:
                    self._set(idle=True)
                    await self._rest()
                continue
            quiet_since = time.monotonic()
            if self.idle:
                self._set(idle=False)
            await self.cycle(batches)

    async def cycle(self, batches: dict[TopicPartition, list[Any]]) -> bool:
        """Handle one fetched batch and commit its partitions; False (rewound) if handling raised."""
        records = [Record.of(raw) for raw in chain.from_iterable(batches.values())]
        try:
            await self.handle(records)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "%s: a batch of %d records from %s failed (%s: %s); reading it again",
                self.name,
                len(records),
                records[0].where,
                type(exc).__name__,
                exc,
            )
            self._rewind(batches)
            await asyncio.sleep(RETRY_PAUSE_S)
            return False
        self.batches += 1
        offsets = {tp: raws[-1].offset + 1 for tp, raws in batches.items() if raws}
        try:
            await self.consumer.commit(offsets)
            self.commits += 1
        except KafkaError as exc:
            # The group moved on (rebalance) or the broker is away: the next owner reads these records again
            # and the inbox passes over them.
            log.warning(
                "%s: committing %d partitions failed (%s: %s); the records may be read again",
                self.name,
                len(offsets),
                type(exc).__name__,
                exc,
            )
        return True

    def _poll_ms(self) -> int:
        # Resting: look for half a fetch wait after resuming, then pause again. The one fetch sent on resuming
        # is still out then: what it brings is buffered and handed over on the next look (the Fetcher sends
        # nothing more for paused partitions). Waiting out a whole fetch would let the Fetcher send a second one.
        return max(1, self.busy_ms // 2) if self.idle else POLL_BLOCK_MS

    async def _rest(self) -> None:
        assigned = list(self.consumer.assignment())
        if not assigned:
            return
        self.consumer.pause(*assigned)
        try:
            await asyncio.sleep((self.idle_ms - self.busy_ms) / 1000)
        finally:
            still = self.consumer.assignment()
            self.consumer.resume(*[tp for tp in assigned if tp in still])

    def _rewind(self, batches: dict[TopicPartition, list[Any]]) -> None:
        for tp, raws in batches.items():
            if raws:
                try:
                    self.consumer.seek(tp, raws[0].offset)
                except (IllegalStateError, AssertionError, KafkaError):
                    pass  # no longer ours (rebalance): the next owner starts from the committed offset

    def _set(self, *, idle: bool) -> None:
        self.idle = idle
        if self._switches is not None:
            self._switches.labels("idle" if idle else "busy").inc()
