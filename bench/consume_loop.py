"""The consumer loop, FastStream's against plain aiokafka's (runtime/consume_loop.py), on the same records.

`python -m bench.consume_loop` starts an embedded broker (or `--bootstrap HOST:PORT`), and for each loop:
- **trickle**: a producer in another process sends `--rate` records a second for `--seconds` over 24
  partitions (a service's group holds about that many), as crossings arrive; the loop under test handles each
  batch with a handler that does nothing, so what is measured is the loop;
- **backlog**: `--count` records already on the topic, drained.
It prints one JSON object: CPU of this process per record (ms), records per batch, and Kafka requests per
batch by kind (fetch, offset commit) from runtime/io_counters.py's tally. The FastStream loop is the one the
services ran before: a batch subscriber with a `KafkaMessage` parameter, NACK_ON_ERROR acknowledgement
(offsets of every assigned partition), its poll blocking in getmany instead of sleeping.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from contextlib import AsyncExitStack
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from runtime import io_counters
from runtime.broker import CONSUMER_OPTIONS, GROUP_OPTIONS, build_broker, ensure_topics
from runtime.consume_loop import MAX_RECORDS, ConsumeLoop

PARTITIONS = 24
FETCH_WAIT_MS = 50


async def produce(bootstrap: str, topic: str, rate: float, seconds: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        body = b"x" * 600
        total = int(rate * seconds)
        started = time.monotonic()
        n = 0
        while n < total:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            for _ in range(due - n):
                await producer.send(topic, body, key=uuid.uuid4().bytes)
            n = due
            await asyncio.sleep(1 / rate)
        await producer.flush()
    finally:
        await producer.stop()


class Tally:
    def __init__(self) -> None:
        self.records = 0
        self.batches = 0
        self.done = asyncio.Event()
        self.expected = 0

    async def handle(self, records: Any) -> None:
        self.records += len(records)
        self.batches += 1
        if self.records >= self.expected:
            self.done.set()


async def faststream_loop(bootstrap: str, topic: str, tally: Tally, stack: AsyncExitStack) -> None:
    from faststream.kafka.annotations import KafkaMessage

    broker = build_broker(bootstrap, f"bench-fs-{uuid.uuid4().hex[:6]}", CollectorRegistry())
    subscriber = broker.subscriber(
        topic,
        group_id=f"fs-{topic}",
        batch=True,
        max_records=MAX_RECORDS,
        batch_timeout_ms=10,
        fetch_max_wait_ms=FETCH_WAIT_MS,
        **CONSUMER_OPTIONS,
    )

    @subscriber
    async def on_batch(body: Any, message: KafkaMessage) -> None:
        await tally.handle(message.raw_message)

    await broker.start()
    stack.push_async_callback(broker.stop)

    async def get_msg(consumer: Any) -> tuple[Any, ...]:  # the services' former poll: block in getmany, no sleep
        batches = await consumer.getmany(timeout_ms=1000, max_records=MAX_RECORDS)
        return tuple(chain(*batches.values()))

    subscriber.get_msg = get_msg


async def plain_loop(bootstrap: str, topic: str, tally: Tally, stack: AsyncExitStack) -> None:
    loop = ConsumeLoop.build(
        f"plain-{topic}",
        [topic],
        tally.handle,
        bootstrap_servers=bootstrap,
        options=dict(GROUP_OPTIONS),
        busy_ms=FETCH_WAIT_MS,
        idle_ms=FETCH_WAIT_MS,
        idle_after=20,
    )
    task = await loop.start()

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await loop.stop()

    stack.push_async_callback(stop)


async def measure(kind: str, bootstrap: str, mode: str, args: argparse.Namespace) -> dict[str, float]:
    topic = f"bench-loop-{kind}-{mode}-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    tally = Tally()
    if mode == "backlog":
        tally.expected = args.count
        await produce(bootstrap, topic, rate=args.count, seconds=1.0)
    else:
        tally.expected = int(args.rate * args.seconds)
    async with AsyncExitStack() as stack:
        sent = dict(io_counters._sent)
        cpu = time.process_time()
        await (faststream_loop if kind == "faststream" else plain_loop)(bootstrap, topic, tally, stack)
        if mode == "trickle":
            await asyncio.sleep(8)  # the group join (half the session timeout on tansu) and the first empty fetches
            sent = dict(io_counters._sent)
            cpu = time.process_time()
        # The backlog is drained from the start: its figures include the group join (a few requests).
        if mode == "trickle":
            producer = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.consume_loop",
                "--produce",
                topic,
                "--bootstrap",
                bootstrap,
                "--rate",
                str(args.rate),
                "--seconds",
                str(args.seconds),
            )
            await producer.wait()
        try:
            await asyncio.wait_for(tally.done.wait(), timeout=120)
        except TimeoutError:
            raise SystemExit(f"{kind} {mode}: {tally.records} of {tally.expected} records after 120 s") from None
        cpu = time.process_time() - cpu
        requests = {k: io_counters._sent[k] - sent.get(k, 0) for k in ("fetch", "offset_commit")}
    batches = max(tally.batches, 1)
    return {
        "records": tally.records,
        "batches": tally.batches,
        "records_per_batch": round(tally.records / batches, 1),
        "cpu_ms_per_record": round(cpu * 1000 / max(tally.records, 1), 4),
        "fetch_per_batch": round(requests["fetch"] / batches, 2),
        "offset_commit_per_batch": round(requests["offset_commit"] / batches, 2),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    io_counters.count_kafka_requests(CollectorRegistry())
    async with AsyncExitStack() as stack:
        bootstrap = args.bootstrap
        if not bootstrap:
            import tempfile
            from pathlib import Path

            from deploy.local.brokers import make_broker
            from deploy.local.processes import free_port

            broker = make_broker("embedded", port=free_port(), root=Path(tempfile.mkdtemp(prefix="ata-kafka-")))
            stack.push_async_callback(broker.stop)
            await broker.start()
            bootstrap = broker.bootstrap
        out: dict[str, Any] = {
            "partitions": PARTITIONS,
            "fetch_wait_ms": FETCH_WAIT_MS,
            "rate": args.rate,
            "seconds": args.seconds,
            "count": args.count,
        }
        for mode in ("trickle", "backlog"):
            for kind in ("faststream", "plain"):
                out[f"{kind}_{mode}"] = await measure(kind, bootstrap, mode, args)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"))
    parser.add_argument("--rate", type=float, default=60.0, help="records a second in the trickle phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=20_000, help="records in the backlog phase")
    parser.add_argument("--produce", help=argparse.SUPPRESS)  # the trickle's producer process
    args = parser.parse_args()
    if args.produce:
        asyncio.run(produce(args.bootstrap, args.produce, args.rate, args.seconds))
        return
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
