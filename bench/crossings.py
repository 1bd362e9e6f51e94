"""Crossings end to end: holder API -> gateway commit -> core -> notifier -> the holder's webhook.

One crossing: the holder declares (POST /v1/carnets/{n}/declarations on the core), the officer
commits the token (POST /v1/commits on the gateway), the core records the decision and asks the
notifier, which delivers the signed confirmation to the holder's webhook (the demo's receiver,
deploy/local/webhook_receiver.py, which verifies every signature). Latency runs from the commit
posted to the confirmation received. A carnet alternates exportation and re-importation at home
(R8, R11), so each carnet carries one crossing at a time, for ever; it is ready for the next
once its confirmation has arrived (the core recorded the last one by then).

`closed_loop(c)` keeps c crossings in flight (each worker starts the next when its confirmation
arrives): the ramp over c finds the maximum sustained rate. `open_loop(rate)` starts crossings
at a fixed rate whatever happens to the earlier ones, as customs offices would.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploy.local.demo import officer_session
from deploy.local.identity import mint_wallet_token
from deploy.local.webhook_receiver import WebhookReceiver

OFFICE = "FR-CDG-FRET"
KINDS = ("exportation", "reimportation")


class CrossingError(RuntimeError):
    pass


class TimedReceiver(WebhookReceiver):
    """The demo's verifying receiver, noting when each carnet's confirmation arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.waiters: dict[str, asyncio.Future[float]] = {}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        before = len(self.messages)
        await super().__call__(scope, receive, send)
        if len(self.messages) > before:
            number = self.messages[-1].get("data", {}).get("carnet_number")
            self.messages.clear()  # a long run would otherwise keep every body
            waiter = self.waiters.pop(number, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(time.perf_counter())


@dataclass
class Sample:
    started: float  # crossing begun (declaration posted)
    committed: float  # commit posted
    confirmed: float  # confirmation received

    @property
    def latency_ms(self) -> float:
        return (self.confirmed - self.committed) * 1000


@dataclass
class Window:
    label: str
    offered: float
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    starved: int = 0

    def summary(self) -> dict[str, Any]:
        lat = sorted(s.latency_ms for s in self.samples)
        return {
            "label": self.label,
            "offered": round(self.offered, 1),
            "seconds": round(self.seconds, 2),
            "crossings": len(self.samples),
            "crossings_per_s": round(len(self.samples) / self.seconds, 1),
            "p50_ms": pct(lat, 50),
            "p95_ms": pct(lat, 95),
            "p99_ms": pct(lat, 99),
            "max_ms": pct(lat, 100),
            "errors": self.errors,
            "starved": self.starved,
        }


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    k = min(len(values) - 1, max(0, math.ceil(p / 100 * len(values)) - 1))  # nearest rank
    return round(values[k], 2)


class Crossings:
    def __init__(
        self,
        endpoints: dict[str, str],
        wallet_key: Path,
        admin_token: str,
        holder_id: str,
        carnets: list[str],
        *,
        officers: int = 4,
        timeout_s: float = 30.0,
    ) -> None:
        self.endpoints = endpoints
        self.core = endpoints["core"]
        self.gateway = endpoints["customs_gateway"]
        self.notifier = endpoints["notifier"]
        self.holder_id = holder_id
        self.holder = {"Authorization": f"Bearer {mint_wallet_token(wallet_key, holder_id)}"}
        # The same wallet signs in to the notifier, with the notifier's audience.
        self.holder_at_notifier = {
            "Authorization": f"Bearer {mint_wallet_token(wallet_key, holder_id, 'ata-notifier')}"
        }
        self.admin_token = admin_token
        self.n_officers = officers
        self.officers: list[dict[str, str]] = []
        self.timeout_s = timeout_s
        #: carnet -> index in KINDS of its next crossing
        self.next_kind = {n: 0 for n in carnets}
        self.ready: asyncio.Queue[str] = asyncio.Queue()
        for n in carnets:
            self.ready.put_nowait(n)
        self.receiver = TimedReceiver()
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
        self.http = httpx.AsyncClient(timeout=timeout_s, limits=limits)
        self._turn = 0

    async def __aenter__(self) -> Crossings:
        await self.receiver.start()
        r = await self.http.post(
            f"{self.notifier}/v1/endpoints/webhooks", json={"url": self.receiver.url}, headers=self.holder_at_notifier
        )
        r.raise_for_status()
        self.receiver.secret = r.json()["secret"]
        for i in range(self.n_officers):
            self.officers.append(
                await officer_session(
                    self.http,
                    self.gateway,
                    self.admin_token,
                    f"bench-officer-{i}-{time.monotonic_ns() % 10**6}",
                    OFFICE,
                )
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self.receiver.stop()

    async def declare(self, number: str) -> dict[str, Any]:
        kind = KINDS[self.next_kind.get(number, 0)]
        r = await self.http.post(
            f"{self.core}/v1/carnets/{number}/declarations",
            headers=self.holder,
            json={"kind": kind, "country": "FR", "items": [1, 2, 3]},
        )
        if r.status_code != 201:
            raise CrossingError(f"{kind} of {number} refused: {r.status_code} {r.text[:300]}")
        return r.json()

    async def commit(self, token: str) -> None:
        self._turn += 1
        r = await self.http.post(
            f"{self.gateway}/v1/commits",
            headers=self.officers[self._turn % len(self.officers)],
            json={"token": token, "decision": "committed"},
        )
        if r.status_code != 202:
            raise CrossingError(f"commit refused: {r.status_code} {r.text[:300]}")

    async def cross(self, number: str) -> Sample:
        """One crossing of one carnet; the carnet goes back to the ready queue only if it completed."""
        started = time.perf_counter()
        declaration = await self.declare(number)
        waiter = asyncio.get_running_loop().create_future()
        self.receiver.waiters[number] = waiter
        committed = time.perf_counter()
        try:
            await self.commit(declaration["token"])
            confirmed = await asyncio.wait_for(waiter, self.timeout_s)
        finally:
            self.receiver.waiters.pop(number, None)
        self.next_kind[number] = 1 - self.next_kind[number]
        self.ready.put_nowait(number)
        return Sample(started, committed, confirmed)

    async def warm_up(self, count: int, on_done: Callable[[], None] = lambda: None) -> None:
        """A few crossings one at a time: a broken stack fails here, with the reason, not as a zero figure."""
        for _ in range(count):
            await self.cross(await self.ready.get())
            on_done()

    async def closed_loop(self, concurrency: int, seconds: float, on_done: Callable[[], None] = lambda: None) -> Window:
        window = Window(f"closed c={concurrency}", concurrency, seconds)
        end = time.perf_counter() + seconds
        begun = time.perf_counter()

        async def worker() -> None:
            while time.perf_counter() < end:
                number = await self.ready.get()
                try:
                    sample = await self.cross(number)
                except (CrossingError, TimeoutError, httpx.HTTPError):
                    window.errors += 1
                    continue
                if sample.confirmed <= end:
                    window.samples.append(sample)
                    on_done()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        window.seconds = min(time.perf_counter(), end) - begun
        window.offered = len(window.samples) / window.seconds  # a closed loop offers what it completes
        window.label = f"closed c={concurrency}"
        return window

    async def open_loop(
        self, rate: float, seconds: float, label: str, on_done: Callable[[], None] = lambda: None
    ) -> Window:
        """Start `rate` crossings a second for `seconds`; counts those confirmed within the window + timeout."""
        window = Window(label, rate, seconds)
        tasks: list[asyncio.Task[None]] = []
        begun = time.perf_counter()

        async def one(number: str) -> None:
            try:
                window.samples.append(await self.cross(number))
                on_done()
            except (CrossingError, TimeoutError, httpx.HTTPError):
                window.errors += 1

        n = 0
        while True:
            due = begun + n / rate
            now = time.perf_counter()
            if due >= begun + seconds:
                break
            if due > now:
                await asyncio.sleep(due - now)
            n += 1
            try:
                number = self.ready.get_nowait()
            except asyncio.QueueEmpty:
                window.starved += 1  # every carnet is in flight: more carnets, or the system is saturated
                continue
            tasks.append(asyncio.create_task(one(number)))
        await asyncio.gather(*tasks)
        # Throughput over the offered window: what the system absorbed while load was applied.
        window.seconds = max(seconds, max((s.confirmed for s in window.samples), default=begun) - begun)
        return window
