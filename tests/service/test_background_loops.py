"""Every background loop rides out a database outage of a few seconds (every backend terminated, the pool
refusing): it fails, is counted, never dead or stuck, and is `ok` again afterwards without a restart. The
listening loops listen again: a NOTIFY sent after the outage still wakes them (runtime/background.py)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from runtime.background import LoopMetrics
from runtime.outbox import OutboxRelay, add_many, envelope_for
from runtime.service import Service
from tests.support.outage import FlakyPool, eventually, only_a_notify_wakes, quicken, ride_out_outage

#: (service package, loop name): every loop a service registers at build time.
LOOPS = [
    ("core", "country-policy"),
    ("core", "signing-key"),
    ("claims_worker", "claims-scheduler"),
    ("notifier", "delivery-worker"),
    ("customs_gateway", "trust-cache"),
]


def failures(registry: CollectorRegistry, loop: str) -> float:
    return sum(
        s.value
        for m in registry.collect()
        if m.name == "ata_background_failures"
        for s in m.samples
        if s.name.endswith("_total") and s.labels["loop"] == loop
    )


@pytest.mark.parametrize(("package", "name"), LOOPS, ids=[f"{p}:{n}" for p, n in LOOPS])
async def test_a_loop_survives_a_database_outage_and_liveness_recovers(
    package: str, name: str, settings: Any, clock: Any, running: Any
) -> None:
    service: Service = importlib.import_module(f"{package}.app").build(settings, clock=clock)
    loop = quicken(next(loop for loop in service.loops if loop.name == name))
    async with running(service):
        if package == "core":  # what the on_start hooks do before any loop runs
            async with service.pool.acquire() as conn:
                await service.state["policy"].load(conn, Path(importlib.import_module("core.policy_store").POLICY_FILE))
        pool = service._pool = FlakyPool(service.pool)  # type: ignore[assignment]
        loop.start()
        try:
            seen = await ride_out_outage(loop, pool, settings.database_url)
            assert "failing" in seen and pool.refused > 0
            assert failures(service.registry, name) > 0
            assert service.background_alive() and service.loop_states()[name] == "ok"
        finally:
            await loop.stop()


class Sink:
    """Stands in for the broker: what the relay published."""

    def __init__(self) -> None:
        self.published: list[bytes | None] = []

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, **_: Any) -> None:
        self.published.append(key)


async def test_the_outbox_relay_survives_an_outage_and_a_notify_after_it_still_wakes_it(
    settings: Any, tmp_path: Path
) -> None:
    from contracts.messages import IssuanceRejected, Reason

    (tmp_path / "migrations").mkdir()
    service = Service("outboxloop", settings, tmp_path / "migrations")
    await service.open_database()
    pool = FlakyPool(service.pool)
    sink, registry = Sink(), CollectorRegistry()
    loop = quicken(OutboxRelay(pool, sink, service.schema, service.metrics).background(LoopMetrics(registry)))  # type: ignore[arg-type]
    loop.start()
    try:
        seen = await ride_out_outage(loop, pool, settings.database_url)
        assert "failing" in seen and failures(registry, "outbox-relay") > 0
        await only_a_notify_wakes(loop)
        payload = IssuanceRejected(
            request_id="REQ-9", nga="FR", reasons=[Reason(rule="R4", message="after the outage")]
        )
        async with service.pool.acquire() as conn, conn.transaction():
            await add_many(
                conn, [("t.answers", "REQ-9", envelope_for(payload, key="REQ-9", producer="issuer"), payload)]
            )
        await eventually(lambda: sink.published == [b"REQ-9"])
    finally:
        await loop.stop()
        await service.pool.close()
