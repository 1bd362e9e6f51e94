"""Read a topic from the beginning until a record matches: for NGA-side tools, the demo and tests.

Partitions are assigned directly (no consumer group), so there is no group join to wait for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]


async def read_until(
    bootstrap: str,
    topic: str,
    partitions: int,
    match: Callable[[Record], bool],
    *,
    count: int = 1,
    timeout: float = 30.0,
) -> list[Record]:
    """The first `count` matching records; TimeoutError with what was seen otherwise."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Record] = []
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    rec = Record(
                        r.topic,
                        r.partition,
                        r.offset,
                        r.key,
                        r.value,
                        {k: v.decode("utf-8", "replace") for k, v in r.headers},
                    )
                    if match(rec):
                        found.append(rec)
                        if len(found) >= count:
                            return found
        raise TimeoutError(f"{len(found)} of {count} matching records on {topic} within {timeout:.0f}s")
    finally:
        await consumer.stop()
