"""Claims worker service: the claims procedure on a real PostgreSQL with the injected clock, evidence of
re-exportation, duty payment and refund (DOMAIN.md R21-R23, R27). Time travels; the wall clock is never read.

The scheduler is driven by `Scheduler.run_once` at chosen instants; the outbox is drained after
each pass to see which events each day produced.
"""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from uuid import uuid4

from claims_worker.app import build
from contracts import claims as c
from contracts.topics import CLAIMS_CUSTOMS_ACTIONS, CLAIMS_EVENTS, CLAIMS_NGA_RESPONSES
from tests.support.claims import NUMBER, drain, local, noticed, scheduler, send, summary


async def test_r21_r27_evidence_on_the_last_day_closes_the_claim_and_flags_the_fee(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        claim_id = await noticed(service, broker, clock)
        clock.now = local(date(2027, 10, 1), time(23, 30))  # last day (R21), 23:30 Zurich = 21:30 UTC
        await send(
            broker,
            CLAIMS_NGA_RESPONSES,
            c.EvidenceSubmitted(
                claim_id=claim_id,
                carnet_number=NUMBER,
                reference="EV-1",
                departure_validated=False,
                submitted_at=clock.now,
            ),
        )
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
            await send(
                broker,
                CLAIMS_NGA_RESPONSES,
                c.EvidenceSubmitted(claim_id=cid, carnet_number=NUMBER, reference="EV-late", submitted_at=clock.now),
            )
        refused = await drain(service)
        async with service.pool.acquire() as conn:
            state = await conn.fetchval("SELECT state FROM claims WHERE claim_id = $1", claim_id)
    assert waiting == [("ClaimStateChanged", "evidence_expired", "R21", "2027-10-02", None)]
    assert [(e["topic"], e["type"], e["payload"]["rule"]) for e in refused] == [
        (CLAIMS_EVENTS.name, "ClaimActionRefused", "R21"),
        (CLAIMS_EVENTS.name, "ClaimActionRefused", None),
    ]
    assert "2027-10-01" in refused[0]["payload"]["reason"]
    assert state == "evidence_expired"


async def test_r22_r23_payment_overdue_then_paid_then_refund_asked_and_granted(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        claim_id = await noticed(service, broker, clock)
        clock.now = local(date(2027, 10, 2))
        await scheduler(service).run_once(service.pool)
        await send(
            broker,
            CLAIMS_CUSTOMS_ACTIONS,
            c.DutyAssessed(  # the assessment comes late: the memo follows it
                carnet_number=NUMBER,
                country="CH",
                office_id="CH-GVA-AIR",
                assessed_at=clock.now,
                assessments=[
                    c.ItemDuty(item_number=1, currency="CHF", duties=Decimal("100.00")),
                    c.ItemDuty(item_number=2, currency="EUR", duties=Decimal("50.00")),
                ],
            ),
        )
        memo = [e for e in await drain(service) if e["type"] == "DutyMemoIssued"]
        clock.now = local(date(2027, 10, 17)) - timedelta(seconds=1)
        await scheduler(service).run_once(service.pool)
        not_yet = await drain(service)
        clock.now = local(date(2027, 10, 17))
        await scheduler(service).run_once(service.pool)
        overdue = summary(await drain(service))
        paid_at = local(date(2027, 10, 20), time(9))
        await send(
            broker,
            CLAIMS_NGA_RESPONSES,
            c.PaymentMade(
                claim_id=claim_id,
                carnet_number=NUMBER,
                reference="P",
                amounts={"CHF": Decimal("100.00"), "EUR": Decimal("50.00")},
                paid_at=paid_at,
            ),
        )
        for requested_on, amount in (
            (date(2028, 1, 21), "60.00"),
            (date(2028, 1, 20), "200.00"),
            (date(2028, 1, 20), "60.00"),
        ):
            await send(
                broker,
                CLAIMS_NGA_RESPONSES,
                c.RefundRequested(
                    claim_id=claim_id,
                    carnet_number=NUMBER,
                    amounts={"CHF": Decimal(amount)},
                    evidence_reference="EV-2",
                    requested_at=local(requested_on, time(12)),
                ),
            )
        await send(
            broker,
            CLAIMS_CUSTOMS_ACTIONS,
            c.RefundDecided(
                claim_id=claim_id,
                carnet_number=NUMBER,
                granted={"CHF": Decimal("60.00")},
                reason="exit proven",
                decided_at=local(date(2028, 2, 1), time(10)),
            ),
        )
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
