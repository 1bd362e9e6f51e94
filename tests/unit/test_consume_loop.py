"""runtime/consume_loop.py: one handler call and one commit per fetched batch, the commit carrying only the
partitions that had records; a failed batch is read again from its first record; an idle loop rests with its
partitions paused (the embedded broker's fetch cost, bench/README.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka import TopicPartition

from runtime.consume_loop import ConsumeLoop


@dataclass
class Raw:
    topic: str
    partition: int
    offset: int
    value: bytes = b"{}"
    key: bytes | None = None
    headers: tuple = ()
    timestamp: int = -1


class FakeConsumer:
    """What ConsumeLoop asks of aiokafka's consumer, recorded."""

    def __init__(self, answers: list[dict], assigned: set[TopicPartition]) -> None:
        self.answers = list(answers)
        self.assigned = assigned
        self.commits: list[dict] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.paused: list[TopicPartition] = []
        self.resumed: list[TopicPartition] = []
        self.timeouts: list[int] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        self.timeouts.append(timeout_ms)
        if not self.answers:
            raise asyncio.CancelledError
        return self.answers.pop(0)

    async def commit(self, offsets: dict) -> None:
        self.commits.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused += tps

    def resume(self, *tps: TopicPartition) -> None:
        self.resumed += tps


A0, A1, B3 = TopicPartition("a", 0), TopicPartition("a", 1), TopicPartition("b", 3)
ALL = {A0, A1, B3, *(TopicPartition("a", p) for p in range(2, 25))}


def loop_over(consumer: FakeConsumer, handle, **waits) -> ConsumeLoop:
    options = {"busy_ms": 50, "idle_ms": 50, "idle_after": 20} | waits
    return ConsumeLoop("svc", ["a", "b"], handle, consumer=consumer, **options)  # type: ignore[arg-type]


async def run(loop: ConsumeLoop) -> None:
    try:
        await loop.run()
    except asyncio.CancelledError:
        pass


async def test_one_handler_call_and_one_commit_of_only_the_partitions_that_had_records():
    batch = {A0: [Raw("a", 0, 7), Raw("a", 0, 8)], B3: [Raw("b", 3, 41)]}
    consumer = FakeConsumer([batch, {}], ALL)
    handled: list[list[str]] = []

    async def handle(records):
        handled.append([r.where for r in records])

    loop = loop_over(consumer, handle)
    await run(loop)
    assert handled == [["a/0@7", "a/0@8", "b/3@41"]]
    assert consumer.commits == [{A0: 9, B3: 42}]  # 2 of the 25 assigned partitions, each past its last record
    assert (loop.batches, loop.commits) == (1, 1)


async def test_a_batch_that_raises_is_rewound_to_its_first_records_and_not_committed(monkeypatch):
    monkeypatch.setattr("runtime.consume_loop.RETRY_PAUSE_S", 0)
    batch = {A0: [Raw("a", 0, 7), Raw("a", 0, 8)], A1: [Raw("a", 1, 3)]}
    consumer = FakeConsumer([batch, dict(batch)], ALL)
    calls = 0

    async def handle(records):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database away")

    await run(loop_over(consumer, handle))
    assert sorted(consumer.seeks) == [(A0, 7), (A1, 3)]
    assert consumer.commits == [{A0: 9, A1: 4}]  # only after the second, successful attempt


async def test_an_empty_poll_commits_nothing_and_calls_no_handler():
    consumer = FakeConsumer([{}, {}, {}], ALL)

    async def handle(records):
        raise AssertionError("no records, no call")

    await run(loop_over(consumer, handle))
    assert consumer.commits == [] and consumer.paused == []  # equal waits: no idle backoff (Apache Kafka)


async def test_an_idle_loop_rests_with_its_partitions_paused_and_the_first_record_wakes_it(monkeypatch):
    clock = iter(range(0, 1000, 2))
    monkeypatch.setattr("runtime.consume_loop.time.monotonic", lambda: float(next(clock)))
    consumer = FakeConsumer([{}, {}, {A0: [Raw("a", 0, 1)]}], {A0, A1})
    handled = []

    async def handle(records):
        handled.append(len(records))

    loop = loop_over(consumer, handle, busy_ms=40, idle_ms=45, idle_after=1)
    await run(loop)
    assert set(consumer.paused) == {A0, A1} and set(consumer.resumed) <= {A0, A1} and consumer.resumed
    assert consumer.timeouts == [1000, 20, 20, 1000]  # resting: looks of half a fetch wait, then busy again
    assert handled == [1] and not loop.idle  # the record put it back to busy
