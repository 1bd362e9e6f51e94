"""Claims worker service: durable scheduling on a real PostgreSQL with the injected clock: racing workers act on each
deadline once, deadlines survive a restart and catch up in bounded passes. Time travels; the wall clock is never read.

The scheduler is driven by `Scheduler.run_once` at chosen instants; the outbox is drained after each pass to see which
events each day produced.
"""

from __future__ import annotations

import asyncio
from datetime import date, time, timedelta

from claims_worker.app import build
from tests.support.claims import FINAL, NUMBER, drain, goods_imported, local, scheduler

# --- durable scheduling -------------------------------------------------------------------------


async def test_two_worker_instances_race_and_every_deadline_is_acted_on_exactly_once(settings, clock, running):
    """Two instances on one database take the same due rows FOR UPDATE SKIP LOCKED at the same
    time: each deadline acted on once, one claim and one notice per carnet."""
    a = build(settings, clock=clock, instance="a")
    b = build(settings, clock=clock, instance="b")
    numbers = [f"FR26{n:08d}" for n in range(100, 124)]
    async with running(a) as broker:
        await b.open_database()
        try:
            for i, number in enumerate(numbers):
                await goods_imported(broker, clock, number=number, final=FINAL + timedelta(days=i % 5))
            clock.now = local(date(2027, 4, 1), time(12))
            for _ in range(3):  # a first pass catches up; later passes find nothing left
                counts = await asyncio.gather(scheduler(a).run_once(a.pool), scheduler(b).run_once(b.pool))
                if _ == 0:
                    first = counts
            events = await drain(a)
            async with a.pool.acquire() as conn:
                acted = await conn.fetch(
                    "SELECT acted_by, kind, count(*) AS n FROM deadlines WHERE state = 'acted' GROUP BY acted_by, kind"
                )
                left = await conn.fetchval(
                    "SELECT count(*) FROM deadlines WHERE state = 'pending' AND due_at <= $1", clock.now
                )
                claims = await conn.fetchval("SELECT count(*) FROM claims")
        finally:
            await b.pool.close()
    overdue_now = [n for i, n in enumerate(numbers) if FINAL + timedelta(days=i % 5) < date(2027, 4, 1)]
    notices = [e["key"] for e in events if e["type"] == "ClaimNoticeIssued"]
    reminders = [(e["key"], e["payload"]["days_before"]) for e in events if e["type"] == "ReminderRequested"]
    assert sorted(notices) == sorted(overdue_now) and len(set(notices)) == len(notices)
    assert claims == len(overdue_now)
    assert len(reminders) == len(set(reminders))
    assert left == 0
    assert sum(first) == sum(r["n"] for r in acted)  # the first pass did it all, each row by one instance
    assert sum(r["n"] for r in acted if r["kind"] == "overdue") == len(overdue_now)
    assert {r["acted_by"] for r in acted} == {"a", "b"}  # both took part


async def test_deadlines_survive_a_restart_and_catch_up_acts_in_due_order(settings, clock, running):
    """Recorded by one process, acted on by a new one after months of downtime, oldest first."""
    first = build(settings, clock=clock)
    async with running(first) as broker:
        await goods_imported(broker, clock, number="FR2600000028", final=date(2027, 3, 20))
        await goods_imported(broker, clock, number=NUMBER, final=date(2027, 3, 10))
        await goods_imported(broker, clock, number="FR2600000036", final=date(2027, 6, 30))
    second = build(settings, clock=clock)
    async with running(second):
        clock.now = local(date(2027, 6, 25))  # down from November to late June
        acted = await scheduler(second).run_once(second.pool)
        events = await drain(second)
        async with second.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT carnet_number, kind, days_before, outcome FROM deadlines WHERE state = 'acted'"
                " ORDER BY due_at, deadline_id"
            )
    noticed = [e["key"] for e in events if e["type"] == "ClaimNoticeIssued"]
    assert noticed == [NUMBER, "FR2600000028"]  # in the order their final dates passed
    assert [(e["key"], e["payload"]["days_before"]) for e in events if e["type"] == "ReminderRequested"] == [
        ("FR2600000036", 30),
        ("FR2600000036", 7),
    ]  # still ahead of the final date: sent late rather than never
    assert acted == len(rows) == 10  # 3 stale reminders x 2 carnets, 2 overdue checks, 2 reminders
    assert [r["outcome"] for r in rows if r["kind"] == "reminder" and r["carnet_number"] != "FR2600000036"] == [
        "stale"
    ] * 6


async def test_a_catch_up_goes_in_passes_of_a_bounded_size_and_the_loop_asks_for_the_next_at_once(
    settings, clock, running, monkeypatch
):
    """A long downtime is caught up in several passes (PASS_LIMIT each, oldest first), so that the loop's
    liveness never takes one long catch-up for a stuck pass (runtime/background.py)."""
    from claims_worker import scheduler as module

    monkeypatch.setattr(module, "PASS_LIMIT", 4)
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock, number="FR2600000028", final=date(2027, 3, 20))
        await goods_imported(broker, clock, number=NUMBER, final=date(2027, 3, 10))
        clock.now = local(date(2027, 6, 25))  # 8 deadlines due: 3 reminders and an overdue check per carnet
        loop = service.loops[0]
        assert loop.name == "claims-scheduler"
        passes = [await loop.pass_(), await loop.pass_(), await loop.pass_()]
        async with service.pool.acquire() as conn:
            acted = await conn.fetch(
                "SELECT carnet_number, kind FROM deadlines WHERE state = 'acted' ORDER BY due_at, deadline_id"
            )
    assert passes == [True, True, False]  # full, full, then nothing left: the loop waits a period
    assert len(acted) == 8
    assert [r["carnet_number"] for r in acted if r["kind"] == "overdue"] == [NUMBER, "FR2600000028"]
