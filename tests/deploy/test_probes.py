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

        service._spawn("outbox-relay", relay_that_crashes)  # how start() runs background tasks
        await asyncio.gather(*service._tasks, return_exceptions=True)
        dead = await http.get("/health/live")
        assert dead.status_code == 503 and dead.json()["status"] == "dead"
