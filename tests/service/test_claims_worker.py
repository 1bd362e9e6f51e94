"""Claims worker service: the watch list of items away from home follows the ledger (R13, R19, R20)."""

from __future__ import annotations

from datetime import date
from typing import Any

from claims_worker.app import build
from contracts.deadlines import r20_notice_limit
from contracts.kinds import DeclarationKind as K
from contracts.topics import TRANSACTIONS
from tests.service.conftest import outbox
from tests.support.claims import NUMBER, publish_recorded as publish
from tests.support.databases import snapshot
from tests.support.messages import transaction_recorded

EXPIRY = date(2027, 11, 21)


async def watched(service: Any) -> dict[int, dict[str, Any]]:
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM watched_items ORDER BY carnet_number, item_number")
    return {r["item_number"]: dict(r) for r in rows}


async def test_r20_committed_exportation_watches_the_items_with_the_notice_limit(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        t = transaction_recorded(
            NUMBER, K.EXPORTATION, "FR", [(1, "exported", None, None), (2, "exported", None, None)], clock.now
        )
        await publish(broker, t)
        rows = await watched(service)
        queued = await outbox(service)
    assert sorted(rows) == [1, 2]
    assert r20_notice_limit(EXPIRY) == date(2028, 11, 21)
    for n in (1, 2):
        row = rows[n]
        assert (row["carnet_number"], row["location"], row["country"], row["final_date"], row["carnet_expiry"]) == (
            NUMBER,
            "exported",
            None,
            None,
            EXPIRY,
        )
        assert row["notice_limit"] == r20_notice_limit(EXPIRY)
        assert row["office_timezone"] == "Europe/Paris"
        assert row["last_transaction_id"] == t.transaction_id
        assert row["updated_at"] == clock.now
    assert queued == []


async def test_r13_importation_updates_the_watch_with_country_and_final_date(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.EXPORTATION, "FR", [(1, "exported", None, None), (2, "exported", None, None)], clock.now
            ),
        )
        t = transaction_recorded(
            NUMBER,
            K.IMPORTATION,
            "CH",
            [(1, "abroad", "CH", date(2027, 3, 31))],
            clock.now,
            office_id="CH-GVA-AIR",
            office_timezone="Europe/Zurich",
        )
        await publish(broker, t)
        rows = await watched(service)
    assert (rows[1]["location"], rows[1]["country"], rows[1]["final_date"], rows[1]["office_timezone"]) == (
        "abroad",
        "CH",
        date(2027, 3, 31),
        "Europe/Zurich",
    )
    assert rows[1]["last_transaction_id"] == t.transaction_id
    assert (rows[2]["location"], rows[2]["country"]) == ("exported", None)


async def test_a_committed_reimportation_releases_the_item(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.EXPORTATION, "FR", [(1, "exported", None, None), (2, "exported", None, None)], clock.now
            ),
        )
        await publish(broker, transaction_recorded(NUMBER, K.REIMPORTATION, "FR", [(1, "home", None, None)], clock.now))
        rows = await watched(service)
    assert sorted(rows) == [2]


async def test_a_refused_transaction_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.EXPORTATION, "FR", [(1, "exported", None, None), (2, "exported", None, None)], clock.now
            ),
        )
        before = await watched(service)
        # a refused importation (the items stay exported) and a refused re-importation (they would be home)
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.IMPORTATION, "CH", [(1, "exported", None, None)], clock.now, decision="refused"
            ),
        )
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.REIMPORTATION, "FR", [(2, "home", None, None)], clock.now, decision="refused"
            ),
        )
        await publish(
            broker,
            transaction_recorded(
                "FR2600000028", K.EXPORTATION, "FR", [(1, "exported", None, None)], clock.now, decision="refused"
            ),
        )
        after = await watched(service)
    assert after == before
    assert sorted(after) == [1, 2]


async def test_redelivery_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        exported = transaction_recorded(
            NUMBER, K.EXPORTATION, "FR", [(1, "exported", None, None), (2, "exported", None, None)], clock.now
        )
        body, headers = await publish(broker, exported)
        back = transaction_recorded(NUMBER, K.REIMPORTATION, "FR", [(1, "home", None, None)], clock.now)
        await publish(broker, back)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "claims")
        # the exportation comes again (at-least-once delivery): item 1 must not be watched again
        clock.now = clock.now.replace(hour=10)
        await broker.publish(body, TRANSACTIONS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "claims")
    assert before == after
    assert len(before["watched_items"]) == 1


