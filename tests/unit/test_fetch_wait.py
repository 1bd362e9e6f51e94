"""runtime/fetch_wait.py: a consumer's fetch wait grows after empty fetches and shrinks on a record.

Not a domain rule: a cost of the embedded broker (bench/README.md, round 4). The aiokafka internals it
relies on are checked here, so an aiokafka upgrade that moves them fails this test instead of silently
leaving every consumer on the fixed wait (tests/integration/test_fetch_wait.py checks the behaviour on
a real broker).
"""

from __future__ import annotations

import inspect
import logging

from aiokafka.consumer.fetcher import Fetcher
from prometheus_client import CollectorRegistry

from runtime.fetch_wait import AdaptiveFetchWait
from runtime.metrics import RuntimeMetrics


class FakeFetcher:
    """Just the two attributes of aiokafka's Fetcher that AdaptiveFetchWait uses."""

    def __init__(self, results: list[bool]) -> None:
        self._fetch_max_wait_ms = 50
        self.results = list(results)
        self.waits: list[int] = []  # the wait each fetch was sent with

    async def _proc_fetch_request(self, assignment, node_id, request) -> bool:
        self.waits.append(self._fetch_max_wait_ms)
        return self.results.pop(0)


class FakeConsumer:
    def __init__(self, fetcher: object) -> None:
        self._fetcher = fetcher


def test_aiokafka_fetcher_internals_are_where_fetch_wait_expects_them():
    """The Fetcher reads `_fetch_max_wait_ms` when it builds each FetchRequest, and `_proc_fetch_request`
    is the coroutine that sends one and says whether records were added."""
    assert "self._fetch_max_wait_ms = fetch_max_wait_ms" in inspect.getsource(Fetcher.__init__)
    assert "self._fetch_max_wait_ms," in inspect.getsource(Fetcher._get_actions_per_node)
    proc = Fetcher._proc_fetch_request
    assert inspect.iscoroutinefunction(proc)
    assert list(inspect.signature(proc).parameters) == ["self", "assignment", "node_id", "request"]
    source = inspect.getsource(proc)
    assert "needs_wakeup = True" in source and "return needs_wakeup" in source
    routine = inspect.getsource(Fetcher._fetch_requests_routine)
    assert "self._proc_fetch_request(" in routine  # looked up on the instance at every fetch


async def test_wait_goes_idle_after_n_empty_fetches_and_back_on_the_first_record():
    fetcher = FakeFetcher([False, False, False, False, True, False, True])
    metrics = RuntimeMetrics(CollectorRegistry(), "svc")
    wait = AdaptiveFetchWait(50, 400, 3, metrics.fetch_wait_switches)
    assert wait.install(FakeConsumer(fetcher))
    for _ in range(7):
        await fetcher._proc_fetch_request(None, 0, None)
    # 3 empties at 50 ms, then idle (400) until a fetch brings records, then 50 again at once.
    assert fetcher.waits == [50, 50, 50, 400, 400, 50, 50]
    assert not wait.idle and wait.empty == 0
    assert metrics.fetch_wait_switches.labels("idle")._value.get() == 1
    assert metrics.fetch_wait_switches.labels("busy")._value.get() == 1


async def test_records_in_every_fetch_never_go_idle():
    fetcher = FakeFetcher([True, False, False, True] * 5)
    wait = AdaptiveFetchWait(50, 400, 3)
    assert wait.install(FakeConsumer(fetcher))
    for _ in range(20):
        await fetcher._proc_fetch_request(None, 0, None)
    assert set(fetcher.waits) == {50}


def test_without_the_internals_nothing_changes_and_it_says_so(caplog):
    consumer = FakeConsumer(object())  # a Fetcher without the attributes (another aiokafka)
    with caplog.at_level(logging.WARNING, logger="runtime.fetch_wait"):
        assert not AdaptiveFetchWait(50, 400, 3).install(consumer)
    assert "fetch wait stays fixed at 50 ms" in caplog.text
    assert not AdaptiveFetchWait(50, 400, 3).install(object())  # not started: no _fetcher at all


def test_an_idle_wait_not_above_the_busy_one_is_off():
    fetcher = FakeFetcher([])
    assert not AdaptiveFetchWait(50, 50, 3).install(FakeConsumer(fetcher))
    assert not AdaptiveFetchWait(200, 100, 3).install(FakeConsumer(fetcher))
    assert fetcher._proc_fetch_request.__func__ is FakeFetcher._proc_fetch_request


def test_faststream_batch_loop_is_what_poll_without_sleep_replaces():
    """FastStream's consume loop calls `self.get_msg(consumer)` (looked up on the instance) and skips an
    empty result; the batch subscriber's own get_msg sleeps after an empty poll (what we remove)."""
    from faststream.kafka.subscriber.usecase import BatchSubscriber, LogicSubscriber

    loop = inspect.getsource(LogicSubscriber._run_consume_loop)
    assert "msg = await self.get_msg(consumer)" in loop and "if msg:" in loop
    assert list(inspect.signature(BatchSubscriber.get_msg).parameters) == ["self", "consumer"]
    assert "anyio.sleep(self.batch_timeout_ms / 1000)" in inspect.getsource(BatchSubscriber.get_msg)


class FakeKafkaConsumer:
    def __init__(self, answers: list[dict]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict:
        self.calls.append((timeout_ms, max_records))
        return self.answers.pop(0)


async def test_poll_without_sleep_blocks_in_getmany_and_returns_every_partitions_records():
    from runtime.fetch_wait import POLL_BLOCK_MS, poll_without_sleep

    class Subscriber:
        max_records = 250

    sub = Subscriber()
    sub.consumer = FakeKafkaConsumer([{}, {"t/0": ["a", "b"], "t/1": ["c"]}])
    assert poll_without_sleep(sub)
    assert await sub.get_msg(sub.consumer) == ()  # empty: the loop polls again, no sleep
    assert sorted(await sub.get_msg(sub.consumer)) == ["a", "b", "c"]
    assert sub.consumer.calls == [(POLL_BLOCK_MS, 250)] * 2


def test_poll_without_sleep_leaves_unknown_subscribers_alone():
    from runtime.fetch_wait import poll_without_sleep

    class NotStarted:
        consumer = None
        max_records = 250

    class NoBatch:
        consumer = FakeKafkaConsumer([])

    for sub in (NotStarted(), NoBatch()):
        assert not poll_without_sleep(sub)
        assert "get_msg" not in vars(sub)
