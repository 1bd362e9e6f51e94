"""Claims worker service over its topics: R24 (a discrepancy found after re-exportation, claimed in time or
refused after the limit), R26 (the carnet cancelled for goods re-exported in time, on the association's
evidence), R27 (a regularization fee flagged when goods come home without a validated departure, no claim).
Real PostgreSQL, TestKafkaBroker, the injected clock."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from claims_worker.app import build
from contracts import claims as c
from contracts.kinds import DeclarationKind as K
from contracts.topics import (
    CLAIMS_CUSTOMS_ACTIONS,
    CLAIMS_EVENTS,
    CLAIMS_NGA_NOTICES,
    CLAIMS_NGA_RESPONSES,
    TRANSACTIONS,
)
from tests.support.claims import EXPIRY, NUMBER, drain, goods_imported, local, noticed, send, summary
from tests.support.messages import transaction_recorded

# R24: the year runs from 22 Nov 2027; its last day is 21 Nov 2028 (local day of the office).
R24_LIMIT = date(2028, 11, 21)


async def reexported(broker: Any, clock: Any) -> None:
    await goods_imported(broker, clock)
    await send(
        broker,
        TRANSACTIONS,
        transaction_recorded(
            NUMBER,
            K.REEXPORTATION,
            "CH",
            [(1, "exported", None, None), (2, "exported", None, None)],
            clock.now,
            office_id="CH-GVA-AIR",
            office_timezone="Europe/Zurich",
            carnet_expiry=EXPIRY,
        ),
    )
    await send(
        broker,
        TRANSACTIONS,
        transaction_recorded(
            NUMBER,
            K.REIMPORTATION,
            "FR",
            [(1, "home", None, None), (2, "home", None, None)],
            clock.now,
            carnet_expiry=EXPIRY,
        ),
    )


def discrepancy(at: Any, tz: str = "Europe/Zurich", number: str = NUMBER) -> c.DiscrepancyFound:
    return c.DiscrepancyFound(
        discrepancy_id=uuid4(),
        carnet_number=number,
        country="CH",
        items=[1],
        office_timezone=tz,
        description="serial number differs from the general list",
        found_at=at,
    )


@pytest.mark.parametrize(
    ("day", "at", "opened"),
    [
        (R24_LIMIT, time(23, 59), True),  # the last day, 23:59 in Zurich
        (date(2028, 11, 20), time(0, 0), True),  # the day before
        (date(2028, 11, 22), time(0, 0), False),  # the day after: refused
    ],
    ids=["limit-day-2359", "day-before", "day-after"],
)
async def test_r24_a_discrepancy_after_re_exportation_is_claimed_in_time_and_refused_after_the_limit(
    settings, clock, running, day, at, opened
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await reexported(broker, clock)
        await send(
            broker,
            CLAIMS_CUSTOMS_ACTIONS,
            c.DutyAssessed(
                carnet_number=NUMBER,
                country="CH",
                office_id="CH-GVA-AIR",
                assessed_at=clock.now,
                assessments=[
                    c.ItemDuty(item_number=1, currency="CHF", duties=Decimal("1000.00"), claimed=Decimal("1200.00"))
                ],
            ),
        )
        await drain(service)
        clock.now = local(day, at)
        await send(broker, CLAIMS_CUSTOMS_ACTIONS, discrepancy(clock.now))
        events = await drain(service)
    if opened:
        assert summary(events)[:2] == [
            ("ClaimStateChanged", "discrepancy", "R24", day.isoformat(), None),
            ("ClaimStateChanged", "duty_memo", "R22", day.isoformat(), (day + timedelta(days=14)).isoformat()),
        ]
        (memo,) = [e for e in events if e["type"] == "DutyMemoIssued"]
        assert (memo["topic"], memo["payload"]["amounts"]) == (CLAIMS_NGA_NOTICES.name, {"CHF": "1100.00"})  # R25
    else:
        assert [(e["topic"], e["type"], e["payload"]["rule"]) for e in events] == [
            (CLAIMS_EVENTS.name, "ClaimActionRefused", "R24")
        ]
        assert R24_LIMIT.isoformat() in events[0]["payload"]["reason"]


async def test_r24_a_discrepancy_judged_on_the_offices_day_west_of_utc(settings, clock, running):
    """21 Nov 2028 23:30 in Mexico City is 22 Nov in UTC: still in time there."""
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await reexported(broker, clock)
        await drain(service)
        from zoneinfo import ZoneInfo

        clock.now = local(R24_LIMIT, time(23, 30), ZoneInfo("America/Mexico_City"))
        await send(broker, CLAIMS_CUSTOMS_ACTIONS, discrepancy(clock.now, "America/Mexico_City"))
        events = summary(await drain(service))
    assert events == [("ClaimStateChanged", "discrepancy", "R24", R24_LIMIT.isoformat(), None)]


async def test_r24_a_discrepancy_on_a_carnet_the_worker_never_saw_and_a_hostile_zone_are_refused(
    settings, clock, running
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await send(broker, CLAIMS_CUSTOMS_ACTIONS, discrepancy(clock.now, number="FR2600000028"))
        events = await drain(service)
    assert [(e["type"], e["payload"]["rule"]) for e in events] == [("ClaimActionRefused", "R24")]
    with pytest.raises(ValueError):
        discrepancy(clock.now, tz="Mars/Olympus_Mons")


@pytest.mark.parametrize(
    ("left", "rule"),
    [
        (date(2027, 3, 30), "R26"),
        (date(2027, 3, 31), "R26"),
        (date(2027, 4, 1), "R21"),
    ],
    ids=["day-before-final", "final-day", "day-after-final"],
)
async def test_r26_customs_cancel_on_the_associations_evidence_of_re_exportation_in_time(
    settings, clock, running, left, rule
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        claim_id = await noticed(service, broker, clock)
        clock.now = local(date(2027, 5, 2), time(10))
        await send(
            broker,
            CLAIMS_NGA_RESPONSES,
            c.EvidenceSubmitted(
                claim_id=claim_id,
                carnet_number=NUMBER,
                reference="EV-R26",
                departure_validated=True,
                reexported_on=left,
                submitted_at=clock.now,
            ),
        )
        events = await drain(service)
    ((kind, to, got, on, _),) = summary(events)
    assert (kind, to, got, on) == ("ClaimStateChanged", "closed", rule, "2027-05-02")
    if rule == "R26":
        assert "cancelled" in events[0]["payload"]["reason"]


async def test_r26_goods_re_exported_in_time_open_no_claim(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await reexported(broker, clock)
        await drain(service)
        clock.now = local(date(2027, 4, 2))
        await service.state["scheduler"].run_once(service.pool)
        events = await drain(service)
        async with service.pool.acquire() as conn:
            claims = await conn.fetchval("SELECT count(*) FROM claims")
    assert (events, claims) == ([], 0)


async def test_r27_goods_home_without_a_validated_departure_flag_the_fee_without_a_claim(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_imported(broker, clock)
        await drain(service)
        # Item 1 comes home straight from Switzerland: its re-exportation was never validated there.
        await send(
            broker,
            TRANSACTIONS,
            transaction_recorded(
                NUMBER, K.REIMPORTATION, "FR", [(1, "home", None, None)], clock.now, carnet_expiry=EXPIRY
            ),
        )
        events = await drain(service)
        async with service.pool.acquire() as conn:
            claims = await conn.fetchval("SELECT count(*) FROM claims")
            watched = [r["item_number"] for r in await conn.fetch("SELECT item_number FROM watched_items")]
        fee = service.registry.get_sample_value(
            "ata_claims_regularization_fee_flags_total", {"source": "reimportation"}
        )
    assert [(e["topic"], e["type"]) for e in events] == [(CLAIMS_EVENTS.name, "RegularizationFeeFlagged")]
    p = events[0]["payload"]
    assert (p["claim_id"], p["country"], p["items"]) == (None, "CH", [1])
    assert (claims, watched, fee) == (0, [2], 1.0)


async def test_r27_goods_home_after_a_validated_re_exportation_flag_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await reexported(broker, clock)
        events = await drain(service)
    assert [e["type"] for e in events if e["type"] == "RegularizationFeeFlagged"] == []