def locations_changed(
    cause: str,
    items: list[tuple[int, str, str | None, date | None]],
    changed_at: Any,
    successor: str | None = None,
    successor_expiry: date | None = None,
) -> Any:
    from contracts.messages import ItemLocation, ItemLocationsChanged

    return ItemLocationsChanged(
        carnet_number=NUMBER,
        cause=cause,
        rule={"duty_receipt": "R17", "duplicate": "R5", "replacement": "R6"}[cause],
        items=[ItemLocation(item_number=n, location=loc, country=c, final_date=f) for n, loc, c, f in items],
        successor=successor,
        successor_expiry=successor_expiry,
        changed_at=changed_at,
    )


async def goods_in_ch(broker: Any, clock: Any) -> None:
    await publish(
        broker,
        transaction_recorded(
            NUMBER, K.EXPORTATION, "FR", [(1, "exported", None, None), (2, "exported", None, None)], clock.now
        ),
    )
    await publish(
        broker,
        transaction_recorded(
            NUMBER,
            K.IMPORTATION,
            "CH",
            [(1, "abroad", "CH", EXPIRY), (2, "abroad", "CH", EXPIRY)],
            clock.now,
            office_id="CH-GVA-AIR",
            office_timezone="Europe/Zurich",
        ),
    )


async def test_r17_a_duty_receipt_releases_the_item_from_the_watch(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await goods_in_ch(broker, clock)
        await publish(broker, locations_changed("duty_receipt", [(2, "accounted", "CH", None)], clock.now))
        rows = await watched(service)
    assert sorted(rows) == [1]


async def test_r6_a_replacement_moves_the_watch_to_the_new_carnet_with_its_expiry_and_notice_limit(
    settings, clock, running
):
    service = build(settings, clock=clock)
    new_expiry = date(2028, 10, 1)
    async with running(service) as broker:
        await goods_in_ch(broker, clock)
        await publish(
            broker,
            locations_changed(
                "replacement",
                [(1, "abroad", "CH", new_expiry)],
                clock.now,
                successor="FR2700000036",
                successor_expiry=new_expiry,
            ),
        )
        async with service.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM watched_items ORDER BY carnet_number, item_number")
    moved = [dict(r) for r in rows if r["carnet_number"] == "FR2700000036"]
    stayed = [dict(r) for r in rows if r["carnet_number"] == NUMBER]
    assert [
        (r["item_number"], r["final_date"], r["carnet_expiry"], r["notice_limit"], r["office_timezone"]) for r in moved
    ] == [(1, new_expiry, new_expiry, r20_notice_limit(new_expiry), "Europe/Zurich")]
    assert [r["item_number"] for r in stayed] == [2]  # not taken over: still chased under the original


async def test_r19_a_cancelled_reexportation_puts_the_goods_abroad_under_watch_again(settings, clock, running):
    """Issue 4 item 8: a cancellation undoes a crossing; the watch follows where the items are now."""
    from uuid import uuid4

    from contracts.messages import CancellationRefused, ItemLocation, Reason, TransactionCancelled

    final = date(2027, 3, 31)
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.IMPORTATION, "CH", [(1, "abroad", "CH", final)], clock.now, office_timezone="Europe/Zurich"
            ),
        )
        await publish(
            broker,
            transaction_recorded(
                NUMBER, K.REEXPORTATION, "CH", [(1, "exported", None, None)], clock.now, office_timezone="Europe/Zurich"
            ),
        )
        exported = await watched(service)
        cancelled = TransactionCancelled(
            cancellation_id=uuid4(),
            transaction_id=uuid4(),
            carnet_number=NUMBER,
            transaction_code="7K3M9QX2D4RA8",
            kind=K.REEXPORTATION,
            country="CH",
            items=[1],
            sequence=1,
            reason="wrong gate",
            office_id="CH-GVA-AIR",
            office_timezone="Europe/Zurich",
            officer_id="ch-officer-0001",
            carnet_expiry=EXPIRY,
            item_locations=[ItemLocation(item_number=1, location="abroad", country="CH", final_date=final)],
            cancelled_at=clock.now,
        )
        await publish(broker, cancelled)
        await publish(
            broker,
            CancellationRefused(
                cancellation_id=uuid4(),
                carnet_number=NUMBER,
                transaction_code="7K3M9QX2D4RA8",
                refused_at=clock.now,
                reasons=[Reason(rule="cancellation", code="wrong_cancellation_code", message="no")],
            ),
        )
        rows = await watched(service)
        seen = service.registry.get_sample_value("ata_claims_transactions_seen_total", {"decision": "cancelled"})
    assert exported[1]["location"] == "exported"
    assert (rows[1]["location"], rows[1]["country"], rows[1]["final_date"], rows[1]["last_transaction_id"]) == (
        "abroad",
        "CH",
        final,
        cancelled.transaction_id,
    )
    assert seen == 1
