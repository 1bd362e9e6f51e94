"""Per-carnet order of deliveries: a carnet's confirmations reach each endpoint in the order the ledger recorded
them (each carries its history position), one at a time; a failing one holds back that carnet's later ones to
that endpoint until it is delivered or dead; other carnets and endpoints go on. With one dispatcher or two on
one database. Receivers are on 127.0.0.1 under the development setting; every clock is the test's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from notifier import repository as repo
from notifier.app import build
from tests.support.notifier import client, register, rows, sender, settings  # noqa: F401 (settings: the fixture)
from tests.support.notifier_channels import hooks_clock  # noqa: F401 (the fixture)
from tests.support.notifier_order import LEASE, A, B, C, Receiver, confirm, drain


async def test_a_backlog_of_one_carnet_is_delivered_in_ledger_order_behind_a_failing_first_attempt(
    settings, clock, running, hooks_clock
):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with Receiver({A}) as hook, running(service) as broker, client(service) as http, sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await confirm(broker, clock, A, range(1, 6))
        await confirm(broker, clock, B, range(1, 3))
        first = await handlers.deliver_due(service.pool, out)  # A1 fails; B1 goes: one head per lane
        held = await drain(handlers, service.pool, out)  # B2 goes; A2.. wait behind A1
        while_held = [m["data"]["history_position"] for m in hook.verified if m["data"]["carnet_number"] == A]
        waiting = [
            r["next_attempt_at"]
            for r in await rows(
                service, "SELECT next_attempt_at FROM deliveries WHERE carnet_number = $1 ORDER BY seq", A
            )
        ]
        clock.now += timedelta(seconds=6)  # A1's retry is due
        after = await drain(handlers, service.pool, out)
        log = await rows(service, "SELECT carnet_number, attempts, status FROM deliveries ORDER BY seq")
    assert first == 2 and held == [1] and while_held == []
    # Those waiting behind the failed head are due when it is (kept out of the scan of due rows meanwhile).
    assert waiting[0] > clock.now - timedelta(seconds=6) and waiting[1:] == [waiting[0]] * 4
    assert [f["history_position"] for f in hook.failed] == [1]
    assert after == [1, 1, 1, 1, 1]  # one at a time, each after the previous one's answer
    assert hook.positions(A) == [1, 2, 3, 4, 5] and hook.positions(B) == [1, 2]
    assert [(d["carnet_number"], d["attempts"], d["status"]) for d in log] == (
        [(A, 2, "delivered")] + [(A, 1, "delivered")] * 4 + [(B, 1, "delivered")] * 2
    )


async def test_a_dead_delivery_releases_the_carnets_later_ones(settings, clock, running, hooks_clock):
    service = build(settings.model_copy(update={"delivery_max_attempts": 1}), clock=clock)
    handlers = service.state["handlers"]
    async with Receiver({A}) as hook, running(service) as broker, client(service) as http, sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await confirm(broker, clock, A, range(1, 4))
        sent = await drain(handlers, service.pool, out)
        statuses = [d["status"] for d in await rows(service, "SELECT status FROM deliveries ORDER BY seq")]
    assert sent == [1, 1, 1]
    assert statuses == ["dead", "delivered", "delivered"] and hook.positions(A) == [2, 3]


async def test_a_lane_whose_head_another_instance_holds_yields_nothing_not_its_successor(settings, clock, running):
    """FOR UPDATE SKIP LOCKED skips the locked head; the query must not fall through to the carnet's next one."""
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await register(service, http, "hld_1", "http://127.0.0.1:9/hooks")
        await confirm(broker, clock, A, range(1, 4))
        await confirm(broker, clock, B, range(1, 2))
        lanes = await rows(service, "SELECT delivery_id, carnet_number FROM deliveries ORDER BY seq")
        head_a = lanes[0]["delivery_id"]
        async with service.pool.acquire() as other, other.transaction():
            await other.execute("SELECT 1 FROM deliveries WHERE delivery_id = $1 FOR UPDATE", head_a)
            async with service.pool.acquire() as conn:
                while_locked = await repo.claim_due(conn, clock.now, LEASE, 50)
        async with service.pool.acquire() as conn:
            after = await repo.claim_due(conn, clock.now, LEASE, 50)
            leased = await repo.claim_due(conn, clock.now, LEASE, 50)
    assert [r["carnet_number"] for r in while_locked] == [B]
    assert [r["delivery_id"] for r in after] == [head_a]
    assert leased == []  # A1 is in flight (leased): A2 waits for its answer


async def test_two_dispatchers_on_one_database_keep_each_carnets_order(settings, clock, running, hooks_clock):
    first, second = build(settings, clock=clock), build(settings, clock=clock)
    for s in (first, second):
        s.state["handlers"].batch = 1  # each pass takes one lane, so the two instances share the work
    carnets = (A, B, C)
    async with (
        Receiver(set(carnets)) as hook,
        running(first) as broker,
        client(first) as http,
        sender(first) as out1,
        sender(second) as out2,
    ):
        await second.open_database()
        try:
            hook.secret = (await register(first, http, "hld_1", hook.url))["secret"]
            for carnet in carnets:
                await confirm(broker, clock, carnet, range(1, 7))
            per_instance = [0, 0]
            for _ in range(200):
                n1, n2 = await asyncio.gather(
                    first.state["handlers"].deliver_due(first.pool, out1),
                    second.state["handlers"].deliver_due(second.pool, out2),
                )
                per_instance[0] += n1
                per_instance[1] += n2
                if n1 == n2 == 0:
                    if len(hook.verified) == 18:
                        break
                    clock.now += timedelta(seconds=6)  # the failed first attempts come due
        finally:
            await second.pool.close()
    assert [len(hook.failed), len(hook.verified)] == [3, 18]
    for carnet in carnets:
        assert hook.positions(carnet) == [1, 2, 3, 4, 5, 6], carnet
    assert sum(per_instance) == 21 and min(per_instance) > 0


async def test_a_delivered_head_wakes_the_worker_only_when_its_lane_has_a_later_delivery(
    settings, clock, running, hooks_clock
):
    """The next confirmation of a carnet goes at once after the previous one's answer (the worker is woken); the
    last one of a lane wakes nothing, since a pass that finds nothing costs a statement per confirmation."""
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with Receiver(set()) as hook, running(service) as broker, client(service) as http, sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await confirm(broker, clock, A, range(1, 3))
        handlers.wake.clear()
        await handlers.deliver_due(service.pool, out)  # A1: A2 waits behind it
        woken_by_first = handlers.wake.is_set()
        handlers.wake.clear()
        await handlers.deliver_due(service.pool, out)  # A2: the lane's last
        woken_by_last = handlers.wake.is_set()
    assert hook.positions(A) == [1, 2]
    assert woken_by_first and not woken_by_last
