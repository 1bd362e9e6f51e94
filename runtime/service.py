"""The host every service runs in: pool, migrations, topics, broker, outbox relay, HTTP.

A service module builds a `Service` in a factory (`app.build(settings)`), registers its
handlers and routes on it, and `run()` serves it; nothing connects at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaRouter
from prometheus_client import CollectorRegistry

from contracts.topics import Topic, all_topic_partitions
from runtime import http_errors, kafka_security
from runtime.background import BackgroundLoop, LoopMetrics, Pass
from runtime.batch_consumer import BatchConsumer
from runtime.broker import CONSUMER_OPTIONS, GROUP_OPTIONS, build_broker, ensure_topics, fetch_options
from runtime.broker_kind import BrokerKind
from runtime.clock import Clock, utc_now
from runtime.consume_loop import ConsumeLoop
from runtime.consumer import Consumer, Handler, Record
from runtime.db import create_pool
from runtime.http import ops_router
from runtime.http_limits import RequestLimits, refusal_counter
from runtime.io_counters import DatabaseCounters, count_kafka_requests
from runtime.metrics import RuntimeMetrics
from runtime.migrations import migrate, service_directories
from runtime.observability import Observability
from runtime.outbox import OutboxRelay
from runtime.settings import Settings

log = logging.getLogger(__name__)


async def _raw_records(message: Any) -> Any:
    # The records themselves: parsing is ours (runtime.consumer), so a malformed body reaches the dead-letter
    # logic instead of failing inside FastStream's JSON decoder, and the handler needs no `Context` parameter
    # (fast_depends resolves one through a thread-pool hop).
    return message.raw_message


async def _tolerant_parser(message: tuple[Any, ...], original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's batch parser, for batches it cannot parse too: it decodes every header value as strict
    UTF-8, so one header with no value or with bytes that are not text stopped the whole subscriber and the
    batch came back for ever. Such values are made text here (no value: empty; bad bytes: replaced) and the
    consumer then judges the record like any other (a broken envelope is dead-lettered). The original
    parser runs first: a batch of valid records costs nothing more."""
    try:
        return await original(message)
    except (AttributeError, UnicodeDecodeError):
        return await original(
            tuple(
                dataclasses.replace(
                    m, headers=[(k, b"" if v is None else v.decode("utf-8", "replace").encode()) for k, v in m.headers]
                )
                for m in message
            )
        )


#: The test broker's subscriber: batches, one transaction each (runtime.batch_consumer.BatchConsumer). A started
#: service consumes through runtime/consume_loop.py.
BATCH_OPTIONS: dict[str, Any] = {"batch": True, "max_records": 250, "batch_timeout_ms": 10}


#: Collect the youngest generation every 50,000 net allocations instead of 700. A batch of messages makes
#: dozens of short-lived containers per message (pydantic models, dicts, lists), so the default ran a
#: collection every few messages: measured 7-15 % less CPU per carnet in the issuer and ~15 % in the core
#: and gateway under bulk issuance (bench/README.md, round 3). Uncollected cycles stay a few MB.
GC_THRESHOLDS = (50_000, 20, 10)


