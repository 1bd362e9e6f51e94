"""The whole local stack: Kafka, PostgreSQL, the topics and the five services, in order.

`KAFKA_BOOTSTRAP_SERVERS` and `DATABASE_URL` (or their `ATA_` forms, as runtime.settings reads
them) point the stack at servers that already run; otherwise it starts the embedded PostgreSQL and
the broker ATA_BROKER names (deploy/local/brokers.py: the embedded one by default, or Apache Kafka).
Everything it starts is stopped in reverse (services, then Kafka, then PostgreSQL), whether the
stack ends normally, fails half-way up or is cancelled.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

from deploy.local.apache_kafka import ApacheKafka
from deploy.local.brokers import chosen, make_broker
from deploy.local.dev_identity import DevIdentityServer
from deploy.local.identity import ensure_p256_key, ensure_wallet_issuer, vapid_key_path
from deploy.local.kafka import DEFAULT_PORT as KAFKA_PORT, EmbeddedKafka
from deploy.local.postgres import DEFAULT_PORT as POSTGRES_PORT, EmbeddedPostgres
from deploy.local.processes import port_is_free, port_owner
from deploy.local.registry import write_registry
from deploy.local.services import SERVICES, ServiceProcess, ServiceStartError
from deploy.local.wiring import service_env, wire_wallet
from tokens import trustlist

DEFAULT_ROOT = Path("var/local")
DATABASE = "ata"


def _from_env(*names: str) -> str | None:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return None


async def _all(*aws: Awaitable[object]) -> None:
    """Run together; if one fails, cancel the rest, wait for them and raise the first error
    itself (not an ExceptionGroup, so the CLI prints a readable message)."""
    try:
        async with asyncio.TaskGroup() as group:
            for aw in aws:
                group.create_task(aw)
    except BaseExceptionGroup as eg:
        first = eg.exceptions[0]
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


class LocalStack:
    """`async with LocalStack() as stack:` then `stack.endpoints["core"]`, and so on.

    root: where logs (`<root>/log`), service data (`<root>/data`) and the PostgreSQL data
      (`<root>/pgdata`, unless ephemeral) live.
    ephemeral / fast: passed to EmbeddedPostgres (temp data dir; fsync off). Tests only.
    services: which services to run; `()` gives just Kafka, PostgreSQL and the topics.
    service_ports: per-service HTTP port overrides (tests use free ports).
    env: extra environment for the services.
    dev_identity_port: run the DEVELOPMENT-ONLY wallet sign-in (deploy/local/dev_identity.py) on this loopback
      port, and point the core's wallet page at it; None (the default): no sign-in page.
    broker: embedded, kafka or kafka-cluster (default ATA_BROKER, else embedded).
    """

    def __init__(
        self,
        root: Path | str = DEFAULT_ROOT,
        *,
        kafka_bootstrap: str | None = None,
        database_url: str | None = None,
        kafka_port: int = KAFKA_PORT,
        postgres_port: int = POSTGRES_PORT,
        ephemeral: bool = False,
        fast: bool = False,
        services: Sequence[str] = SERVICES,
        service_ports: Mapping[str, int] | None = None,
        env: Mapping[str, str] | None = None,
        health_timeout: float = 90.0,
        progress: Callable[[str], None] = print,
        dev_identity_port: int | None = None,
        broker: str | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.log_dir = self.root / "log"
        self.data_dir = self.root / "data"
        self._external_kafka = kafka_bootstrap or _from_env("KAFKA_BOOTSTRAP_SERVERS", "ATA_KAFKA_BOOTSTRAP_SERVERS")
        self._external_database = database_url or _from_env("DATABASE_URL", "ATA_DATABASE_URL")
        self.broker = chosen(broker)
        self.kafka: EmbeddedKafka | ApacheKafka | None = None
        if self._external_kafka is None:
            self.kafka = make_broker(self.broker, port=kafka_port, root=self.root)
        self.postgres: EmbeddedPostgres | None = None
        if self._external_database is None:
            self.postgres = EmbeddedPostgres(
                postgres_port,
                None if ephemeral else self.root / "pgdata",
                ephemeral=ephemeral,
                fast=fast,
                log_file=self.log_dir / "postgres.log",
            )
        ports = dict(service_ports or {})
        # The core verifies holders' bearer tokens with the wallet identity provider's key; locally
        # the stack plays that provider (deploy/local/identity.py). `env` may name another key.
        # The trust anchor signs the key list gateways trust; locally it lives beside the core's keys.
        self.anchor_path = self.data_dir / "keys" / "trust-anchor.pem"
        # The gateway's administration API (officer accounts, R18) answers only this per-stack token;
        # the demo and journey use it to create their officers.
        self.admin_token = (env or {}).get("ATA_GATEWAY_ADMIN_TOKEN") or secrets.token_urlsafe(32)
        # The issuer's NGA registry with a fresh HTTP API key per NGA (`nga_api_keys`, for `ata issue --http`).
        registry_path, self.nga_api_keys = write_registry(self.data_dir)
        env = service_env(self.data_dir, self.anchor_path, self.broker, self.admin_token, registry_path, env)
        self._service_env = env
        #: Further processes of a service (`add_instance`), stopped with the rest.
        self.extra: list[ServiceProcess] = []
        self.services: dict[str, ServiceProcess] = {
            name: ServiceProcess(
                name,
                kafka_bootstrap=self.kafka_bootstrap,
                database_url=self.database_url,
                log_dir=self.log_dir,
                data_dir=self.data_dir,
                port=ports.get(name),
                env=env,
            )
            for name in services
        }
        self.dev_identity: DevIdentityServer | None = None
        self._dev_identity_port = dev_identity_port
        self.wallet_redirects = wire_wallet(self.services, self.data_dir, dev_identity_port)
        self.health_timeout = health_timeout
        self._progress = progress
        self._started_at = 0.0
        self._exit: AsyncExitStack | None = None

    # --- what the stack offers --------------------------------------------------------

    @property
    def kafka_bootstrap(self) -> str:
        return self._external_kafka or self.kafka.bootstrap  # type: ignore[union-attr]

    @property
    def database_url(self) -> str:
        return self._external_database or self.postgres.dsn(DATABASE)  # type: ignore[union-attr]

    @property
    def endpoints(self) -> dict[str, str]:
        """Service name -> base URL (`/health`, `/metrics` and the service's API below it)."""
        return {name: svc.base_url for name, svc in self.services.items()}

    @property
    def wallet_url(self) -> str | None:
        return f"{self.services['core'].base_url}/wallet/" if "core" in self.services else None

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> LocalStack:
        if self._exit is not None:
            raise RuntimeError("already started")
        self._started_at = time.monotonic()
        # Before starting anything: a busy service port is the likeliest clash (a stack that
        # is already up), and finding out after PostgreSQL and Kafka came up wastes seconds.
        busy = [
            f"{svc.name} ({svc.port}, held by {port_owner(svc.port)})"
            for svc in self.services.values()
            if not port_is_free(svc.port, svc.host)
        ]
        if busy:
            raise ServiceStartError(f"service ports in use: {'; '.join(busy)}; is another stack running?")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        # The exit stack unwinds in reverse, so register PostgreSQL first and services last:
        # stop order is services, Kafka, PostgreSQL. Each stop is registered before its start
        # and does nothing for what never started, so a failure anywhere unwinds cleanly.
        self._exit = AsyncExitStack()
        try:
            if self.postgres is not None:
                self._exit.push_async_callback(self._stop_postgres)
            if self.kafka is not None:
                self._exit.push_async_callback(self._stop_kafka)
            await _all(self._start_postgres(), self._start_kafka())
            await self._create_topics()
            if self.services:
                self._exit.push_async_callback(self._stop_services)
                await self._start_services()
            if self._dev_identity_port is not None and self.wallet_redirects:
                self.dev_identity = DevIdentityServer(
                    self.data_dir, self.wallet_redirects, port=self._dev_identity_port
                )
                self._exit.push_async_callback(self.dev_identity.stop)
                await self.dev_identity.start()
                self._say(f"development sign-in (embedded stack only) at {self.dev_identity.authorize_url}")
            self._say(f"stack up: {len(self.services)} services, logs in {self.log_dir}")
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        exit_stack, self._exit = self._exit, None
        if exit_stack is not None:
            await exit_stack.aclose()

    async def __aenter__(self) -> LocalStack:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --- crashes and restarts (tests/faults) -------------------------------------------

    async def crash_service(self, name: str) -> None:
        """SIGKILL one service, as a crash would, and start it again on the same port and settings."""
        await self.crash(self.services[name])

    async def crash(self, svc: ServiceProcess) -> None:
        svc.kill()
        self._say(f"{svc.name}#{svc.instance}: killed (SIGKILL)")
        svc.start()
        await svc.wait_healthy(self.health_timeout)
        self._say(f"{svc.name}#{svc.instance}: restarted, pid {svc.pid}, healthy")

    async def add_instance(self, name: str, port: int) -> ServiceProcess:
        """One more process of `name` on the same database, broker, keys and settings, as a second replica
        would run in production; it is stopped with the stack."""
        # The first process's settings, with what the stack wired for it (the gateway's core URL, ...).
        first = self.services.get(name)
        svc = ServiceProcess(
            name,
            kafka_bootstrap=self.kafka_bootstrap,
            database_url=self.database_url,
            log_dir=self.log_dir,
            data_dir=self.data_dir,
            port=port,
            env=first.extra_env if first is not None else self._service_env,
            instance=2 + sum(1 for s in self.extra if s.name == name),
        )
        self.extra.append(svc)
        svc.start()
        await svc.wait_healthy(self.health_timeout)
        self._say(f"{name}#{svc.instance}: healthy at {svc.base_url}")
        return svc

    async def crash_postgres(self) -> None:
        """SIGKILL the embedded PostgreSQL (postmaster and backends) and start it again on the same data:
        it runs crash recovery, and the services must reconnect by themselves."""
        if self.postgres is None:
            raise RuntimeError("PostgreSQL is external (DATABASE_URL): the stack cannot restart it")
        self.postgres.kill()
        self._say("PostgreSQL: killed (SIGKILL)")
        await self._start_postgres()

    def kill_services(self) -> None:
        """SIGKILL every running service (a node going down); `restart_kafka` starts them again."""
        for svc in (*self.services.values(), *self.extra):
            svc.kill()
        self._say("services killed (SIGKILL)")

    async def restart_kafka(self) -> None:
        """Restart the broker. Apache Kafka keeps its data: it stops and starts under the running services,
        which reconnect by themselves. The embedded broker keeps everything in memory, so its topics and
        committed offsets are gone: every service is killed first (none keeps a consumer on a broker that
        forgot it), the topics are made again, then the services start and read from the start. What was
        published and not yet consumed is lost with it: drain before calling this (embedded only)."""
        if self.kafka is None:
            raise RuntimeError("Kafka is external (KAFKA_BOOTSTRAP_SERVERS): the stack cannot restart it")
        if isinstance(self.kafka, ApacheKafka):
            await self.kafka.stop()
            await self._start_kafka()
            return
        self.kill_services()
        await self.kafka.stop()
        await self._start_kafka()
        await self._create_topics()
        await self._start_services()

    # --- steps ------------------------------------------------------------------------

    def _say(self, message: str) -> None:
        self._progress(f"[{time.monotonic() - self._started_at:5.1f}s] {message}")

    async def _start_postgres(self) -> None:
        from runtime.db import ensure_database

        if self.postgres is None:
            self._say(f"PostgreSQL: using DATABASE_URL {self.database_url}")
        else:
            self._say(f"PostgreSQL: starting on port {self.postgres.port} (log {self.postgres.log_file})")
            await self.postgres.start()
            self._say(f"PostgreSQL: up, pid {self.postgres.pid}, data in {self.postgres.data_dir}")
        await ensure_database(self.database_url)
        self._say(f"PostgreSQL: database ready at {self.database_url}")

    async def _start_kafka(self) -> None:
        if self.kafka is None:
            self._say(f"Kafka: using KAFKA_BOOTSTRAP_SERVERS {self.kafka_bootstrap}")
            return
        self._say(f"Kafka: starting the {self.broker} broker on {self.kafka.bootstrap} (log {self.kafka.log_file})")
        await self.kafka.start()
        if isinstance(self.kafka, ApacheKafka):
            self._say(
                f"Kafka: up, pids {self.kafka.pids()}, in {self.kafka.start_seconds:.1f} s, data in "
                f"{self.kafka.base_dir}"
            )
        else:
            self._say(f"Kafka: up, pid {self.kafka.pid} (in-memory: a restart loses every message)")

    async def _create_topics(self) -> None:
        from contracts.topics import all_topic_partitions
        from runtime.broker import ensure_topics
        from runtime.broker_kind import BrokerKind
        from runtime.settings import Settings

        settings = Settings(broker=self.broker)
        kind = BrokerKind.of(settings)
        topics = all_topic_partitions(self.nga_api_keys)  # with each registered NGA's request and response topics
        created = await ensure_topics(
            self.kafka_bootstrap,
            topics,
            replication_factor=kind.replication_factor,
            configs=kind.topic_configs(settings),
        )
        self._say(f"Kafka: {len(topics)} topics ready ({len(created)} created)")

    async def _start_services(self) -> None:
        ensure_wallet_issuer(self.data_dir)
        ensure_p256_key(vapid_key_path(self.data_dir))
        trustlist.ensure_anchor(self.anchor_path)  # before the gateway starts: it refuses to run without it
        for svc in self.services.values():
            svc.start()
            self._say(f"{svc.name}: started, pid {svc.pid}, port {svc.port}")

        async def healthy(svc: ServiceProcess) -> None:
            await svc.wait_healthy(self.health_timeout)
            self._say(f"{svc.name}: healthy at {svc.base_url}")

        await _all(*(healthy(svc) for svc in self.services.values()))

    async def _stop_services(self) -> None:
        running = [svc for svc in (*self.services.values(), *self.extra) if svc.pid is not None]
        if not running:
            return
        self._say(f"stopping {', '.join(svc.name for svc in running)}")
        # Not _all: one stop failing must not cancel the others' stops.
        results = await asyncio.gather(*(svc.stop() for svc in running), return_exceptions=True)
        for svc, result in zip(running, results, strict=True):
            if isinstance(result, BaseException):
                self._say(f"{svc.name}: stop failed: {result!r}")
            elif isinstance(result, int) and result < 0:
                # uvicorn re-raises the signal after its graceful shutdown, so -15 is the norm.
                self._say(f"{svc.name}: stopped ({signal.Signals(-result).name})")
            else:
                self._say(f"{svc.name}: stopped (exit code {result})")
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _stop_kafka(self) -> None:
        if self.kafka is not None:
            was_running = self.kafka.pid is not None
            await self.kafka.stop()
            if was_running:
                self._say("Kafka: stopped")

    async def _stop_postgres(self) -> None:
        if self.postgres is not None:
            # Called even if it never came up: an ephemeral server's temp dir goes too.
            was_running = self.postgres.pid is not None
            await self.postgres.stop()
            if was_running:
                self._say("PostgreSQL: stopped")
