"""Core ledger service, a carnet's duplicate (R5): the original voided, goods abroad kept, redelivery changes nothing; a
duplicate or replacement of an unknown carnet is refused to the NGA. End to end through the real handlers, a real
PostgreSQL and the shipped country policy (core/policies/country_policy.json)."""

from __future__ import annotations

import json

from contracts.kinds import DeclarationKind as K
from contracts.topics import CARNET_STATUS, ISSUANCE_EVENTS
from core.app import build
from tests.service.conftest import dead_letters, outbox
from tests.support.core import (
    EXPIRY,
    NUMBER,
    REPLACEMENT,
    chain,
    commit,
    cross,
    decisions,
    declare,
    fetch,
    issue,
    locations,
    publish,
    refused,
    replacement_carnet,
    with_key,
)
from tests.support.core_ledger import REQUESTED, carnet_row, items_of, lifecycle, state, status_changes, without_inbox
from tests.support.messages import duplicate_issued, replacement_issued

DUPLICATE = "FR2600000028"


# --- R5: duplicate ------------------------------------------------------------------------------------


async def test_r5_duplicate_voids_the_original_and_keeps_the_goods_abroad(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2])
        # a token of the original, issued before the duplicate and scanned after it
        stale = await declare(service, K.IMPORTATION, "CH", [1, 2])
        await publish(broker, duplicate_issued(NUMBER, DUPLICATE, clock.now), ISSUANCE_EVENTS.name, NUMBER)
        original, copy = await carnet_row(service, NUMBER), await carnet_row(service, DUPLICATE)
        original_items, copied = await items_of(service, NUMBER), await items_of(service, DUPLICATE)
        queued = await outbox(service)
        original_chain, duplicate_chain = await chain(service, NUMBER), await chain(service, DUPLICATE)
        on_original = await refused(service, K.REIMPORTATION, "FR", [1, 2])
        reimport = await declare(service, K.REIMPORTATION, "FR", [1, 2], number=DUPLICATE)
        export_rest = await declare(service, K.EXPORTATION, "FR", [3], number=DUPLICATE)
        closes = await fetch(
            service, "SELECT closes FROM declarations WHERE declaration_id = $1", reimport.declaration_id
        )
        await commit(broker, key, clock, reimport)
        late = await commit(broker, key, clock, stale)
        after_commits = await locations(service, DUPLICATE), await locations(service, NUMBER)
        late_row = (
            await fetch(
                service,
                "SELECT carnet_number, decision, reasons FROM transactions WHERE commit_id = $1",
                late.commit_id,
            )
        )[0]
        applied = lifecycle(service, "duplicate", "applied")
    assert original is not None and copy is not None
    assert (original["status"], original["successor"]) == ("voided", DUPLICATE)
    assert (
        copy["status"],
        copy["predecessor"],
        copy["expiry_date"],
        copy["holder_id"],
        list(copy["countries"]),
        copy["active"],
        copy["general_list_digest"],
    ) == ("valid", NUMBER, EXPIRY, "hld_1", ["CH", "GB"], True, original["general_list_digest"])
    # R5: the record of goods already out travels with the duplicate, with the exportation they left with (R8)
    assert {n: (i["location"], i["exported_by"]) for n, i in copied.items()} == {
        1: ("exported", 1),
        2: ("exported", 1),
        3: ("home", None),
    }
    assert {n: (i["location"], i["exported_by"]) for n, i in copied.items()} == {
        n: (i["location"], i["exported_by"]) for n, i in original_items.items()
    }
    assert status_changes(queued) == [(CARNET_STATUS.name, NUMBER, "voided", "R5", DUPLICATE)]
    assert "lost" in next(m for m in queued if m["type"] == "CarnetStatusChanged")["payload"]["reason"]
    (original_check, original_events), (duplicate_check, duplicate_events) = original_chain, duplicate_chain
    assert original_check.ok and duplicate_check.ok
    assert original_events == ["crossing", "duplicate_issued"]
    assert duplicate_events == ["duplicate_issued"]
    assert [(r.rule, r.code) for r in on_original.reasons] == [("R5", "carnet_voided")]
    assert DUPLICATE in on_original.reasons[0].message
    # R8: the numbering continues across the duplicate; the re-importation names the original's exportation No. 1
    assert reimport.sequence == 1 and closes[0]["closes"] == 1
    assert export_rest.sequence == 2
    duplicate_after, original_after = after_commits
    assert duplicate_after == {1: ("home", None, None), 2: ("home", None, None), 3: ("home", None, None)}
    assert original_after == {1: ("exported", None, None), 2: ("exported", None, None), 3: ("home", None, None)}
    # the stale token of the voided original is recorded as refused, not applied
    assert (late_row["carnet_number"], late_row["decision"]) == (NUMBER, "refused")
    assert [(r["rule"], r["code"]) for r in json.loads(late_row["reasons"])] == [("R5", "carnet_voided")]
    assert applied == 1


async def test_r5_a_redelivered_duplicate_changes_nothing_and_a_second_duplicate_is_refused(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2])
        body, headers = await publish(
            broker, duplicate_issued(NUMBER, DUPLICATE, clock.now), ISSUANCE_EVENTS.name, NUMBER
        )
        before = await state(service)
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        redelivered = await state(service)
        second = duplicate_issued(NUMBER, "FR2600000044", clock.now, request_id="REQ-DUP-2", reason="stolen")
        await publish(broker, second, ISSUANCE_EVENTS.name, NUMBER)
        after_second = await state(service)
        carnets = await fetch(service, "SELECT carnet_number, status FROM carnets ORDER BY carnet_number")
        counts = lifecycle(service, "duplicate", "applied"), lifecycle(service, "duplicate", "refused")
        decisions = [m for m in await outbox(service) if m["type"] == "CarnetSuccessionDecided"]
    assert redelivered == before
    assert len(after_second["inbox"]) == len(before["inbox"]) + 1  # consumed, not dead-lettered
    # The refusal changes nothing in the ledger; it only answers the NGA (through the issuer).
    assert {k: v for k, v in without_inbox(after_second).items() if k != "outbox"} == {
        k: v for k, v in without_inbox(before).items() if k != "outbox"
    }
    assert [
        (d["payload"]["successor_number"], d["payload"]["outcome"], d["payload"]["reasons"][0]["code"])
        for d in decisions[1:]
    ] == [("FR2600000044", "refused", "carnet_voided")]
    assert (decisions[0]["payload"]["successor_number"], decisions[0]["payload"]["outcome"]) == (DUPLICATE, "applied")
    assert [(r["carnet_number"], r["status"]) for r in carnets] == [(NUMBER, "voided"), (DUPLICATE, "valid")]
    assert counts == (1, 1)


async def test_r5_r6_a_duplicate_or_replacement_of_an_unknown_carnet_is_refused_to_the_nga_not_dead_lettered(
    settings, clock, running
):
    service = build(settings, clock=clock)
    dead = dead_letters(service, ISSUANCE_EVENTS.dead_letter)
    async with running(service) as broker:
        await publish(broker, duplicate_issued(NUMBER, DUPLICATE, clock.now), ISSUANCE_EVENTS.name, NUMBER)
        await publish(
            broker, replacement_issued(NUMBER, replacement_carnet(), REQUESTED, clock.now), ISSUANCE_EVENTS.name, NUMBER
        )
        decided = await decisions(service)
        carnets = await fetch(service, "SELECT carnet_number FROM carnets")
    assert decided == [(DUPLICATE, "refused", ["unknown_original"]), (REPLACEMENT, "refused", ["unknown_original"])]
    assert carnets == []
    assert dead == []
