"""A database outage as a service's background loops see it, and the loop settings that make one short."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from runtime.background import BackgroundLoop, Backoff


class FlakyPool:
    """Wraps a pool: while `down`, acquiring a connection is refused, as when PostgreSQL is away."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.down = False
        self.refused = 0

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        if self.down:
            self.refused += 1
            raise ConnectionRefusedError("connection refused (simulated outage)")
        return self.pool.acquire(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


async def terminate_backends(database_url: str) -> int:
    """pg_terminate_backend on every other connection to the database: pooled ones and listeners die."""
    conn = await asyncpg.connect(database_url)
    try:
        return len(
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


def quicken(loop: BackgroundLoop, *, period_s: float = 0.05) -> BackgroundLoop:
    """Short periods and thresholds, so that a second-long outage shows as `failing` and ends as `ok`."""
    loop.period_s = period_s
    loop.backoff = Backoff(base_s=0.01, cap_s=0.1)
    loop.failing_after_s = 0.3
    loop.stuck_after_s = 30.0
    return loop


async def eventually(condition: Callable[[], bool], *, within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    assert condition(), "not within the time allowed"


async def ride_out_outage(
    loop: BackgroundLoop, pool: FlakyPool, database_url: str, *, seconds: float = 2.0
) -> set[str]:
    """Every backend terminated and the pool refusing for `seconds`; answers the states the loop went through.
    The loop must never be dead or stuck (liveness holds) and must be `ok` again afterwards, the same task."""
    task = loop._task
    await eventually(lambda: loop.passes > 0 and loop.state() == "ok")
    seen: set[str] = set()
    pool.down = True
    await terminate_backends(database_url)
    for _ in range(int(seconds / 0.05)):
        await asyncio.sleep(0.05)
        seen.add(loop.state())
        assert loop.alive, loop.state()
    pool.down = False
    passes = loop.passes
    await eventually(lambda: loop.passes > passes and loop.state() == "ok")
    assert loop._task is task and not task.done()  # recovered without a restart
    return seen


async def only_a_notify_wakes(loop: BackgroundLoop) -> None:
    """A period longer than any test, and one more pass so that the loop is waiting on it: from now on only a
    NOTIFY (or `wake`) starts a pass, which proves the loop listens."""
    loop.period_s = 600.0
    passes = loop.passes
    loop.wake.set()
    await eventually(lambda: loop.passes > passes)
