"""Background loops, written once: a pass run on a period or on a NOTIFY, retried through outages, watched.

Every long-running task of a service (the outbox relay, the delivery worker, the claims scheduler, the
country-policy follower, the signing-key check, the gateway's trust-cache refresh) is a `BackgroundLoop`:

- **Passes.** The loop runs `pass_()`, then waits `period_s` or until woken (a NOTIFY on `channel`, or
  `wake` set by the service itself). A pass that answers True has more to do: the next one starts at once.
- **Listening.** With a `channel`, the loop holds one pooled connection LISTENing on it and takes a new
  one when it is lost (a database restart, a terminated backend). The pass that follows a new listener
  runs at once, so a NOTIFY missed while nobody listened is caught up.
- **Retries.** An error in `RETRYABLE` means the surroundings are away (database, network, broker): the
  pass is counted (`ata_background_failures_total{loop, error}`), logged as one warning line, and tried
  again after a capped exponential backoff with jitter; the loop never ends for it. Any other error is a
  fault of the code or the data that a retry does not change: it is logged with its traceback, counted,
  and ends the loop, so liveness reports it `dead` and the process is restarted where it shows.
- **Health.** `state()` is `ok`, `failing` (no successful pass for `failing_after_s`, N periods: readiness
  fails, as it does anyway while the database is away), `stuck` (no pass has *ended*, well or badly, for
  `stuck_after_s`: a pass hangs, and a restart is what repairs it) or `dead`. `/health/live` fails only on
  stuck and dead (runtime/http.py): restarting every instance because PostgreSQL is away would add a
  storm of restarts to the outage (docs/operations.md, probes). `ata_background_seconds_since_success`
  measures the same age for alerts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

log = logging.getLogger(__name__)

#: What a retry can mend. OSError covers refused and reset connections, DNS and timeouts (TimeoutError
#: is one); asyncpg.PostgresError the server's answers, among them a terminated backend (AdminShutdownError),
#: "the database system is starting up", too many connections, serialization failures (a deterministic one,
#: e.g. a missing table, repeats and shows as `failing`); asyncpg.InterfaceError a connection lost or a pool
#: closing; asyncpg.InternalClientError a connection that broke in the middle of an operation ("cannot switch
#: to state 11; another operation is in progress", seen on LISTEN while PostgreSQL restarted, which ended the
#: notifier's delivery worker for good); KafkaError the broker away or refusing for now (KafkaConnectionError,
#: KafkaTimeoutError, NotEnoughReplicas...), which the outbox relay always retried.
RETRYABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    KafkaError,
)

#: A pass answers True when it has more to do at once, None or False when it can wait a period.
Pass = Callable[[], Awaitable["bool | None"]]


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter: the n-th failure in a row waits up to base·2^(n-1), at most
    `cap_s`, drawn in [half, all] of it so that instances do not retry in step."""

    base_s: float = 0.5
    cap_s: float = 30.0

    def delay(self, failures: int, rng: random.Random) -> float:
        top = min(self.cap_s, self.base_s * 2 ** min(max(failures - 1, 0), 30))
        return rng.uniform(top / 2, top)


