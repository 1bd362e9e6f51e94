"""Apache Kafka (the production broker) as our child: one node or a three-node KRaft cluster on loopback ports.

The jars come from Maven Central once, into a cache outside the worktree (deploy/local/kafka_jars.py). Each
node is a combined broker+controller with its configuration generated from deploy/kafka_settings.py, its
storage formatted with `kafka.tools.StorageTool format`, its data and log under the stack's folder, and a heap
sized for a small machine. Start time and memory: docs/apache-kafka.md.

    python -m deploy.local.apache_kafka fetch      # the jars, once (needs Maven)
    python -m deploy.local.apache_kafka up [--nodes 3]       # until Ctrl-C
    python -m deploy.local.apache_kafka measure [--nodes 3]  # start time and RSS after 10 s idle (docs)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from deploy.kafka_settings import KAFKA_VERSION, NodeAddress, new_cluster_id, node_properties, render
from deploy.local.kafka_jars import KafkaUnavailable, fetch_jars
from deploy.local.processes import free_port, kill_process, spawn, stop_process, wait_until_ready

#: Each node's heap: measured peaks stay under half of it (docs/apache-kafka.md).
DEFAULT_HEAP = "384m"
_JVM_FLAGS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true")
_LOG4J2 = """status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.state.name = state.change.logger
logger.state.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
"""


class KafkaStartError(RuntimeError):
    pass


@dataclass
class Node:
    address: NodeAddress
    folder: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{self.address.host}:{self.address.port}"

    @property
    def config(self) -> Path:
        return self.folder / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.folder / "kafka.log"


class ApacheKafka:
    """`await start()`, use `bootstrap`, `await stop()`; nodes can be killed and started again in between."""

    def __init__(
        self,
        nodes: int = 1,
        *,
        base_dir: Path | str,
        host: str = "127.0.0.1",
        heap: str = DEFAULT_HEAP,
        ports: list[int] | None = None,
        listener: Mapping[str, str] | None = None,
        extra: Mapping[str, str] | None = None,
        format_args: Sequence[str] = (),
    ) -> None:
        if nodes not in (1, 3):
            raise ValueError("run 1 node or 3")
        self.heap = heap
        self.cluster_id = new_cluster_id()
        self.base_dir = Path(base_dir).resolve()
        ports = ports or [free_port(host) for _ in range(nodes)]
        addresses = [NodeAddress(i + 1, host, ports[i], free_port(host)) for i in range(nodes)]
        self.nodes = [Node(a, self.base_dir / f"kafka-{a.node_id}") for a in addresses]
        self._listener = dict(listener or {})
        self._extra = dict(extra or {})
        #: More `kafka-storage format` arguments, e.g. `--add-scram` for SASL users (deploy/kafka_settings.py).
        self._format_args = tuple(format_args)
        self._jars: Path | None = None
        #: Seconds from the first spawn to every node answering, of the last `start()`.
        self.start_seconds: float | None = None

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes)

    @property
    def pid(self) -> int | None:
        """The first node's (the local stack's progress lines)."""
        proc = self.nodes[0].proc
        return proc.pid if proc is not None else None

    @property
    def log_file(self) -> Path:
        return self.nodes[0].log_file

    def node(self, node_id: int) -> Node:
        return self.nodes[node_id - 1]

    def properties(self, node: Node) -> dict[str, str]:
        a = node.address
        listener = {
            k: v.replace("{host}", a.host)
            .replace("{port}", str(a.port))
            .replace("{controller_port}", str(a.controller_port))
            for k, v in self._listener.items()
        }
        props = node_properties(node.address, [n.address for n in self.nodes], str(node.folder / "data"), listener)
        return {**props, **self._extra}

    async def start(self, timeout: float = 90.0) -> None:
        self._jars = await asyncio.to_thread(fetch_jars)
        began = time.monotonic()
        for node in self.nodes:
            node.folder.mkdir(parents=True, exist_ok=True)
            node.config.write_text(render(self.properties(node)))
            (node.folder / "log4j2.properties").write_text(_LOG4J2)
        await asyncio.gather(*(self._format(n) for n in self.nodes))
        try:
            for node in self.nodes:
                self._spawn(node)
            await asyncio.gather(*(self.wait_ready(n, timeout) for n in self.nodes))
        except BaseException:
            await self.stop()
            raise
        self.start_seconds = time.monotonic() - began

    async def stop(self, timeout: float = 20.0) -> None:
        await asyncio.gather(*(self.stop_node(n.address.node_id, timeout) for n in self.nodes))

    async def __aenter__(self) -> ApacheKafka:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop_node(self, node_id: int, timeout: float = 20.0) -> None:
        """SIGTERM: a controlled shutdown (leaders move first); SIGKILL after `timeout`."""
        node = self.node(node_id)
        proc, node.proc = node.proc, None
        if proc is not None:
            await stop_process(proc, sig=signal.SIGTERM, timeout=timeout)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL, no warning: what a power cut or the OOM killer does."""
        node = self.node(node_id)
        proc, node.proc = node.proc, None
        if proc is not None:
            kill_process(proc)

    async def start_node(self, node_id: int, timeout: float = 90.0) -> None:
        node = self.node(node_id)
        if node.proc is not None:
            raise RuntimeError(f"node {node_id} is running")
        self._spawn(node)
        await self.wait_ready(node, timeout)

    def pids(self) -> dict[int, int]:
        return {n.address.node_id: n.proc.pid for n in self.nodes if n.proc is not None}

    def rss_bytes(self) -> dict[int, int]:
        out = {}
        for node_id, pid in self.pids().items():
            try:
                out[node_id] = psutil.Process(pid).memory_info().rss
            except psutil.Error:
                pass
        return out

    def active_controller(self) -> int | None:
        """The node that last became the quorum's leader, at the highest epoch, from the nodes' logs
        (KRaft hides the controllers from clients: a broker answers metadata requests with a random broker)."""
        best: tuple[int, int] | None = None
        for node in self.nodes:
            try:
                text = node.log_file.read_text(errors="replace")
            except OSError:
                continue
            for match in _LEADER.finditer(text):
                epoch = int(match.group(2))
                if best is None or epoch > best[0]:
                    best = (epoch, int(match.group(1)))
        return best[1] if best else None

    async def leader_of(self, topic: str, partition: int = 0, **client: object) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._live_bootstrap(), client_id="ata-kafka-leader", **client)
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        for part in described[0]["partitions"]:
            if part["partition"] == partition:
                return part["leader"]
        raise LookupError(f"{topic}[{partition}] has no leader")

    async def wait_in_sync(self, timeout: float = 120.0, **client: object) -> None:
        """Until every partition of every topic has all its replicas in sync (what a rolling restart waits for
        before taking the next node down: with min.insync.replicas 2, two nodes behind would stop writes)."""
        deadline = time.monotonic() + timeout
        behind: list[str] = []
        while True:
            admin = AIOKafkaAdminClient(bootstrap_servers=self._live_bootstrap(), client_id="ata-kafka-isr", **client)
            try:
                await admin.start()
                behind = [
                    f"{t['topic']}[{p['partition']}]"
                    for t in await admin.describe_topics()
                    for p in t["partitions"]
                    if len(p["isr"]) < len(p["replicas"])
                ]
            except KafkaError as exc:
                behind = [repr(exc)]
            finally:
                await admin.close()
            if not behind:
                return
            if time.monotonic() > deadline:
                raise KafkaStartError(f"replicas still out of sync after {timeout:.0f} s: {', '.join(behind[:10])}")
            await asyncio.sleep(0.5)

    def _live_bootstrap(self) -> list[str]:
        return [n.bootstrap for n in self.nodes if n.proc is not None] or [self.nodes[0].bootstrap]

    def _java(self, main: str, *args: str, node: Node) -> list[str]:
        assert self._jars is not None
        return [
            "java",
            f"-Xmx{self.heap}",
            f"-Xms{self.heap}",
            *_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={node.folder / 'log4j2.properties'}",
            "-cp",
            f"{self._jars}/*",
            main,
            *args,
        ]

    async def _format(self, node: Node) -> None:
        if (node.folder / "data" / "meta.properties").exists():
            return
        cmd = self._java(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self.cluster_id,
            "-c",
            str(node.config),
            *self._format_args,
            node=node,
        )
        cmd[1:3] = ["-Xmx128m", "-Xms32m"]  # formatting writes two small files
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise KafkaStartError(
                f"kafka-storage format failed for node {node.address.node_id}:\n{out.decode()[-3000:]}"
            )

    def _spawn(self, node: Node) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JAVA_TOOL"))}
        node.proc = spawn(self._java("kafka.Kafka", str(node.config), node=node), log_file=node.log_file, env=env)

    async def wait_ready(self, node: Node, timeout: float = 90.0) -> None:
        assert node.proc is not None
        await wait_until_ready(
            node.proc,
            lambda: self._probe(node),
            what=f"Apache Kafka node {node.address.node_id}",
            where=node.bootstrap,
            log_file=node.log_file,
            timeout=timeout,
            retry_on=(OSError, asyncio.TimeoutError, KafkaError, _NotYet),
            error=KafkaStartError,
        )

    async def _probe(self, node: Node) -> None:
        """Ready: the node answers, and sees every running node registered (unfenced) as a broker."""
        _, writer = await asyncio.wait_for(asyncio.open_connection(node.address.host, node.address.port), 2)
        writer.close()
        await writer.wait_closed()
        if self._listener:  # a secured listener: the TCP answer is all an anonymous probe can have
            return
        admin = AIOKafkaAdminClient(
            bootstrap_servers=node.bootstrap, client_id="ata-kafka-probe", request_timeout_ms=3000
        )
        try:
            await admin.start()
            cluster = await admin.describe_cluster()
        finally:
            await admin.close()
        running = sum(1 for n in self.nodes if n.proc is not None)
        if len(cluster["brokers"]) < running:
            raise _NotYet(f"{len(cluster['brokers'])} of {running} brokers registered")


class _NotYet(Exception):
    pass


_LEADER = re.compile(r"\[RaftManager id=(\d+)\] Completed transition to Leader\(.*?\), epoch=(\d+),")


async def _up(nodes: int, base_dir: Path, *, hold: bool) -> None:
    async with ApacheKafka(nodes, base_dir=base_dir) as kafka:
        if not hold:  # `measure`: the memory after 10 s of idling, then stop
            await asyncio.sleep(10)
        rss = kafka.rss_bytes()
        print(
            f"Apache Kafka {KAFKA_VERSION}: {nodes} node(s) on {kafka.bootstrap}, started in "
            f"{kafka.start_seconds:.1f} s, RSS {', '.join(f'{r / 2**20:.0f} MiB' for r in rss.values())}; "
            f"logs in {base_dir}.",
            flush=True,
        )
        if not hold:
            return
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.local.apache_kafka", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("fetch", "up", "measure"))
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    parser.add_argument("--dir", type=Path, default=Path("var/apache-kafka"))
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch_jars())
            return 0
        asyncio.run(_up(args.nodes, args.dir, hold=args.command == "up"))
    except KafkaUnavailable as exc:
        print(exc, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
