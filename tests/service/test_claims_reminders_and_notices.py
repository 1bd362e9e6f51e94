"""Claims worker service: the claims procedure on a real PostgreSQL with the injected clock, from the final
date to the notice (DOMAIN.md R19-R20, walked end to end through R23). Time travels; the wall clock is never read.

The scheduler is driven by `Scheduler.run_once` at chosen instants; the outbox is drained after
each pass to see which events each day produced.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from claims_worker.app import build
from contracts import claims as c
from contracts.kinds import DeclarationKind as K
from contracts.topics import (
    CLAIMS_CUSTOMS_ACTIONS,
    CLAIMS_NGA_NOTICES,
    CLAIMS_NGA_RESPONSES,
    NOTIFICATION_REQUESTS,
    TRANSACTIONS,
)
from tests.support.claims import FINAL, NUMBER, drain, goods_imported, local, scheduler, send, summary
from tests.support.messages import transaction_recorded


async def test_e2e_time_travel_r19_to_r23_a_carnet_never_re_exported_walks_through_every_deadline(
    settings, clock, running
):
    """R19-R23, R25: day by day, at 00:00 Zurich time, from the importation to the closed refund
    window; each event appears on its day and no other (30/7/1-day reminders, overdue + notice,
    evidence window, duty memo capped at duties + 10%, payment on the last day at 23:30 local,
    refund window closing)."""
    service = build(settings, clock=clock)
    by_day: dict[date, list[tuple[str, ...]]] = {}
    async with running(service) as broker:
        await goods_imported(broker, clock)
        await send(
            broker,
            CLAIMS_CUSTOMS_ACTIONS,
            c.DutyAssessed(
                carnet_number=NUMBER,
                country="CH",
                office_id="CH-GVA-AIR",
                assessed_at=clock.now,
                assessments=[
                    c.ItemDuty(item_number=1, currency="CHF", duties=Decimal("1000.00"), claimed=Decimal("1200.00")),
                    c.ItemDuty(item_number=2, currency="CHF", duties=Decimal("500.00"), claimed=Decimal("600.00")),
                ],
            ),
        )
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
                await send(
                    broker,
                    CLAIMS_NGA_RESPONSES,
                    c.PaymentMade(
                        claim_id=claim_id,
                        carnet_number=NUMBER,
                        amounts={"CHF": Decimal("1650.00")},
                        reference="PAY-1",
                        paid_at=clock.now,
                    ),
                )
                by_day[day] = by_day.get(day, []) + summary(await drain(service))
            day += timedelta(days=1)
        async with service.pool.acquire() as conn:
            pending = await conn.fetchval("SELECT count(*) FROM deadlines WHERE state = 'pending'")
            claim = await conn.fetchrow("SELECT * FROM claims")
    assert by_day == {
        date(2027, 3, 1): [("ReminderRequested", "30", "2027-03-31")],
        date(2027, 3, 24): [("ReminderRequested", "7", "2027-03-31")],
        date(2027, 3, 30): [("ReminderRequested", "1", "2027-03-31")],
        date(2027, 4, 1): [
            ("ClaimStateChanged", "overdue", "R19", "2027-04-01", None),
            ("ClaimStateChanged", "noticed", "R20", "2027-04-01", "2027-10-01"),
            ("ClaimNoticeIssued",),
        ],
        date(2027, 10, 2): [
            ("ClaimStateChanged", "evidence_expired", "R21", "2027-10-02", None),
            ("ClaimStateChanged", "duty_memo", "R22", "2027-10-02", "2027-10-16"),
            ("DutyMemoIssued",),
        ],
        date(2027, 10, 16): [("ClaimStateChanged", "paid", "R22", "2027-10-16", "2028-01-16")],
        date(2028, 1, 17): [("ClaimStateChanged", "settled", "R23", "2028-01-17", None)],
    }
    p = notice["payload"]
    assert (
        notice["topic"],
        notice["key"],
        p["nga"],
        p["items"],
        p["reexport_deadline"],
        p["notice_date"],
        p["evidence_deadline"],
    ) == (CLAIMS_NGA_NOTICES.name, NUMBER, "FR", [1, 2], "2027-03-31", "2027-04-01", "2027-10-01")
    m = memo["payload"]
    assert (m["duties_assessed"], m["liability_caps"], m["amounts"], m["memo_date"], m["payment_deadline"]) == (
        {"CHF": "1500.00"},
        {"CHF": "1650.00"},
        {"CHF": "1650.00"},
        "2027-10-02",
        "2027-10-16",
    )  # R25: 1800 claimed, capped
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
    assert (
        r["topic"],
        r["key"],
        r["payload"]["recipient_ids"],
        r["payload"]["items"],
        r["payload"]["days_before"],
    ) == (NOTIFICATION_REQUESTS.name, NUMBER, ["hld_1", "rep_1"], [1, 2], 7)


async def test_r19_a_re_exported_item_leaves_the_claim_and_its_reminders(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock)
        await send(
            broker,
            TRANSACTIONS,
            transaction_recorded(
                NUMBER, K.REEXPORTATION, "CH", [(2, "exported", None, None)], clock.now, office_timezone="Europe/Zurich"
            ),
        )
        clock.now = local(date(2027, 4, 1))
        await scheduler(service).run_once(service.pool)
        events = await drain(service)
    notice = [e for e in events if e["type"] == "ClaimNoticeIssued"]
    reminders = [e for e in events if e["type"] == "ReminderRequested"]
    assert [n["payload"]["items"] for n in notice] == [[1]]
    assert reminders == []  # all three fell due in the downtime, and the final date has passed: stale


async def test_r19_a_seizure_extends_the_final_date_by_its_length_and_a_personal_lawsuit_does_not(
    settings, clock, running
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock, items=(1,))
        await goods_imported(broker, clock, number="FR2600000028", items=(1,))
        for number, sid, lawsuit in ((NUMBER, "SZ-1", False), ("FR2600000028", "SZ-2", True)):
            # seized from 10 March 23:30 local (22:30 UTC) to 19 March: ten local days
            await send(
                broker,
                CLAIMS_CUSTOMS_ACTIONS,
                c.SeizureStarted(
                    seizure_id=sid,
                    carnet_number=number,
                    country="CH",
                    items=[1],
                    personal_lawsuit=lawsuit,
                    office_timezone="Europe/Zurich",
                    started_at=local(date(2027, 3, 10), time(23, 30)),
                ),
            )
        async with service.pool.acquire() as conn:
            while_seized = await conn.fetchval(
                "SELECT count(*) FROM deadlines WHERE carnet_number = $1 AND state = 'pending' AND kind = 'overdue'",
                NUMBER,
            )
        for number, sid in ((NUMBER, "SZ-1"), ("FR2600000028", "SZ-2")):
            await send(
                broker,
                CLAIMS_CUSTOMS_ACTIONS,
                c.SeizureEnded(seizure_id=sid, carnet_number=number, ended_at=local(date(2027, 3, 19), time(16))),
            )
        async with service.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT carnet_number, last_day, due_at FROM deadlines WHERE kind = 'overdue'"
                " AND state = 'pending' ORDER BY carnet_number"
            )
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
        for number, at in (
            ("FR2600000010", local(date(2028, 11, 21), time(23, 30), ZoneInfo("America/New_York"))),
            ("FR2600000028", local(date(2028, 11, 22), time(0), ZoneInfo("America/New_York"))),
        ):
            await goods_imported(broker, clock, number=number, tz="America/New_York")
            clock.now = at
            await scheduler(service).run_once(service.pool)
            results[number] = summary([e for e in await drain(service) if e["type"] == "ClaimStateChanged"])
            clock.now = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
    assert results == {
        "FR2600000010": [
            ("ClaimStateChanged", "overdue", "R19", "2028-11-21", None),
            ("ClaimStateChanged", "noticed", "R20", "2028-11-21", "2029-05-21"),
        ],
        "FR2600000028": [
            ("ClaimStateChanged", "overdue", "R19", "2028-11-22", None),
            ("ClaimStateChanged", "discharged", "R20", "2028-11-22", None),
        ],
    }
