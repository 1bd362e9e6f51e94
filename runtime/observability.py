"""Gauges measured when Prometheus scrapes: the outbox backlog from PostgreSQL, consumer lag and
dead letters from Kafka.

Why at scrape time rather than in the relay or the consumers: those stop measuring exactly when
things go wrong (a relay that cannot reach the broker never reaches its measuring step, a stuck
consumer never runs its handler), while the scrape still comes. Each source is bounded by a
timeout so a slow database or broker makes the scrape miss a value, never hang; a failure is
counted in `ata_observability_failures_total{source}` and logged, and the last value stays.

Consumer lag is the service's own group: end offset minus committed offset per partition, summed
per topic; a partition the group never committed counts from its beginning offset, as
`auto_offset_reset="earliest"` reads it. Dead letters are what the `.dlq` topics of the topics the
service consumes hold (end minus beginning offset), so the figure survives restarts and is the same
whichever instance is scraped. Both work on Apache Kafka and on the embedded tansu broker
(measured: tansu answers ListOffsets and OffsetFetch with explicit partitions correctly; OffsetFetch
for all partitions of a group breaks the connection there, so partitions are always named).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Counter, Gauge

from contracts.topics import DLQ_SUFFIX, all_topic_partitions, nga_of_request_topic, nga_topic_partitions
from runtime import outbox
from runtime.metrics import RuntimeMetrics

log = logging.getLogger(__name__)

#: Per source; Prometheus' default scrape timeout is 10 s, the local test scrapes every second.
REFRESH_TIMEOUT_S = 0.8
#: Two scrapers (Prometheus in HA pairs) within this interval share one measurement.
MIN_INTERVAL_S = 0.5
SOURCES = ("outbox", "kafka")


class Observability:
    def __init__(
        self,
        service: str,
        registry: CollectorRegistry,
        metrics: RuntimeMetrics,
        *,
        bootstrap_servers: str,
        pool: Callable[[], asyncpg.Pool | None],
        topics: Callable[[], Iterable[str]],
        group_id: str | None = None,
        kafka_options: dict[str, Any] | None = None,
    ) -> None:
        self.service = service
        self.group_id = group_id or service
        self.metrics = metrics
        self.bootstrap_servers = bootstrap_servers
        self.kafka_options = kafka_options or {}
        self._pool = pool
        self._topics = topics
        self._partitions = all_topic_partitions()
        self._offsets: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._lock = asyncio.Lock()
        self._last = float("-inf")
        self.lag = Gauge(
            "ata_consumer_lag_messages",
            "Messages not yet consumed by the group: end minus committed offset, summed over partitions.",
            ["group", "topic"],
            registry=registry,
        )
        self.dead_letters = Gauge(
            "ata_dead_letter_messages",
            "Messages held by the dead-letter topic of a consumed topic (end minus beginning offset).",
            ["topic"],
            registry=registry,
        )
        self.failures = Counter(
            "ata_observability_failures_total",
            "Scrape-time measurements that failed or timed out, by source.",
            ["source"],
            registry=registry,
        ).labels
        for source in SOURCES:  # zero from the start, so rate() sees the first failure
            self.failures(source)
        self.seconds = Gauge(
            "ata_observability_refresh_seconds",
            "Duration of the last scrape-time measurement, by source.",
            ["source"],
            registry=registry,
        ).labels

    # --- life cycle: Kafka clients are opened by Service.start, never under a scrape's timeout ------

    async def start(self) -> None:
        servers = self.bootstrap_servers.split(",")
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=servers,
            group_id=None,
            client_id=f"{self.service}-offsets",
            enable_auto_commit=False,
            **self.kafka_options,
        )
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=servers, client_id=f"{self.service}-offsets", **self.kafka_options
        )
        await self._offsets.start()
        await self._admin.start()

    async def stop(self) -> None:
        offsets, admin, self._offsets, self._admin = self._offsets, self._admin, None, None
        if offsets is not None:
            await offsets.stop()
        if admin is not None:
            await admin.close()

    # --- measuring ------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Called by `/metrics` before the registry is rendered."""
        async with self._lock:
            if time.monotonic() - self._last < MIN_INTERVAL_S:
                return
            sources: list[tuple[str, Callable[[], Awaitable[None]]]] = []
            if self._pool() is not None:
                sources.append(("outbox", self.measure_outbox))
            if self._offsets is not None and self._admin is not None:
                sources.append(("kafka", self.measure_kafka))
            await asyncio.gather(*(self._timed(name, fn) for name, fn in sources))
            self._last = time.monotonic()

    async def _timed(self, source: str, fn: Callable[[], Awaitable[None]]) -> None:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(fn(), REFRESH_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer whatever the database or broker does
            self.failures(source).inc()
            log.warning("%s: measuring %s for /metrics failed: %r", self.service, source, exc)
        finally:
            self.seconds(source).set(time.perf_counter() - started)

    async def measure_outbox(self) -> None:
        pool = self._pool()
        assert pool is not None
        async with pool.acquire() as conn:
            backlog, age, parked = await outbox.measure(conn)
        self.metrics.outbox_backlog.set(backlog)
        self.metrics.outbox_oldest_age.set(age)
        self.metrics.outbox_parked_rows.set(parked)

    def _partition_count(self, topic: str) -> int:
        """From the catalogue; a per-NGA request topic (and its dead letters) is named by the registry, not listed."""
        if topic not in self._partitions:
            nga = nga_of_request_topic(topic.removesuffix(DLQ_SUFFIX))
            if nga is not None:
                self._partitions |= nga_topic_partitions([nga])
        return self._partitions.get(topic, 1)

    async def measure_kafka(self) -> None:
        assert self._offsets is not None and self._admin is not None
        topics = sorted(set(self._topics()))
        consumed = [TopicPartition(t, p) for t in topics for p in range(self._partition_count(t))]
        dlqs = [TopicPartition(t + DLQ_SUFFIX, p) for t in topics for p in range(self._partition_count(t + DLQ_SUFFIX))]
        if not consumed:
            return
        everything = consumed + dlqs
        end = await self._offsets.end_offsets(everything)
        beginning = await self._offsets.beginning_offsets(everything)
        committed = await self._admin.list_consumer_group_offsets(self.group_id, partitions=consumed)
        for topic in topics:
            self.lag.labels(self.group_id, topic).set(
                sum(_lag(end[tp], beginning[tp], committed.get(tp)) for tp in consumed if tp.topic == topic)
            )
            self.dead_letters.labels(topic).set(
                sum(end[tp] - beginning[tp] for tp in dlqs if tp.topic == topic + ".dlq")
            )


def _lag(end: int, beginning: int, committed: object) -> int:
    offset = getattr(committed, "offset", -1)
    position = offset if offset >= 0 else beginning  # never committed: read from the earliest, as the consumer does
    return max(end - position, 0)
