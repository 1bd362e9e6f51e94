"""/health/live (liveness) answers without the database or the broker and fails only on what a restart fixes,
a dead background task; /health (readiness) still checks everything (deploy/k8s probes, issue 8 item 5)."""

from __future__ import annotations

import asyncio

import httpx

from runtime.service import Service
from runtime.settings import Settings


async def test_liveness_ignores_dependencies_and_fails_on_a_dead_background_task(tmp_path):
    # Nothing started: no pool, no broker. Readiness says so; liveness does not care.
    service = Service("core", Settings(database_url="postgresql://nobody@127.0.0.1:1/none"), tmp_path)
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as http:
        live = await http.get("/health/live")
        assert live.status_code == 200 and live.json()["checks"] == {"background_tasks": True}
        ready = await http.get("/health")
        assert ready.status_code == 503 and ready.json()["checks"]["database"] is False

        async def relay_that_crashes() -> None:
            raise RuntimeError("relay crashed")

        # A bug, not an outage: the loop ends as dead (runtime/background.py), as start() would run it.
        crashed = service.loop("outbox-relay", relay_that_crashes, period_s=1.0).start("core:outbox-relay")
        await asyncio.gather(crashed, return_exceptions=True)
        dead = await http.get("/health/live")
        assert dead.status_code == 503 and dead.json()["status"] == "dead"


async def test_liveness_fails_on_a_stuck_or_dead_loop_and_readiness_also_on_a_failing_one(tmp_path):
    """runtime/background.py: a loop failing while PostgreSQL is away fails readiness only; stuck or dead, liveness."""
    service = Service("core", Settings(database_url="postgresql://nobody@127.0.0.1:1/none"), tmp_path)
    ticks = [1000.0]
    hang = asyncio.Event()

    async def hangs() -> None:
        await hang.wait()

    async def refused() -> None:
        raise ConnectionRefusedError("database away")

    stuck = service.loop("hangs", hangs, period_s=1.0, stuck_after_s=60, monotonic=lambda: ticks[0])
    failing = service.loop("refused", refused, period_s=1.0, monotonic=lambda: ticks[0])
    transport = httpx.ASGITransport(app=service.http)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as http:
        stuck.start(), failing.start()
        try:
            await asyncio.sleep(0.01)
            ticks[0] += 30  # no success for 30 periods: failing; hung for 30 s, under the 60 s allowed
            live = await http.get("/health/live")
            assert live.status_code == 200 and live.json()["loops"] == {"hangs": "failing", "refused": "failing"}
            ready = await http.get("/health")
            assert ready.status_code == 503 and ready.json()["checks"]["background_tasks"] is False
            ticks[0] += 31
            live = await http.get("/health/live")
            assert live.status_code == 503 and live.json()["loops"]["hangs"] == "stuck"
            hang.set()
            await asyncio.sleep(0.01)
            assert (await http.get("/health/live")).status_code == 200
        finally:
            await stuck.stop()
            await failing.stop()
