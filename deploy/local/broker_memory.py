"""The single-machine broker's memory on a `/metrics` of its own: what `make up` and `make observe` serve.

The embedded broker (tansu, in memory) keeps every message it was ever sent and frees none: about 6 KB
a carnet and 11 KB a crossing (bench/README.md), so a stack left running fills the machine. Apache Kafka
(`ATA_BROKER=kafka`) keeps its messages on disk; its JVM's resident memory stays near its fixed heap
(`-Xmx`, deploy/local/apache_kafka.py) plus the JVM's own, and a steady climb there means a leak.

Neither broker reports its memory in a form Prometheus reads, so the process that runs the stack does:
psutil reads the broker's process tree (the resident set, which for the JVM includes the heap) at every
scrape, beside the memory it may take, the machine's. The alerts AtaBrokerMemoryHigh and
AtaBrokerMemoryRunningOut (deploy/prometheus/rules/ata.yml) read these two series. In a deployment the
brokers are containers: their memory comes from the platform's container metrics, not from here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import psutil
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from deploy.local.processes import free_port

RESIDENT = "ata_broker_resident_bytes"
LIMIT = "ata_broker_memory_limit_bytes"


def resident_bytes(pid: int | None) -> int | None:
    """The resident memory of `pid` and its children, or None when it does not run."""
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


class BrokerMemory(Collector):
    """`ata_broker_resident_bytes{broker}` and `ata_broker_memory_limit_bytes{broker}`, read when scraped."""

    def __init__(self, broker: str, pid: Callable[[], int | None], limit_bytes: int | None = None) -> None:
        self.broker = broker
        self.pid = pid
        self.limit_bytes = limit_bytes or psutil.virtual_memory().total

    def collect(self) -> Iterator[GaugeMetricFamily]:
        resident = GaugeMetricFamily(
            RESIDENT,
            "Resident memory of the single-machine broker's processes "
            "(tansu in memory keeps every message; the JVM's heap included).",
            labels=["broker"],
        )
        limit = GaugeMetricFamily(LIMIT, "Memory the single-machine broker may take: the machine's.", labels=["broker"])
        value = resident_bytes(self.pid())
        if value is not None:
            resident.add_metric([self.broker], value)
        limit.add_metric([self.broker], self.limit_bytes)
        yield resident
        yield limit


@contextlib.contextmanager
def serve(broker: str, pid: Callable[[], int | None], port: int | None = None) -> Iterator[str]:
    """Serve the broker's memory on 127.0.0.1 (a free port unless given); yields `host:port` to scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BrokerMemory(broker, pid))
    port = port or free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
