"""The first attempt handed from the consumer to the in-process worker (notifier.handover): a lane's head goes
out once, without a scan of due rows, and never again from the scan; lane order holds behind it; a crash before
its push leaves it to the scan once its lease ends. Receivers on 127.0.0.1 under the development setting; every
clock is the test's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from notifier import repository as repo
from notifier.app import build
from tests.support.notifier import client, register, rows, sender, settings  # noqa: F401 (settings: the fixture)
from tests.support.notifier_channels import hooks_clock  # noqa: F401 (the fixture)
from tests.support.notifier_order import A, B, Receiver, confirm, drain


def statements(service: Any) -> float:
    return service.registry.get_sample_value("ata_db_statements_total") or 0.0


@asynccontextmanager
async def working(service: Any, running: Any, fail_once: set[str]) -> AsyncIterator[tuple[Any, Any, Any, Any]]:
    """(handlers, receiver, broker, delivery client) of a service whose delivery worker runs in this process (its
    loop opens the hand-over), with the receiver registered for hld_1."""
    handlers = service.state["handlers"]
    handlers.handover.open = True
    async with Receiver(fail_once) as hook, running(service) as broker, client(service) as http, sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        yield handlers, hook, broker, out


async def lane(service: Any, carnet: str) -> list[tuple[int, str]]:
    found = await rows(service, "SELECT attempts, status FROM deliveries WHERE carnet_number = $1 ORDER BY seq", carnet)
    return [(r["attempts"], r["status"]) for r in found]


async def test_a_handed_over_delivery_is_pushed_once_without_a_scan_and_never_by_the_scan(
    settings, clock, running, hooks_clock
):
    service = build(settings, clock=clock)
    async with working(service, running, set()) as (handlers, hook, broker, out):
        await confirm(broker, clock, B, range(1, 2))
        await handlers.deliver_handed(service.pool, out)  # the first use of each type makes asyncpg look it up
        await confirm(broker, clock, A, range(1, 2))
        stored = await rows(service, "SELECT attempts, next_attempt_at FROM deliveries WHERE carnet_number = $1", A)
        handed = len(handlers.handover)
        scanned_first = await handlers.deliver_due(service.pool, out)  # leased to this process: not due
        before = statements(service)
        more = await handlers.deliver_handed(service.pool, out)
        pushing = statements(service) - before
        clock.now += handlers.lease + timedelta(seconds=1)
        scanned_after = await drain(handlers, service.pool, out)
        log = await lane(service, A)
    assert stored == [{"attempts": 1, "next_attempt_at": clock.now - timedelta(seconds=1)}] and handed == 1
    assert scanned_first == 0 and scanned_after == []
    assert pushing == 1  # log_delivered alone: no scan, no claim
    assert more is False and hook.positions(A) == [1] and hook.positions(B) == [1] and len(hook.headers) == 2
    assert log == [(1, "delivered")]


async def test_a_lane_keeps_its_order_behind_a_handed_over_head_that_fails(settings, clock, running, hooks_clock):
    service = build(settings, clock=clock)
    async with working(service, running, {A}) as (handlers, hook, broker, out):
        await confirm(broker, clock, A, range(1, 4))  # A1 heads the lane and is handed over; A2, A3 wait
        await confirm(broker, clock, B, range(1, 2))
        handed = sorted(r["carnet_number"] for r in handlers.handover._rows)
        behind = await handlers.deliver_due(service.pool, out)  # A2 is due but has a pending predecessor
        await handlers.deliver_handed(service.pool, out)  # A1 fails (rescheduled), B1 goes
        held = await drain(handlers, service.pool, out)
        clock.now += timedelta(seconds=6)  # A1's retry is due
        after = await drain(handlers, service.pool, out)
        log = await lane(service, A)
    assert handed == [A, B] and behind == 0 and held == []
    assert [f["history_position"] for f in hook.failed] == [1]
    assert after == [1, 1, 1] and hook.positions(A) == [1, 2, 3] and hook.positions(B) == [1]
    assert log == [(2, "delivered"), (1, "delivered"), (1, "delivered")]


async def test_a_crash_before_the_push_leaves_the_delivery_to_the_scan_after_its_lease(
    settings, clock, running, hooks_clock
):
    service = build(settings, clock=clock)
    restarted = build(settings, clock=clock)  # the same database, nothing handed over to it
    async with working(service, running, set()) as (handlers, hook, broker, out):
        await confirm(broker, clock, A, range(1, 2))
        handlers.handover.close()  # the process dies with the hand-over unpushed
        await restarted.open_database()
        try:
            again = restarted.state["handlers"]
            during_lease = await again.deliver_due(restarted.pool, out)
            clock.now += again.lease + timedelta(seconds=1)
            after_lease = await drain(again, restarted.pool, out)
        finally:
            await restarted.pool.close()
        log = await lane(service, A)
    assert during_lease == 0 and after_lease == [1]
    assert hook.positions(A) == [1] and len(hook.headers) == 1
    assert log == [(2, "delivered")]  # the lost first attempt counted, as a worker dying mid-attempt is


async def test_a_handed_over_delivery_that_waited_past_its_lease_is_left_to_the_scan(
    settings, clock, running, hooks_clock
):
    """Pushed that late, it could be pushed twice: the scan may already have given it to another worker."""
    service = build(settings, clock=clock)
    async with working(service, running, set()) as (handlers, hook, broker, out):
        await confirm(broker, clock, A, range(1, 2))
        clock.now += handlers.lease - timedelta(seconds=handlers.timeout_s)
        await handlers.deliver_handed(service.pool, out)
        left = list(hook.headers)
        clock.now += timedelta(seconds=handlers.timeout_s + 1)
        scanned = await drain(handlers, service.pool, out)
    assert left == [] and len(handlers.handover) == 0
    assert scanned == [1] and hook.positions(A) == [1]


async def test_the_running_worker_pushes_a_confirmation_without_scanning_for_it(
    settings, clock, running, hooks_clock, monkeypatch
):
    """The whole path: the consumer's commit hands the delivery over (runtime.commit_hooks) and the worker's loop
    pushes it; the only scan is the start-up one (the period's is put off for the test)."""
    scans = []
    claim_due = repo.claim_due

    async def counted(*args: Any, **kwargs: Any) -> Any:
        scans.append(1)
        return await claim_due(*args, **kwargs)

    monkeypatch.setattr(repo, "claim_due", counted)
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    handlers.handover.scan_every_s = 3600
    async with Receiver(set()) as hook, running(service) as broker, client(service) as http:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        loop = handlers.worker(lambda: service.pool, service.loop_metrics)
        loop.start()
        try:
            async with asyncio.timeout(10):
                while not handlers.handover.open:  # noqa: ASYNC110 (the loop's first pass, polled)
                    await asyncio.sleep(0.01)
                await confirm(broker, clock, A, range(1, 2))
                while (log := await lane(service, A)) != [(1, "delivered")]:  # noqa: ASYNC110 (the table, polled)
                    await asyncio.sleep(0.01)
        finally:
            await loop.stop()
    assert hook.positions(A) == [1] and log == [(1, "delivered")]
    assert len(scans) == 1