def settle_heap() -> int:
    """Collect once, then move every object alive after startup out of the collector's sight (gc.freeze),
    and space out young collections (GC_THRESHOLDS).

    A started service holds ~110,000 tracked objects that live as long as the process (modules, FastAPI's
    routes and pydantic schemas, the broker): a full collection walks them all, 100-190 ms measured in the
    gateway at startup, and one can fall on any request once the caches have grown. Frozen, they are never
    walked again. Only run() calls this: a test process starts many services, and frozen garbage is never freed.
    Answers how many objects were frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return gc.get_freeze_count()


class Service:
    def __init__(
        self,
        name: str,
        settings: Settings,
        migrations: Path,
        *,
        clock: Clock = utc_now,
        title: str | None = None,
        schema: str | None = None,
    ) -> None:
        self.name = name
        self.schema = schema or name
        self.settings = settings
        self.migrations = migrations
        self.clock = clock
        self.registry = CollectorRegistry()
        self.metrics = RuntimeMetrics(self.registry, name)
        #: Statements, transactions and Kafka requests, counted for the benchmark's per-crossing figures.
        self.db_counters = DatabaseCounters(self.registry)
        count_kafka_requests(self.registry)
        #: TLS/SASL for every Kafka client of the service (the broker, the topic admin, the lag probe).
        self.kafka_options = kafka_security.client_options(settings)
        #: Apache Kafka or the embedded broker, and what each needs (runtime/broker_kind.py).
        self.broker_kind = BrokerKind.of(settings)
        self.broker = build_broker(
            settings.kafka_bootstrap_servers,
            name,
            self.registry,
            security=kafka_security.security(settings),
            max_message_bytes=settings.kafka_max_message_bytes,
            idempotent=self.broker_kind.idempotent,
        )
        self._pool: asyncpg.Pool | None = None
        self._consumers: dict[str, Consumer] = {}
        self._subscriber: Any = None  # the test broker's batch subscriber consume() registers (on _router)
        self._router: KafkaRouter | None = None
        self._batch: BatchConsumer | None = None
        #: The consumer loop of a started service (runtime/consume_loop.py).
        self.consume_loop: ConsumeLoop | None = None
        # Outbox backlog, consumer lag and dead letters, measured when /metrics is scraped.
        self.observability = Observability(
            name,
            self.registry,
            self.metrics,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            pool=lambda: self._pool,
            topics=lambda: self._consumers,
            kafka_options=self.kafka_options,
        )
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        #: Every background loop (runtime/background.py): the relay's, then those the service registers.
        self.loop_metrics = LoopMetrics(self.registry)
        self.loops: list[BackgroundLoop] = []
        self.relay: OutboxRelay | None = None
        self._relay_loop: BackgroundLoop | None = None
        self.ready = False
        self._settle_heap = False  # run() sets it: see settle_heap
        #: Service-specific objects (handlers, caches) that tests and routes reach.
        self.state: dict[str, Any] = {}
        self.http = FastAPI(title=title or name, version="1", lifespan=self._lifespan)
        http_errors.install(self.http)
        # Header and body limits on every request (runtime/http_limits.py); routes declare their own body limit.
        self.http.add_middleware(RequestLimits, refusals=refusal_counter(self.registry))
        self.http.include_router(ops_router(self))

    # --- registration ---------------------------------------------------------------

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._pool

    def consume(self, handlers: dict[Topic, Handler]) -> None:
        """One consumer-group subscriber for all of the service's topics (each join costs seconds)."""
        for topic, handler in handlers.items():
            self._consumers[topic.name] = Consumer(
                service=self.name,
                topic=topic,
                handler=handler,
                pool_getter=lambda: self.pool,
                broker=self.broker,
                metrics=self.metrics,
                max_message_bytes=self.settings.kafka_max_message_bytes,
            )
        self._batch = batch = BatchConsumer(self.name, self._consumers, lambda: self.pool, self.metrics)
        # For TestKafkaBroker (service tests): the same BatchConsumer behind a FastStream subscriber, on a router
        # that start() takes off the broker before a real broker starts (runtime/consume_loop.py says why).
        self._router = KafkaRouter()
        self._subscriber = self._router.subscriber(
            *[t.name for t in handlers],
            group_id=self.name,
            decoder=_raw_records,
            parser=_tolerant_parser,
            **BATCH_OPTIONS,
            **CONSUMER_OPTIONS,
            **fetch_options(self.settings.kafka_max_message_bytes),
        )

        @self._subscriber
        async def on_batch(records: Any) -> None:
            await batch([Record.of(raw) for raw in records])

        self.broker.include_router(self._router)

    def include(self, router: APIRouter) -> None:
        self.http.include_router(router)

    def on_start(self, fn: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        self._on_start.append(fn)
        return fn

    def loop(self, name: str, pass_: Pass, *, period_s: float, **options: Any) -> BackgroundLoop:
        """Run `pass_` every `period_s` (or on a NOTIFY on `channel=`) from start to stop, through outages."""
        return self.add_loop(
            BackgroundLoop(name, pass_, period_s=period_s, metrics=self.loop_metrics, pool=lambda: self.pool, **options)
        )

    def add_loop(self, loop: BackgroundLoop) -> BackgroundLoop:
        self.loops.append(loop)
        return loop

    def topic_options(self) -> dict[str, Any]:
        """ensure_topics' options: the broker kind's replication and configs, the service's TLS/SASL."""
        kind = self.broker_kind
        return {
            "replication_factor": kind.replication_factor,
            "configs": kind.topic_configs(self.settings),
            **self.kafka_options,
        }

    def _build_consume_loop(self, batch: BatchConsumer) -> ConsumeLoop:
        """Longer fetch waits while the loop has nothing to read on the embedded broker (runtime/broker_kind.py)."""
        s = self.settings
        busy_ms, idle_ms = self.broker_kind.fetch_waits(s)
        return ConsumeLoop.build(
            self.name,
            list(self._consumers),
            batch,
            bootstrap_servers=s.kafka_bootstrap_servers,
            options=self.consumer_options(),
            busy_ms=busy_ms,
            idle_ms=idle_ms,
            idle_after=s.kafka_fetch_idle_after,
            switches=self.metrics.fetch_wait_switches,
        )

    def consumer_options(self) -> dict[str, Any]:
        """The consumer loop's aiokafka options: group settings, fetch sizes for the record limit, TLS/SASL."""
        return {**GROUP_OPTIONS, **fetch_options(self.settings.kafka_max_message_bytes), **self.kafka_options}

    # --- life cycle -------------------------------------------------------------------

    async def open_database(self) -> None:
        """Pool and migrations only: what service tests need without a broker."""
        s = self.settings
        self._pool = await create_pool(
            s.database_url, self.schema, min_size=s.db_pool_min, max_size=s.db_pool_max, init=self.db_counters.attach
        )
        async with self._pool.acquire() as conn:
            await migrate(conn, self.schema, service_directories(self.migrations))

    async def start(self) -> None:
        await self.open_database()
        if self.settings.kafka_create_topics:
            await ensure_topics(self.settings.kafka_bootstrap_servers, all_topic_partitions(), **self.topic_options())
        for hook in self._on_start:
            await hook()
        if self._router is not None and self._router in self.broker.routers:
            self.broker.routers.remove(self._router)  # our loop consumes, not FastStream's (see above)
        await self.broker.start()
        if self._batch is not None:
            self.consume_loop = self._build_consume_loop(self._batch)
            self._tasks.append(await self.consume_loop.start())
        await self.observability.start()
        self.relay = OutboxRelay(
            self.pool,
            self.broker,
            self.schema,
            self.metrics,
            batch=self.settings.outbox_batch,
            poll_s=self.settings.outbox_poll_s,
            max_message_bytes=self.settings.kafka_max_message_bytes,
        )
        self._relay_loop = self.relay.background(self.loop_metrics)
        for loop in self._every_loop():
            self._tasks.append(loop.start(f"{self.name}:{loop.name}"))
        if self._settle_heap:
            log.info("%s: %d objects frozen after startup", self.name, settle_heap())
        self.ready = True
        log.info("%s ready", self.name)

    async def stop(self) -> None:
        self.ready = False
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.observability.stop()
        if self.consume_loop is not None:
            await self.consume_loop.stop()
            self.consume_loop = None
        await self.broker.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def background_alive(self) -> bool:
        """No background task has ended (they run until stop(), so an ended one crashed) and no loop is stuck."""
        return all(not t.done() for t in self._tasks) and all(loop.alive for loop in self._every_loop())

    def loop_states(self) -> dict[str, str]:
        """Each loop's state: ok, failing, stuck or dead (runtime/background.py)."""
        return {loop.name: loop.state() for loop in self._every_loop()}

    def _every_loop(self) -> list[BackgroundLoop]:
        return [*([self._relay_loop] if self._relay_loop is not None else []), *self.loops]

    async def health_checks(self) -> dict[str, bool]:
        checks = {"started": self.ready}
        try:
            async with self.pool.acquire(timeout=2) as conn:
                checks["database"] = await conn.fetchval("SELECT 1") == 1
        except Exception:
            checks["database"] = False
        try:
            checks["broker"] = bool(await self.broker.ping(timeout=2))
        except Exception:
            checks["broker"] = False
        # Readiness also fails while a loop fails (no successful pass for a while); liveness does not.
        checks["background_tasks"] = self.background_alive() and all(
            loop.state() == "ok" for loop in self._every_loop()
        )
        return checks

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    # --- running ------------------------------------------------------------------------

    def run(self) -> None:
        import uvicorn

        from runtime.http_server import BoundedHttpToolsProtocol

        self._settle_heap = True
        logging.basicConfig(
            level=self.settings.log_level.upper(),
            format=f"%(asctime)s {self.name} %(levelname)s %(name)s: %(message)s",
        )
        # httpx logs every request at INFO: a line per webhook delivery, none of them news.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))
        config = uvicorn.Config(
            self.http,
            host=self.settings.http_host,
            port=self.settings.port_for(self.name),
            log_level=self.settings.log_level.lower(),
            loop="uvloop",
            http=BoundedHttpToolsProtocol,
            lifespan="on",
            access_log=False,
        )
        uvicorn.Server(config).run()
