"""Claims worker service: the claims procedure on a real PostgreSQL with the injected clock
(DOMAIN.md R19-R25, R27). Time travels; the wall clock is never read.

The scheduler is driven by `Scheduler.run_once` at chosen instants; the outbox is drained after
each pass to see which events each day produced.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from claims_worker.app import build
from contracts import claims as c
from contracts.kinds import DeclarationKind as K
from contracts.topics import (
    CLAIMS_CUSTOMS_ACTIONS,
    CLAIMS_EVENTS,
    CLAIMS_NGA_NOTICES,
    CLAIMS_NGA_RESPONSES,
    NOTIFICATION_REQUESTS,
    TRANSACTIONS,
)
from tests.support.claims import (
    FINAL,
    NUMBER,
    drain,
    goods_imported,
    local,
    noticed,
    scheduler,
    send,
    summary,
)
from tests.support.messages import transaction_recorded


async def test_e2e_time_travel_r19_to_r23_a_carnet_never_re_exported_walks_through_every_deadline(settings, clock, running):
    """R19-R23, R25: day by day, at 00:00 Zurich time, from the importation to the closed refund
    window; each event appears on its day and no other (30/7/1-day reminders, overdue + notice,
    evidence window, duty memo capped at duties + 10%, payment on the last day at 23:30 local,
    refund window closing)."""
    service = build(settings, clock=clock)
    by_day: dict[date, list[tuple[str, ...]]] = {}
    async with running(service) as broker:
        await goods_imported(broker, clock)
        await send(broker, CLAIMS_CUSTOMS_ACTIONS, c.DutyAssessed(
            carnet_number=NUMBER, country="CH", office_id="CH-GVA-AIR", assessed_at=clock.now, assessments=[
                c.ItemDuty(item_number=1, currency="CHF", duties=Decimal("1000.00"), claimed=Decimal("1200.00")),
                c.ItemDuty(item_number=2, currency="CHF", duties=Decimal("500.00"), claimed=Decimal("600.00"))]))
        assert await drain(service) == []
        day, claim_id = date(2026, 11, 23), None
        while day <= date(2028, 1, 20):
            clock.now = local(day)
            await scheduler(service).run_once(service.pool)
            events = await drain(service)
            if events:
                by_day[day] = summary(events)
            notices = [e for e in events if e["type"] == "ClaimNoticeIssued"]
            if notices:
                claim_id = UUID(notices[0]["payload"]["claim_id"])
                notice = notices[0]
            memos = [e for e in events if e["type"] == "DutyMemoIssued"]
            if memos:
                memo = memos[0]
            if day == date(2027, 10, 16):  # the association pays on the last day, 23:30 local time
                clock.now = local(day, time(23, 30))
                await send(broker, CLAIMS_NGA_RESPONSES, c.PaymentMade(
                    claim_id=claim_id, carnet_number=NUMBER, amounts={"CHF": Decimal("1650.00")}, reference="PAY-1",
                    paid_at=clock.now))
                by_day[day] = by_day.get(day, []) + summary(await drain(service))
            day += timedelta(days=1)
        async with service.pool.acquire() as conn:
            pending = await conn.fetchval("SELECT count(*) FROM deadlines WHERE state = 'pending'")
            claim = await conn.fetchrow("SELECT * FROM claims")
    assert by_day == {
        date(2027, 3, 1): [("ReminderRequested", "30", "2027-03-31")],
        date(2027, 3, 24): [("ReminderRequested", "7", "2027-03-31")],
        date(2027, 3, 30): [("ReminderRequested", "1", "2027-03-31")],
        date(2027, 4, 1): [("ClaimStateChanged", "overdue", "R19", "2027-04-01", None),
                           ("ClaimStateChanged", "noticed", "R20", "2027-04-01", "2027-10-01"),
                           ("ClaimNoticeIssued",)],
        date(2027, 10, 2): [("ClaimStateChanged", "evidence_expired", "R21", "2027-10-02", None),
                            ("ClaimStateChanged", "duty_memo", "R22", "2027-10-02", "2027-10-16"),
                            ("DutyMemoIssued",)],
        date(2027, 10, 16): [("ClaimStateChanged", "paid", "R22", "2027-10-16", "2028-01-16")],
        date(2028, 1, 17): [("ClaimStateChanged", "settled", "R23", "2028-01-17", None)],
    }
    p = notice["payload"]
    assert (notice["topic"], notice["key"], p["nga"], p["items"], p["reexport_deadline"], p["notice_date"],
            p["evidence_deadline"]) == (CLAIMS_NGA_NOTICES.name, NUMBER, "FR", [1, 2], "2027-03-31", "2027-04-01",
                                        "2027-10-01")
    m = memo["payload"]
    assert (m["duties_assessed"], m["liability_caps"], m["amounts"], m["memo_date"], m["payment_deadline"]) == (
        {"CHF": "1500.00"}, {"CHF": "1650.00"}, {"CHF": "1650.00"}, "2027-10-02", "2027-10-16")  # R25: 1800 claimed, capped
    assert (claim["state"], pending) == ("settled", 0)


async def test_r19_reminders_go_to_the_notifier_topic_for_the_confirmed_recipients(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock)
        clock.now = local(date(2027, 3, 24)) - timedelta(seconds=1)  # 23:59:59 on the 23rd: not yet
        await scheduler(service).run_once(service.pool)
        before = [e for e in await drain(service) if e["type"] == "ReminderRequested"]
        clock.now = local(date(2027, 3, 24))
        await scheduler(service).run_once(service.pool)
        events = await drain(service)
    assert [e["payload"]["days_before"] for e in before] == [30]  # the 30-day one, caught up
    (r,) = events
    assert (r["topic"], r["key"], r["payload"]["recipient_ids"], r["payload"]["items"], r["payload"]["days_before"]) == (
        NOTIFICATION_REQUESTS.name, NUMBER, ["hld_1", "rep_1"], [1, 2], 7)


async def test_r19_a_re_exported_item_leaves_the_claim_and_its_reminders(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock)
        await send(broker, TRANSACTIONS, transaction_recorded(NUMBER, K.REEXPORTATION, "CH", [(2, "exported", None, None)],
                                                              clock.now, office_timezone="Europe/Zurich"))
        clock.now = local(date(2027, 4, 1))
        await scheduler(service).run_once(service.pool)
        events = await drain(service)
    notice = [e for e in events if e["type"] == "ClaimNoticeIssued"]
    reminders = [e for e in events if e["type"] == "ReminderRequested"]
    assert [n["payload"]["items"] for n in notice] == [[1]]
    assert reminders == []  # all three fell due in the downtime, and the final date has passed: stale


async def test_r19_a_seizure_extends_the_final_date_by_its_length_and_a_personal_lawsuit_does_not(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock, items=(1,))
        await goods_imported(broker, clock, number="FR2600000028", items=(1,))
        for number, sid, lawsuit in ((NUMBER, "SZ-1", False), ("FR2600000028", "SZ-2", True)):
            # seized from 10 March 23:30 local (22:30 UTC) to 19 March: ten local days
            await send(broker, CLAIMS_CUSTOMS_ACTIONS, c.SeizureStarted(
                seizure_id=sid, carnet_number=number, country="CH", items=[1], personal_lawsuit=lawsuit,
                office_timezone="Europe/Zurich", started_at=local(date(2027, 3, 10), time(23, 30))))
        async with service.pool.acquire() as conn:
            while_seized = await conn.fetchval("SELECT count(*) FROM deadlines WHERE carnet_number = $1 AND state = 'pending'"
                                               " AND kind = 'overdue'", NUMBER)
        for number, sid in ((NUMBER, "SZ-1"), ("FR2600000028", "SZ-2")):
            await send(broker, CLAIMS_CUSTOMS_ACTIONS, c.SeizureEnded(seizure_id=sid, carnet_number=number,
                                                                      ended_at=local(date(2027, 3, 19), time(16))))
        async with service.pool.acquire() as conn:
            rows = await conn.fetch("SELECT carnet_number, last_day, due_at FROM deadlines WHERE kind = 'overdue'"
                                    " AND state = 'pending' ORDER BY carnet_number")
    assert while_seized == 0  # R19: suspended while the goods are held
    assert [(r["carnet_number"], r["last_day"], r["due_at"]) for r in rows] == [
        (NUMBER, date(2027, 4, 10), local(date(2027, 4, 11))),
        ("FR2600000028", FINAL, local(date(2027, 4, 1))),
    ]


async def test_r20_notice_on_the_limit_day_at_2330_local_and_discharge_from_the_next_midnight(settings, clock, running):
    """R20: catch-up after a long downtime: a notice still possible at 23:30 on the limit day
    (2028-11-21, in a UTC-5 office), the association discharged from 00:00 the day after."""
    service = build(settings, clock=clock)
    results = {}
    async with running(service) as broker:
        for number, at in (("FR2600000010", local(date(2028, 11, 21), time(23, 30), ZoneInfo("America/New_York"))),
                           ("FR2600000028", local(date(2028, 11, 22), time(0), ZoneInfo("America/New_York")))):
            await goods_imported(broker, clock, number=number, tz="America/New_York")
            clock.now = at
            await scheduler(service).run_once(service.pool)
            results[number] = summary([e for e in await drain(service) if e["type"] == "ClaimStateChanged"])
            clock.now = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert results == {
        "FR2600000010": [("ClaimStateChanged", "overdue", "R19", "2028-11-21", None),
                         ("ClaimStateChanged", "noticed", "R20", "2028-11-21", "2029-05-21")],
        "FR2600000028": [("ClaimStateChanged", "overdue", "R19", "2028-11-22", None),
                         ("ClaimStateChanged", "discharged", "R20", "2028-11-22", None)],
    }


async def test_r21_r27_evidence_on_the_last_day_closes_the_claim_and_flags_the_fee(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        claim_id = await noticed(service, broker, clock)
        clock.now = local(date(2027, 10, 1), time(23, 30))  # last day (R21), 23:30 Zurich = 21:30 UTC
        await send(broker, CLAIMS_NGA_RESPONSES, c.EvidenceSubmitted(
            claim_id=claim_id, carnet_number=NUMBER, reference="EV-1", departure_validated=False, submitted_at=clock.now))
        events = summary(await drain(service))
        clock.now = local(date(2027, 10, 2))
        await scheduler(service).run_once(service.pool)
        after = await drain(service)
    assert events == [("ClaimStateChanged", "closed", "R21", "2027-10-01", None), ("RegularizationFeeFlagged",)]
    assert after == []  # the evidence window's deadline was cancelled with the step


async def test_r21_late_evidence_and_an_unknown_claim_are_refused_on_the_claims_topic(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        claim_id = await noticed(service, broker, clock)
        clock.now = local(date(2027, 10, 2), time(0, 30))
        await scheduler(service).run_once(service.pool)  # window expired; no duties assessed yet
        waiting = summary(await drain(service))
        for cid in (claim_id, uuid4()):
            await send(broker, CLAIMS_NGA_RESPONSES, c.EvidenceSubmitted(
                claim_id=cid, carnet_number=NUMBER, reference="EV-late", submitted_at=clock.now))
        refused = await drain(service)
        async with service.pool.acquire() as conn:
            state = await conn.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    assert waiting == [("ClaimStateChanged", "evidence_expired", "R21", "2027-10-02", None)]
    assert [(e["topic"], e["type"], e["payload"]["rule"]) for e in refused] == [
        (CLAIMS_EVENTS.name, "ClaimActionRefused", "R21"), (CLAIMS_EVENTS.name, "ClaimActionRefused", None)]
    assert "2027-10-01" in refused[0]["payload"]["reason"]
    assert state == "evidence_expired"


async def test_r22_r23_payment_overdue_then_paid_then_refund_asked_and_granted(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        claim_id = await noticed(service, broker, clock)
        clock.now = local(date(2027, 10, 2))
        await scheduler(service).run_once(service.pool)
        await send(broker, CLAIMS_CUSTOMS_ACTIONS, c.DutyAssessed(  # the assessment comes late: the memo follows it
            carnet_number=NUMBER, country="CH", office_id="CH-GVA-AIR", assessed_at=clock.now, assessments=[
                c.ItemDuty(item_number=1, currency="CHF", duties=Decimal("100.00")),
                c.ItemDuty(item_number=2, currency="EUR", duties=Decimal("50.00"))]))
        memo = [e for e in await drain(service) if e["type"] == "DutyMemoIssued"]
        clock.now = local(date(2027, 10, 17)) - timedelta(seconds=1)
        await scheduler(service).run_once(service.pool)
        not_yet = await drain(service)
        clock.now = local(date(2027, 10, 17))
        await scheduler(service).run_once(service.pool)
        overdue = summary(await drain(service))
        paid_at = local(date(2027, 10, 20), time(9))
        await send(broker, CLAIMS_NGA_RESPONSES, c.PaymentMade(claim_id=claim_id, carnet_number=NUMBER, reference="P",
                                                               amounts={"CHF": Decimal("100.00"), "EUR": Decimal("50.00")},
                                                               paid_at=paid_at))
        for requested_on, amount in ((date(2028, 1, 21), "60.00"), (date(2028, 1, 20), "200.00"),
                                     (date(2028, 1, 20), "60.00")):
            await send(broker, CLAIMS_NGA_RESPONSES, c.RefundRequested(
                claim_id=claim_id, carnet_number=NUMBER, amounts={"CHF": Decimal(amount)}, evidence_reference="EV-2",
                requested_at=local(requested_on, time(12))))
        await send(broker, CLAIMS_CUSTOMS_ACTIONS, c.RefundDecided(claim_id=claim_id, carnet_number=NUMBER,
                                                                   granted={"CHF": Decimal("60.00")}, reason="exit proven",
                                                                   decided_at=local(date(2028, 2, 1), time(10))))
        rest = await drain(service)
    assert [m["payload"]["amounts"] for m in memo] == [{"CHF": "100.00", "EUR": "50.00"}]  # R25 per currency
    assert not_yet == []
    assert overdue == [("ClaimStateChanged", "payment_overdue", "R22", "2027-10-17", None)]
    assert summary(rest) == [
        ("ClaimStateChanged", "paid", "R22", "2027-10-20", "2028-01-20"),
        ("ClaimActionRefused",),  # R23: the day after the last day
        ("ClaimActionRefused",),  # R23: more than was paid
        ("ClaimStateChanged", "refund_requested", "R23", "2028-01-20", None),
        ("ClaimStateChanged", "refund_granted", "R23", "2028-02-01", None),
        ("RegularizationFeeFlagged",),
    ]
    assert [e["payload"]["rule"] for e in rest if e["type"] == "ClaimActionRefused"] == ["R23", "R23"]
    assert rest[0]["payload"]["reason"] == "paid late"


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
                acted = await conn.fetch("SELECT acted_by, kind, count(*) AS n FROM deadlines WHERE state = 'acted'"
                                         " GROUP BY acted_by, kind")
                left = await conn.fetchval("SELECT count(*) FROM deadlines WHERE state = 'pending' AND due_at <= $1",
                                           clock.now)
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
            rows = await conn.fetch("SELECT carnet_number, kind, days_before, outcome FROM deadlines WHERE state = 'acted'"
                                    " ORDER BY due_at, deadline_id")
    noticed = [e["key"] for e in events if e["type"] == "ClaimNoticeIssued"]
    assert noticed == [NUMBER, "FR2600000028"]  # in the order their final dates passed
    assert [(e["key"], e["payload"]["days_before"]) for e in events if e["type"] == "ReminderRequested"] == [
        ("FR2600000036", 30), ("FR2600000036", 7)]  # still ahead of the final date: sent late rather than never
    assert acted == len(rows) == 10  # 3 stale reminders x 2 carnets, 2 overdue checks, 2 reminders
    assert [r["outcome"] for r in rows if r["kind"] == "reminder" and r["carnet_number"] != "FR2600000036"] == ["stale"] * 6


async def test_a_catch_up_goes_in_passes_of_a_bounded_size_and_the_loop_asks_for_the_next_at_once(settings, clock,
                                                                                                running, monkeypatch):
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
            acted = await conn.fetch("SELECT carnet_number, kind FROM deadlines WHERE state = 'acted' ORDER BY due_at, deadline_id")
    assert passes == [True, True, False]  # full, full, then nothing left: the loop waits a period
    assert len(acted) == 8
    assert [r["carnet_number"] for r in acted if r["kind"] == "overdue"] == [NUMBER, "FR2600000028"]
