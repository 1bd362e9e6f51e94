"""The five services as child processes (`python -m <name>`), each with its own log file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from deploy.local.processes import kill_process, log_tail, port_is_free, port_owner, spawn, stop_process
from runtime.settings import DEFAULT_PORTS

#: In start order; the stack starts them together, so the order only matters for output.
SERVICES = ("issuer", "core", "customs_gateway", "claims_worker", "notifier")


class ServiceStartError(RuntimeError):
    pass


class ServiceProcess:
    def __init__(
        self,
        name: str,
        *,
        kafka_bootstrap: str,
        database_url: str,
        log_dir: Path | str,
        data_dir: Path | str,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        instance: int = 1,
    ) -> None:
        if name not in DEFAULT_PORTS:
            raise ValueError(f"unknown service {name!r}; expected one of {', '.join(DEFAULT_PORTS)}")
        self.name = name
        self.host = host
        self.port = port if port is not None else DEFAULT_PORTS[name]
        self.kafka_bootstrap = kafka_bootstrap
        self.database_url = database_url
        #: 1 for the stack's own process; further instances of the same service log beside it.
        self.instance = instance
        self.log_file = Path(log_dir).resolve() / (f"{name}.log" if instance == 1 else f"{name}-{instance}.log")
        self.data_dir = Path(data_dir).resolve()
        self.extra_env = dict(env or {})
        self._proc: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            KAFKA_BOOTSTRAP_SERVERS=self.kafka_bootstrap,
            DATABASE_URL=self.database_url,
            ATA_HTTP_HOST=self.host,
            ATA_HTTP_PORT=str(self.port),
            ATA_DATA_DIR=str(self.data_dir),
            # Log lines reach the file as they happen, not when a buffer fills.
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        """Launch and return at once; `wait_healthy` says when it serves."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        # A service that cannot bind exits, but another process on the port would answer our
        # health checks meanwhile and pass for it: refuse up front.
        if not port_is_free(self.port, self.host):
            raise ServiceStartError(
                f"cannot start {self.name}: port {self.host}:{self.port} is in use by {port_owner(self.port)}"
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._proc = spawn([sys.executable, "-m", self.name], log_file=self.log_file, env=self.environment())

    async def wait_healthy(self, timeout: float = 90.0) -> None:
        """Poll /health until it answers 200; fail at once, with the log tail, if the process dies."""
        if self._proc is None:
            raise RuntimeError(f"{self.name} is not started")
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    raise ServiceStartError(
                        f"{self.name} exited with code {code} while starting; tail of {self.log_file}:\n"
                        f"{log_tail(self.log_file)}"
                    )
                try:
                    response = await client.get(f"{self.base_url}/health")
                    if response.status_code == 200:
                        return
                    last = f"HTTP {response.status_code}: {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                if time.monotonic() >= deadline:
                    raise ServiceStartError(
                        f"{self.name} was not healthy at {self.base_url}/health within {timeout:.0f} s "
                        f"(last: {last}); tail of {self.log_file}:\n{log_tail(self.log_file)}"
                    )
                await asyncio.sleep(0.2)

    async def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the group (graceful: finish the message in hand, commit), SIGKILL after `timeout`."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        return await stop_process(proc, sig=signal.SIGTERM, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the group now, as a crash would (for recovery tests)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            kill_process(proc)