class LoopMetrics:
    """The metrics of every loop of a service, on its registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.failures = Counter(
            "ata_background_failures_total",
            "Failed passes of a background loop, by loop and error class.",
            ["loop", "error"],
            registry=registry,
        ).labels
        self.since_success = Gauge(
            "ata_background_seconds_since_success",
            "Seconds since the loop's last successful pass.",
            ["loop"],
            registry=registry,
        ).labels


class BackgroundLoop:
    def __init__(
        self,
        name: str,
        pass_: Pass,
        *,
        period_s: float,
        metrics: LoopMetrics,
        pool: Callable[[], asyncpg.Pool] | None = None,
        channel: str | None = None,
        wake: asyncio.Event | None = None,
        wait_first: bool = False,
        backoff: Backoff | None = None,
        failing_periods: int = 10,
        stuck_after_s: float | None = None,
        on_exit: Callable[[], Awaitable[None]] | None = None,
        on_notify: Callable[[str], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if period_s <= 0:
            raise ValueError("a loop's period must be positive")
        if channel is not None and pool is None:
            raise ValueError("listening needs a pool")
        self.name = name
        self.where = name  # in log lines: start() names the service too
        self.pass_ = pass_
        self.period_s = period_s
        self.pool = pool
        self.channel = channel
        self.wake = wake if wake is not None else asyncio.Event()
        self.wait_first = wait_first
        self.backoff = backoff or Backoff(cap_s=max(period_s, 5.0))
        self.failing_after_s = failing_periods * period_s
        #: Beyond asyncpg's 60 s connect timeout: a pass waiting on a connection attempt is not hung.
        self.stuck_after_s = stuck_after_s if stuck_after_s is not None else max(failing_periods * period_s, 120.0)
        self.on_exit = on_exit
        self.on_notify = on_notify
        self.monotonic = monotonic
        self.rng = rng or random.Random()
        self.failures = 0  # in a row
        self.passes = 0  # successful ones
        self.metrics = metrics
        self._listener: Any = None  # the connection LISTENing on `channel`
        self._listener_pool: Any = None
        self._task: asyncio.Task[None] | None = None
        self.last_success = self.last_ended = monotonic()
        metrics.since_success(name).set_function(lambda: self.monotonic() - self.last_success)

    # --- life cycle ------------------------------------------------------------------------------

    def start(self, task_name: str | None = None) -> asyncio.Task[None]:
        self.last_success = self.last_ended = self.monotonic()
        self.where = task_name or self.name
        self._task = asyncio.create_task(self.run(), name=self.where)
        return self._task

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def state(self) -> str:
        """ok, failing, stuck or dead (see the module's docstring); ok until started."""
        if self._task is None:
            return "ok"
        if self._task.done():
            return "dead"
        now = self.monotonic()
        if now - self.last_ended > self.stuck_after_s:
            return "stuck"
        if now - self.last_success > self.failing_after_s:
            return "failing"
        return "ok"

    @property
    def alive(self) -> bool:
        """What liveness asks: neither dead nor stuck (a failing loop retries by itself)."""
        return self.state() in ("ok", "failing")

    # --- the loop --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Until cancelled, or until an error that is not retryable."""
        try:
            if self.wait_first:
                await self._wait(self.period_s)
            while True:
                self.wake.clear()
                try:
                    await self._listen()
                    more = await self.pass_()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self.last_ended = self.monotonic()
                    self.failures += 1
                    self.metrics.failures(self.name, type(exc).__name__).inc()
                    if not isinstance(exc, RETRYABLE):
                        log.exception(
                            "background loop %s: pass failed on an error a retry cannot mend; the loop ends", self.where
                        )
                        raise
                    delay = self.backoff.delay(self.failures, self.rng)
                    log.warning(
                        "background loop %s: pass failed (%d in a row), retrying in %.1f s: %s: %s",
                        self.where,
                        self.failures,
                        delay,
                        type(exc).__name__,
                        exc,
                    )
                    await asyncio.sleep(delay)
                    continue
                self.last_success = self.last_ended = self.monotonic()
                self.failures = 0
                self.passes += 1
                if not more:
                    await self._wait(self.period_s)
        finally:
            await self._unlisten()
            if self.on_exit is not None:
                await self.on_exit()

    async def _wait(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that meets the wake-up
        # (the event set as stop() cancels), and the loop then never ends.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.wake.wait()

    def _notified(self, *args: Any) -> None:
        # asyncpg calls a listener with (connection, pid, channel, payload), a termination listener with (connection).
        if self.on_notify is not None and len(args) == 4:
            self.on_notify(args[3])
        self.wake.set()

    async def _listen(self) -> None:
        """Hold a listening connection; take a new one when it was lost."""
        if self.channel is None or self.pool is None:
            return
        if self._listener is not None and not _lost(self._listener):
            return
        await self._unlisten()
        pool = self.pool()
        listener = await pool.acquire()
        try:
            await listener.add_listener(self.channel, self._notified)
            # Lost later (terminated, network): wake up, so that the next pass listens again at once.
            listener.add_termination_listener(self._notified)
        except BaseException:
            await pool.release(listener)
            raise
        self._listener, self._listener_pool = listener, pool

    async def _unlisten(self) -> None:
        """Let go of the listening connection (one lost is given back too: the pool replaces it)."""
        if self._listener is None:
            return
        listener, pool = self._listener, self._listener_pool
        self._listener = self._listener_pool = None
        with contextlib.suppress(Exception):
            listener.remove_termination_listener(self._notified)
            await listener.remove_listener(self.channel, self._notified)
        with contextlib.suppress(Exception):
            await pool.release(listener)


def _lost(conn: Any) -> bool:
    """Whether a pooled connection is gone: closed, or detached from its proxy by the pool after it was lost."""
    try:
        return bool(conn.is_closed())
    except asyncpg.InterfaceError:
        return True
