"""`python -m deploy.topics`: create every topic on a replicated Kafka cluster before the services start.

Each service creates the topics it needs at start (runtime.broker.ensure_topics), but with replication
factor 1: that is all the embedded broker has. On a three-broker cluster with min.insync.replicas=2, a
topic with one replica never has two in sync, so every `acks=all` produce to it fails with
NOT_ENOUGH_REPLICAS. This runs first (a compose one-shot service, a Kubernetes init container), creates
the catalogue's topics, their dead-letter topics and the per-NGA request and response topics with the replication
factor and min.insync.replicas asked for; the services' own creation then finds them and changes nothing.

A topic that already exists with fewer replicas (created by a service that started first) is reported
and the exit status is 1: nothing can be produced safely to it, and only an operator can reassign it
(kafka-reassign-partitions.sh, docs/operations.md). More partitions than the catalogue is fine (an
operator scaled it); fewer is reported too, since the replica limits in deploy/ assume the catalogue's.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import all_topic_partitions
from runtime.broker_kind import topic_configs
from runtime.kafka_security import client_options
from runtime.settings import MAX_MESSAGE_BYTES, Settings

log = logging.getLogger("deploy.topics")

TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class Mismatch:
    topic: str
    problem: str


def plan(
    replication_factor: int,
    min_insync_replicas: int,
    ngas: Iterable[str] = (),
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> list[TopicSpec]:
    """Every topic the services use, with the catalogue's partition counts (contracts.topics) and the configs
    the services give them on Apache Kafka (runtime.broker_kind.topic_configs): max.message.bytes equal to what
    the producers send and consumers fetch (ATA_KAFKA_MAX_MESSAGE_BYTES), retention, min.insync.replicas."""
    if replication_factor < 1 or not 1 <= min_insync_replicas <= replication_factor:
        raise ValueError(
            f"need 1 <= min.insync.replicas ({min_insync_replicas}) <= replication factor ({replication_factor})"
        )
    partitions = all_topic_partitions(ngas)
    return [
        TopicSpec(name, count, replication_factor, topic_configs(name, max_message_bytes, min_insync_replicas))
        for name, count in sorted(partitions.items())
    ]


def compare(wanted: Iterable[TopicSpec], described: Mapping[str, tuple[int, int]]) -> list[Mismatch]:
    """`described`: topic -> (partitions, fewest replicas of any partition), as the cluster reports it."""
    out = []
    for spec in wanted:
        if spec.name not in described:
            out.append(Mismatch(spec.name, "missing"))
            continue
        partitions, replicas = described[spec.name]
        if replicas < spec.replication_factor:
            out.append(Mismatch(spec.name, f"{replicas} replica(s), wanted {spec.replication_factor}"))
        if partitions < spec.partitions:
            out.append(Mismatch(spec.name, f"{partitions} partition(s), the catalogue says {spec.partitions}"))
    return out


async def ensure(
    bootstrap_servers: str, specs: list[TopicSpec], settle_s: float = 30.0, **client: Any
) -> list[Mismatch]:
    """Create what is missing, then describe everything; the mismatches left are returned."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","), client_id="ata-deploy-topics", **client)
    await admin.start()
    try:
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=dict(s.configs)) for s in specs]
        )
        for entry in response.topic_errors:
            name, code = entry[0], entry[1]
            if code == 0:
                log.info("created %s", name)
            elif code != TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: error {code} {entry[2] if len(entry) > 2 else ''}")
        described = await _describe(admin, [s.name for s in specs], settle_s)
    finally:
        await admin.close()
    return compare(specs, described)


async def _describe(admin: AIOKafkaAdminClient, names: list[str], settle_s: float) -> dict[str, tuple[int, int]]:
    """Apache Kafka answers CreateTopics before every broker's metadata has the new topics (they describe as
    UNKNOWN_TOPIC_OR_PARTITION or without a leader for a moment): describe again until all are there, or
    `settle_s` has passed and the missing ones are reported."""
    deadline = time.monotonic() + settle_s
    while True:
        described = _shape(await admin.describe_topics(names))
        if set(names) <= set(described) or time.monotonic() >= deadline:
            return described
        await asyncio.sleep(0.5)


def _shape(metadata: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    out = {}
    for topic in metadata:
        if topic.get("error_code", 0) != 0 or not topic.get("partitions"):
            continue
        parts = topic["partitions"]
        out[topic["topic"]] = (len(parts), min(len(p["replicas"]) for p in parts))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.topics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--replication-factor", type=int, default=3)
    parser.add_argument("--min-insync-replicas", type=int, default=2)
    parser.add_argument(
        "--nga-registry",
        type=Path,
        default=None,
        metavar="PATH",
        help=(
            "create ata.issuance.requests.<nga>.v1 and ata.issuance.responses.<nga>.v1 for every NGA of this registry; "
            "default the issuer's own choice: "
            "ATA_NGA_REGISTRY_PATH, else the bundled issuer/registry.json"
        ),
    )
    parser.add_argument(
        "--without-nga-responses",
        action="store_true",
        help=(
            "the catalogue's topics only, without the per-NGA ones (in the pods of services other than the issuer, which "
            "has no registry)"
        ),
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s deploy.topics %(levelname)s %(message)s")
    settings = Settings()
    ngas: list[str] = []
    if not args.without_nga_responses:
        from issuer.registry import Registry

        ngas = sorted(Registry.load(args.nga_registry or settings.nga_registry_path).ngas)
    specs = plan(
        args.replication_factor, args.min_insync_replicas, ngas, max_message_bytes=settings.kafka_max_message_bytes
    )
    mismatches = asyncio.run(ensure(settings.kafka_bootstrap_servers, specs, **client_options(settings)))
    for m in mismatches:
        log.error("topic %s: %s (docs/operations.md, 'Kafka topics')", m.topic, m.problem)
    log.info("%d topics checked, %d wrong", len(specs), len(mismatches))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
