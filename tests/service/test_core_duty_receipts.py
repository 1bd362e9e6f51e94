"""Core ledger service, duty receipts (R17): goods abroad in that country accounted for, the others refused, and the
claims worker told when items stop being liable. End to end through the real handlers, a real PostgreSQL and the shipped
country policy (core/policies/country_policy.json)."""

from __future__ import annotations

import pytest

from contracts.topics import CUSTOMS_COMMITS
from core.app import build
from tests.support.core import EXPIRY, NUMBER, chain, goods_in, issue, publish, with_key
from tests.support.core_ledger import items_of, lifecycle, state, stop_being_liable, without_inbox
from tests.support.messages import items_accounted_for

# --- R17: duty receipts -------------------------------------------------------------------------------


async def test_r17_a_duty_receipt_accounts_for_an_item_abroad_in_that_country(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        receipt = items_accounted_for(NUMBER, [2], "CH", clock.now)
        body, headers = await publish(broker, receipt, CUSTOMS_COMMITS.name, NUMBER)
        items = await items_of(service, NUMBER)
        check, events = await chain(service, NUMBER)
        applied = lifecycle(service, "duty_receipt", "applied")
        before = await state(service)
        await broker.publish(body, CUSTOMS_COMMITS.name, key=NUMBER.encode(), headers=headers)  # redelivered
        redelivered = await state(service)
    assert {n: (i["location"], i["final_date"], i["note"]) for n, i in items.items()} == {
        1: ("abroad", EXPIRY, None),
        2: ("accounted", None, receipt.duty_receipt),
        3: ("home", None, None),
    }
    assert check.ok and events == ["crossing", "crossing", "items_accounted_for"]
    assert applied == 1
    assert redelivered == before  # the first delivery's effect is above; the second changes nothing


@pytest.mark.parametrize(
    ("items", "country"),
    [([3], "CH"), ([1], "GB"), ([1, 3], "CH"), ([9], "CH")],
    ids=["item-at-home", "item-in-another-country", "one-of-two-not-there", "unknown-item"],
)
async def test_r17_a_duty_receipt_for_an_item_not_in_that_country_is_refused(settings, clock, running, items, country):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        before = await state(service)
        await publish(broker, items_accounted_for(NUMBER, items, country, clock.now), CUSTOMS_COMMITS.name, NUMBER)
        after = await state(service)
        counts = lifecycle(service, "duty_receipt", "applied"), lifecycle(service, "duty_receipt", "refused")
    assert len(after["inbox"]) == len(before["inbox"]) + 1  # consumed, not dead-lettered
    assert without_inbox(after) == without_inbox(before)
    assert counts == (0, 1)


def claims_topics() -> set[str]:
    from contracts.topics import TOPICS

    return {t.name for t in TOPICS if "claims_worker" in t.consumers}


@pytest.mark.parametrize("event", ["duty_receipt", "replacement"])
async def test_the_claims_worker_is_told_when_items_stop_being_liable(settings, clock, running, event):
    queued = await stop_being_liable(settings, clock, running, event)
    told = [m for m in queued if m["topic"] in claims_topics() and m["key"] == NUMBER]
    assert told, f"nothing for the claims worker after the {event}: {[(m['topic'], m['type']) for m in queued]}"
