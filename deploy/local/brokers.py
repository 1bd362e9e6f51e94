"""ATA_BROKER: which broker the local stack, the tests and the benchmark start.

`embedded` (the default: tansu, in memory, up in well under a second; `make demo` uses it), `kafka` (one Apache
Kafka node, durable) or `kafka-cluster` (three Apache Kafka nodes, replication factor 3, min.insync.replicas 2).
The services started against it get the same ATA_BROKER, so they apply what that broker needs
(runtime/broker_kind.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, cast

from deploy.local.apache_kafka import ApacheKafka
from deploy.local.kafka import EmbeddedKafka

Kind = Literal["embedded", "kafka", "kafka-cluster"]
KINDS: tuple[Kind, ...] = ("embedded", "kafka", "kafka-cluster")
DEFAULT: Kind = "embedded"


def chosen(value: str | None = None) -> Kind:
    """`value`, else ATA_BROKER, else the default; anything else is refused with the choices."""
    kind = (value if value is not None else os.environ.get("ATA_BROKER", "")).strip() or DEFAULT
    if kind not in KINDS:
        raise ValueError(f"ATA_BROKER={kind[:40]!r}: choose one of {', '.join(KINDS)}")
    return cast(Kind, kind)


def make_broker(kind: Kind, *, port: int, root: Path) -> EmbeddedKafka | ApacheKafka:
    """Not started. Logs (and Apache Kafka's data) go under `root`; the first node listens on `port`."""
    if kind == "embedded":
        return EmbeddedKafka(port, log_dir=root / "log")
    nodes = 3 if kind == "kafka-cluster" else 1
    from deploy.local.processes import free_port

    return ApacheKafka(nodes, base_dir=root / "kafka", ports=[port] + [free_port() for _ in range(nodes - 1)])
