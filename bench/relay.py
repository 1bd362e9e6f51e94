"""The ceiling: a plain aiokafka relay on the same broker, no application logic.

`python -m bench.relay --bootstrap HOST:PORT --count 50000` fills an input topic, then times a
consumer-group member that reads it and produces every record to an output topic (acks=all, the
services' producer settings) until the last produce is acknowledged. It runs in its own process,
as a service does, and prints one JSON line: {"relay_msgs_per_s": ..., ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from runtime.broker import ensure_topics

PARTITIONS = 4


async def fill(bootstrap: str, topic: str, count: int, size: int) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=5, max_batch_size=256 << 10
    )
    await producer.start()
    try:
        body = os.urandom(size // 2).hex().encode()
        sent = [await producer.send(topic, body, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def _cpu_of(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def relay(
    bootstrap: str, source: str, target: str, count: int, broker_pid: int | None = None
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=f"bench-relay-{os.getpid()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=False, acks="all", linger_ms=1, max_batch_size=256 << 10
    )
    await consumer.start()
    await producer.start()
    moved, started, cpu_started, broker_started = 0, None, 0.0, 0.0
    try:
        while moved < count:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            if started is None and batches:
                started, cpu_started, broker_started = time.perf_counter(), time.process_time(), _cpu_of(broker_pid)
            pending = []
            for records in batches.values():
                for r in records:
                    pending.append(await producer.send(target, r.value, key=r.key))
            await asyncio.gather(*pending)
            moved += len(pending)
            if pending:
                await consumer.commit()  # as the services do: offsets only after the output is acknowledged
        elapsed = time.perf_counter() - (started or time.perf_counter())
        cpu = time.process_time() - (cpu_started if started else time.process_time())
        broker_cpu = _cpu_of(broker_pid) - broker_started if started else 0.0
    finally:
        await producer.stop()
        await consumer.stop()
    return {
        "relay_msgs": moved,
        "relay_seconds": round(elapsed, 3),
        "relay_msgs_per_s": round(moved / elapsed, 1),
        "relay_cpu_s": round(cpu, 3),
        **({"relay_broker_cpu_s": round(broker_cpu, 3)} if broker_pid else {}),
    }


async def main_async(bootstrap: str, count: int, size: int, broker_pid: int | None = None) -> dict[str, float]:
    tag = f"{os.getpid()}-{int(time.time())}"
    source, target = f"bench.relay.in.{tag}", f"bench.relay.out.{tag}"
    await ensure_topics(bootstrap, {source: PARTITIONS, target: PARTITIONS})
    await fill(bootstrap, source, count, size)
    return await relay(bootstrap, source, target, count, broker_pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--size", type=int, default=600, help="bytes per message (a crossing's event is ~600)")
    parser.add_argument("--broker-pid", type=int, help="also report the broker's CPU over the relay (local broker)")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # the services run on uvloop; the relay must not be handicapped against them
        pass
    print(json.dumps(asyncio.run(main_async(args.bootstrap, args.count, args.size, args.broker_pid))))


if __name__ == "__main__":
    main()
