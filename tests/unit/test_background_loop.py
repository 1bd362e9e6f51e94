"""runtime.background: retries with a capped, jittered backoff through what a retry mends, ends on anything
else (dead), and tells ok / failing / stuck apart on an injected monotonic clock."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry

from runtime.background import RETRYABLE, BackgroundLoop, Backoff, LoopMetrics


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def failures(registry: CollectorRegistry, loop: str, error: str) -> float:
    return registry.get_sample_value("ata_background_failures_total", {"loop": loop, "error": error}) or 0.0


def test_backoff_doubles_up_to_its_cap_with_jitter_below_each_step() -> None:
    backoff, rng = Backoff(base_s=0.5, cap_s=4.0), random.Random(7)
    for n, top in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 4.0), (60, 4.0)]:
        delays = [backoff.delay(n, rng) for _ in range(200)]
        assert all(top / 2 <= d <= top for d in delays)
        assert max(delays) - min(delays) > top / 4  # jittered, not one value


def test_the_surroundings_are_retryable_and_a_bug_is_not() -> None:
    for exc in (
        ConnectionRefusedError(),
        TimeoutError(),
        asyncpg.exceptions.AdminShutdownError(),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.ConnectionDoesNotExistError(),
        KafkaConnectionError(),
        asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress"),
    ):
        assert isinstance(exc, RETRYABLE)
    for exc in (ValueError(), KeyError(), AssertionError()):
        assert not isinstance(exc, RETRYABLE)


async def test_a_loop_survives_retryable_failures_counts_them_and_recovers() -> None:
    registry, ticks, passes = CollectorRegistry(), Ticks(), []
    down = 3

    async def pass_() -> None:
        passes.append(ticks.now)
        if len(passes) <= down:
            raise ConnectionRefusedError("database away")

    loop = BackgroundLoop(
        "demo",
        pass_,
        period_s=0.01,
        metrics=LoopMetrics(registry),
        failing_periods=2,
        backoff=Backoff(0.001, 0.002),
        monotonic=ticks,
    )
    loop.start()
    try:
        while len(passes) < down:  # noqa: ASYNC110 (the loop's own passes, polled as a probe would)
            await asyncio.sleep(0.005)
        ticks.now += 1  # no success for longer than 2 periods: readiness says failing, liveness does not mind
        assert loop.state() == "failing" and loop.alive
        while len(passes) <= down + 1:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        assert loop.state() == "ok" and loop.failures == 0
        assert failures(registry, "demo", "ConnectionRefusedError") == down
        assert registry.get_sample_value("ata_background_seconds_since_success", {"loop": "demo"}) == 0.0
    finally:
        await loop.stop()


async def test_a_pass_that_raises_a_bug_ends_the_loop_dead(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()

    async def pass_() -> None:
        raise ValueError("a bug")

    loop = BackgroundLoop("demo", pass_, period_s=0.01, metrics=LoopMetrics(registry))
    task = loop.start()
    await asyncio.gather(task, return_exceptions=True)
    assert loop.state() == "dead" and not loop.alive
    assert failures(registry, "demo", "ValueError") == 1
    assert "a retry cannot mend" in caplog.text


async def test_a_pass_that_never_ends_is_stuck_and_one_that_ends_is_not() -> None:
    ticks, release = Ticks(), asyncio.Event()

    async def pass_() -> None:
        await release.wait()

    loop = BackgroundLoop(
        "demo", pass_, period_s=1.0, metrics=LoopMetrics(CollectorRegistry()), stuck_after_s=60, monotonic=ticks
    )
    loop.start()
    try:
        ticks.now += 59
        assert loop.state() == "failing" and loop.alive  # no success for 10 periods, not yet hung for 60 s
        ticks.now += 2
        assert loop.state() == "stuck" and not loop.alive
        release.set()
        await asyncio.sleep(0.01)
        assert loop.state() == "ok"
    finally:
        await loop.stop()


async def test_a_pass_with_more_to_do_runs_again_at_once_and_wake_cuts_the_wait() -> None:
    runs = 0

    async def pass_() -> bool:
        nonlocal runs
        runs += 1
        return runs < 3

    loop = BackgroundLoop("demo", pass_, period_s=60, metrics=LoopMetrics(CollectorRegistry()))
    loop.start()
    try:
        await asyncio.sleep(0.02)
        assert runs == 3  # two full passes, then the period's wait
        loop.wake.set()
        await asyncio.sleep(0.02)
        assert runs == 4
    finally:
        await loop.stop()


def test_a_period_must_be_positive_and_listening_needs_a_pool() -> None:
    async def pass_() -> None:
        return None

    with pytest.raises(ValueError):
        BackgroundLoop("demo", pass_, period_s=0, metrics=LoopMetrics(CollectorRegistry()))
    with pytest.raises(ValueError):
        BackgroundLoop("demo", pass_, period_s=1, metrics=LoopMetrics(CollectorRegistry()), channel="x")


class BrokenOnceConnection:
    """A pooled connection whose first LISTEN meets a connection that broke mid-operation, as asyncpg reports it
    while PostgreSQL restarts."""

    def __init__(self, broken: bool) -> None:
        self.broken = broken
        self.listening: list[str] = []

    async def add_listener(self, channel: str, _callback: object) -> None:
        if self.broken:
            raise asyncpg.InternalClientError("cannot switch to state 11; another operation (2) is in progress")
        self.listening.append(channel)

    def add_termination_listener(self, _callback: object) -> None:
        pass

    def remove_termination_listener(self, _callback: object) -> None:
        pass

    async def remove_listener(self, _channel: str, _callback: object) -> None:
        pass

    def is_closed(self) -> bool:
        return False


class Pool:
    def __init__(self) -> None:
        self.handed: list[BrokenOnceConnection] = []
        self.released = 0

    async def acquire(self) -> BrokenOnceConnection:
        self.handed.append(BrokenOnceConnection(broken=not self.handed))
        return self.handed[-1]

    async def release(self, _conn: BrokenOnceConnection) -> None:
        self.released += 1


async def test_a_listener_broken_by_a_database_restart_is_replaced_and_the_loop_lives_on() -> None:
    """The notifier's delivery worker once ended for good on this error, and no confirmation was pushed any more
    (the crossing's step 5 in DOMAIN.md). Each NOTIFY's payload is told to `on_notify`, and the loop stops
    even when a wake-up meets the stop."""
    registry, pool, passes, told = CollectorRegistry(), Pool(), [], []

    async def pass_() -> None:
        passes.append(1)

    loop = BackgroundLoop(
        "deliveries",
        pass_,
        period_s=0.01,
        metrics=LoopMetrics(registry),
        pool=lambda: pool,
        channel="wake",
        backoff=Backoff(0.001, 0.002),
        on_notify=told.append,
    )
    loop.start()
    try:
        async with asyncio.timeout(10):  # a loop that ended would never pass
            while not passes and loop.alive:  # noqa: ASYNC110 (the loop's own passes, polled as a probe would)
                await asyncio.sleep(0.005)
        assert loop.alive and loop.state() == "ok"
        assert failures(registry, "deliveries", "InternalClientError") == 1
        assert pool.released == 1 and pool.handed[-1].listening == ["wake"]
        loop._notified(pool.handed[-1])  # what asyncpg calls when the connection terminates: no NOTIFY
        loop._notified(pool.handed[-1], 4242, "wake", "payload")  # what it calls on a NOTIFY
        assert told == ["payload"]
    finally:
        # Stopped as the wake-up lands: with asyncio.wait_for (Python 3.11) the cancellation was lost, for ever.
        async with asyncio.timeout(5):
            await loop.stop()
