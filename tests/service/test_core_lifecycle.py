"""Core ledger service, a carnet's life beyond crossings: duplicate (R5), replacement (R6), duty receipts (R17),
closure through the holder API (R7), the history head on TransactionRecorded, and split shipments (R14) end to end
through the real handlers, a real PostgreSQL and the shipped country policy (core/policies/country_policy.json)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.kinds import DeclarationKind as K
from contracts.topics import (
    CARNET_STATUS,
    CUSTOMS_COMMITS,
    ISSUANCE_EVENTS,
    TRANSACTIONS,
)
from core import history_store
from core.app import build
from core.domain import LifecycleRefused
from tests.service.conftest import dead_letters, outbox
from tests.support.core import (
    EXPIRY,
    NEW_EXPIRY,
    NUMBER,
    REPLACEMENT,
    chain,
    client,
    commit,
    cross,
    decisions,
    declare,
    fetch,
    goods_in,
    issue,
    locations,
    publish,
    refused,
    replacement_carnet,
    with_key,
)
from tests.support.databases import snapshot
from tests.support.messages import (
    duplicate_issued,
    items_accounted_for,
    replacement_issued,
)

DUPLICATE = "FR2600000028"
POLICY_VERSION = "2026-12-02.1"
# --- helpers for the life cycle (the shared ones are in tests/support/core.py) ------------------------


async def items_of(service: Any, number: str) -> dict[int, dict[str, Any]]:
    rows = await fetch(service, "SELECT * FROM items WHERE carnet_number = $1", number)
    return {r["item_number"]: dict(r) for r in rows}


async def carnet_row(service: Any, number: str) -> dict[str, Any] | None:
    rows = await fetch(service, "SELECT * FROM carnets WHERE carnet_number = $1", number)
    return dict(rows[0]) if rows else None


async def state(service: Any) -> dict[str, list[tuple]]:
    async with service.pool.acquire() as conn:
        return await snapshot(conn, "core")


def without_inbox(snap: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {k: v for k, v in snap.items() if k != "inbox"}


def ledger(snap: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """The core's state without the inbox and the outbox (a refusal still answers the NGA)."""
    return {k: v for k, v in snap.items() if k not in ("inbox", "outbox")}


def lifecycle(service: Any, event: str, outcome: str) -> float:
    return service.registry.get_sample_value("ata_carnet_lifecycle_total", {"event": event, "outcome": outcome}) or 0.0


def status_changes(queued: list[dict[str, Any]]) -> list[tuple[str, str | None, str, str, str | None]]:
    return [(m["topic"], m["key"], m["payload"]["status"], m["payload"]["rule"], m["payload"]["successor"])
            for m in queued if m["type"] == "CarnetStatusChanged"]


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
        closes = await fetch(service, "SELECT closes FROM declarations WHERE declaration_id = $1", reimport.declaration_id)
        await commit(broker, key, clock, reimport)
        late = await commit(broker, key, clock, stale)
        after_commits = await locations(service, DUPLICATE), await locations(service, NUMBER)
        late_row = (await fetch(service, "SELECT carnet_number, decision, reasons FROM transactions WHERE commit_id = $1",
                                late.commit_id))[0]
        applied = lifecycle(service, "duplicate", "applied")
    assert original is not None and copy is not None
    assert (original["status"], original["successor"]) == ("voided", DUPLICATE)
    assert (copy["status"], copy["predecessor"], copy["expiry_date"], copy["holder_id"], list(copy["countries"]),
            copy["active"], copy["general_list_digest"]) == (
        "valid", NUMBER, EXPIRY, "hld_1", ["CH", "GB"], True, original["general_list_digest"])
    # R5: the record of goods already out travels with the duplicate, with the exportation they left with (R8)
    assert {n: (i["location"], i["exported_by"]) for n, i in copied.items()} == {
        1: ("exported", 1), 2: ("exported", 1), 3: ("home", None)}
    assert {n: (i["location"], i["exported_by"]) for n, i in copied.items()} == {
        n: (i["location"], i["exported_by"]) for n, i in original_items.items()}
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
        body, headers = await publish(broker, duplicate_issued(NUMBER, DUPLICATE, clock.now), ISSUANCE_EVENTS.name, NUMBER)
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
    assert {k: v for k, v in without_inbox(after_second).items() if k != "outbox"} == \
        {k: v for k, v in without_inbox(before).items() if k != "outbox"}
    assert [(d["payload"]["successor_number"], d["payload"]["outcome"], d["payload"]["reasons"][0]["code"])
            for d in decisions[1:]] == [("FR2600000044", "refused", "carnet_voided")]
    assert (decisions[0]["payload"]["successor_number"], decisions[0]["payload"]["outcome"]) == (DUPLICATE, "applied")
    assert [(r["carnet_number"], r["status"]) for r in carnets] == [(NUMBER, "voided"), (DUPLICATE, "valid")]
    assert counts == (1, 1)


# --- R6: replacement --------------------------------------------------------------------------------


REQUESTED = datetime(2027, 10, 1, 8, 0, tzinfo=UTC)
APPROVED = datetime(2027, 10, 3, 8, 0, tzinfo=UTC)


async def test_r6_replacement_takes_over_the_goods_abroad_in_a_country_that_accepts_it(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        clock.now = datetime(2027, 10, 3, 9, 0, tzinfo=UTC)
        await publish(broker, replacement_issued(NUMBER, replacement_carnet(), REQUESTED, APPROVED),
                      ISSUANCE_EVENTS.name, NUMBER)
        original, successor = await carnet_row(service, NUMBER), await carnet_row(service, REPLACEMENT)
        original_items, taken = await items_of(service, NUMBER), await items_of(service, REPLACEMENT)
        chains = await chain(service, NUMBER), await chain(service, REPLACEMENT)
        applied = lifecycle(service, "replacement", "applied")
        on_original = await refused(service, K.REEXPORTATION, "CH", [1, 2])
        # the goods leave CH under the replacement, closing the original's importation No. 1 (R8)
        leave = await cross(service, broker, key, clock, K.REEXPORTATION, "CH", [1, 2], number=REPLACEMENT)
        closes = await fetch(service, "SELECT closes FROM declarations WHERE declaration_id = $1", leave.declaration_id)
        after_leaving = await locations(service, REPLACEMENT)
        # the original is discharged: item 3 never left, items 1 and 2 were taken over (R7)
        async with service.pool.acquire() as conn:
            closing = await service.state["handlers"].close(conn, NUMBER, "hld_1")
    assert original is not None and successor is not None
    assert (original["status"], original["successor"]) == ("valid", REPLACEMENT)
    assert {n: (i["location"], i["country"], i["final_date"], i["note"]) for n, i in original_items.items()} == {
        1: ("transferred", None, None, REPLACEMENT), 2: ("transferred", None, None, REPLACEMENT),
        3: ("home", None, None, None)}
    assert (successor["status"], successor["predecessor"], successor["expiry_date"], successor["active"]) == (
        "valid", NUMBER, NEW_EXPIRY, True)
    assert {n: (i["location"], i["country"], i["final_date"]) for n, i in taken.items()} == {
        1: ("abroad", "CH", NEW_EXPIRY), 2: ("abroad", "CH", NEW_EXPIRY), 3: ("home", None, None)}
    (original_check, original_events), (new_check, new_events) = chains
    assert original_check.ok and new_check.ok
    assert original_events == ["crossing", "crossing", "replacement_issued"]
    assert new_events == ["replacement_issued"]
    assert applied == 1
    assert [(r.rule, r.code) for r in on_original.reasons] == [("R11", "item_not_there")] * 2
    assert (leave.sequence, closes[0]["closes"]) == (1, 1)
    assert after_leaving == {1: ("exported", None, None), 2: ("exported", None, None), 3: ("home", None, None)}
    assert (closing.home, closing.accounted, closing.transferred) == ([3], [], [1, 2])
    assert REPLACEMENT in closing.reason


async def test_r6_a_stale_token_of_the_original_for_goods_taken_over_is_recorded_as_refused(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        clock.now = datetime(2027, 10, 2, 9, 0, tzinfo=UTC)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        stale = await declare(service, K.REEXPORTATION, "CH", [1, 2])  # before the replacement, scanned after it
        clock.now = datetime(2027, 10, 3, 9, 0, tzinfo=UTC)
        await publish(broker, replacement_issued(NUMBER, replacement_carnet(), REQUESTED, APPROVED),
                      ISSUANCE_EVENTS.name, NUMBER)
        late = await commit(broker, key, clock, stale)
        rows = await fetch(service, "SELECT decision, reasons FROM transactions WHERE commit_id = $1", late.commit_id)
        original = await locations(service, NUMBER)
    assert [r["decision"] for r in rows] == ["refused"]
    assert "R11" in [r["rule"] for r in json.loads(rows[0]["reasons"])]
    assert original[1][0] == original[2][0] == "transferred"


async def test_r5_r6_a_duplicate_or_replacement_of_an_unknown_carnet_is_refused_to_the_nga_not_dead_lettered(
        settings, clock, running):
    service = build(settings, clock=clock)
    dead = dead_letters(service, ISSUANCE_EVENTS.dead_letter)
    async with running(service) as broker:
        await publish(broker, duplicate_issued(NUMBER, DUPLICATE, clock.now), ISSUANCE_EVENTS.name, NUMBER)
        await publish(broker, replacement_issued(NUMBER, replacement_carnet(), REQUESTED, clock.now),
                      ISSUANCE_EVENTS.name, NUMBER)
        decided = await decisions(service)
        carnets = await fetch(service, "SELECT carnet_number FROM carnets")
    assert decided == [(DUPLICATE, "refused", ["unknown_original"]), (REPLACEMENT, "refused", ["unknown_original"])]
    assert carnets == []
    assert dead == []


async def test_r6_a_replacement_approved_after_the_expiry_is_refused(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        before = await state(service)
        # the day after the expiry everywhere, even where 21 Nov ends last (Etc/GMT+12: 22 Nov 12:00 UTC)
        late = datetime(2027, 11, 22, 18, 0, tzinfo=UTC)
        clock.now = late
        await publish(broker, replacement_issued(NUMBER, replacement_carnet(), REQUESTED, late),
                      ISSUANCE_EVENTS.name, NUMBER)
        after = await state(service)
        counts = lifecycle(service, "replacement", "applied"), lifecycle(service, "replacement", "refused")
        items = await locations(service)
        decided = await decisions(service)
    assert len(after["inbox"]) == len(before["inbox"]) + 1
    assert ledger(after) == ledger(before)
    assert [(n, o) for n, o, _ in decided] == [(REPLACEMENT, "refused")]
    assert counts == (0, 1)
    assert items[1] == items[2] == ("abroad", "CH", EXPIRY)


async def test_r6_goods_only_in_a_country_refusing_replacements_leave_nothing_to_replace(
        settings, clock, running, caplog):
    service = build(settings, clock=clock)
    assert service.state["policy"].book.countries["US"].replacement_accepted is False  # as the default
    assert not service.state["policy"].book.for_country("US").replacement_accepted
    async with running(service) as broker:
        await issue(broker, countries=["CH", "US"])
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "US", [1, 2])
        before = await state(service)
        with caplog.at_level(logging.WARNING, logger="core.usecases.lifecycle"):
            clock.now = APPROVED  # R6: the ledger receives the approval when it is given
            await publish(broker, replacement_issued(NUMBER, replacement_carnet(["CH", "US"]), REQUESTED, APPROVED),
                          ISSUANCE_EVENTS.name, NUMBER)
        after = await state(service)
        counts = lifecycle(service, "replacement", "applied"), lifecycle(service, "replacement", "refused")
        decided = await decisions(service)
    assert ledger(after) == ledger(before)
    assert [(n, o) for n, o, _ in decided] == [(REPLACEMENT, "refused")]
    assert counts == (0, 1)
    refusal = [r.getMessage() for r in caplog.records if r.name == "core.usecases.lifecycle" and "replacement" in r.getMessage()]
    assert len(refusal) == 1
    assert "no goods abroad in a country that accepts replacement carnets (goods are in US)" in refusal[0]


async def test_r6_only_the_goods_in_a_country_that_accepts_replacements_are_taken_over(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, countries=["CH", "US"])
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2])
        await cross(service, broker, key, clock, K.IMPORTATION, "CH", [1])
        await cross(service, broker, key, clock, K.IMPORTATION, "US", [2])
        clock.now = APPROVED  # R6: the ledger receives the approval when it is given
        await publish(broker, replacement_issued(NUMBER, replacement_carnet(["CH", "US"]), REQUESTED, APPROVED),
                      ISSUANCE_EVENTS.name, NUMBER)
        original, taken = await locations(service, NUMBER), await locations(service, REPLACEMENT)
        async with service.pool.acquire() as conn:
            with pytest.raises(LifecycleRefused) as still_out:
                await service.state["handlers"].close(conn, NUMBER, "hld_1")
    assert original == {1: ("transferred", None, None), 2: ("abroad", "US", EXPIRY), 3: ("home", None, None)}
    assert taken == {1: ("abroad", "CH", NEW_EXPIRY), 2: ("transferred", None, None), 3: ("home", None, None)}  # 2 is held by the original
    assert [(r.rule, r.code) for r in still_out.value.reasons] == [("R7", "goods_still_abroad")]


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
        1: ("abroad", EXPIRY, None), 2: ("accounted", None, receipt.duty_receipt), 3: ("home", None, None)}
    assert check.ok and events == ["crossing", "crossing", "items_accounted_for"]
    assert applied == 1
    assert redelivered == before  # the first delivery's effect is above; the second changes nothing


@pytest.mark.parametrize(("items", "country"), [([3], "CH"), ([1], "GB"), ([1, 3], "CH"), ([9], "CH")],
                         ids=["item-at-home", "item-in-another-country", "one-of-two-not-there", "unknown-item"])
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


# --- R7: closure through the holder API ---------------------------------------------------------------


async def test_r7_close_through_http(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http, client(service, "rep_1") as representative:
        await issue(broker, representative_ids=["rep_1"])
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        still_out = await http.post(f"/v1/carnets/{NUMBER}/close")
        # item 1 destroyed in CH and settled by a duty receipt; item 2 comes home
        await publish(broker, items_accounted_for(NUMBER, [1], "CH", clock.now), CUSTOMS_COMMITS.name, NUMBER)
        await cross(service, broker, key, clock, K.REEXPORTATION, "CH", [2])
        half_home = await http.post(f"/v1/carnets/{NUMBER}/close")
        await cross(service, broker, key, clock, K.REIMPORTATION, "FR", [2])
        by_representative = await representative.post(f"/v1/carnets/{NUMBER}/close")
        closed = await http.post(f"/v1/carnets/{NUMBER}/close")
        row = await carnet_row(service, NUMBER)
        queued = await outbox(service)
        check, events = await chain(service, NUMBER)
        after_closing = await refused(service, K.EXPORTATION, "FR", [3])
        twice = await http.post(f"/v1/carnets/{NUMBER}/close")
        unknown = await http.post("/v1/carnets/FR2699999999/close")
        counts = lifecycle(service, "closure", "applied"), lifecycle(service, "closure", "refused")
    assert still_out.status_code == 409, still_out.text
    assert [(r["rule"], r["code"]) for r in still_out.json()["detail"]["reasons"]] == [("R7", "goods_still_abroad")]
    assert "[1, 2]" in still_out.json()["detail"]["reasons"][0]["message"]
    assert half_home.status_code == 409  # item 2 is exported (left CH, not home yet)
    assert by_representative.status_code == 404  # shared, but only the holder returns the carnet
    assert by_representative.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["carnet_number"], body["status"], body["home"], body["accounted"], body["transferred"]) == (
        NUMBER, "closed", [2, 3], [1], [])
    assert "2 item(s) home, 1 accounted for" in body["reason"]
    assert row is not None
    assert (row["status"], row["closed_at"], row["closing_reason"]) == ("closed", clock.now, body["reason"])
    assert status_changes(queued) == [(CARNET_STATUS.name, NUMBER, "closed", "R7", None)]
    assert check.ok and events[-1] == "closed"
    assert events == ["crossing", "crossing", "items_accounted_for", "crossing", "crossing", "closed"]
    assert [(r.rule, r.code) for r in after_closing.reasons] == [("R7", "carnet_closed")]
    # closing twice: the carnet is found but no longer usable -> 409, not 404
    assert twice.status_code == 409
    assert [(r["rule"], r["code"]) for r in twice.json()["detail"]["reasons"]] == [("R7", "carnet_closed")]
    assert unknown.status_code == 404
    assert counts == (1, 3)


async def test_r7_a_carnet_never_used_closes_with_everything_home(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        closed = await http.post(f"/v1/carnets/{NUMBER}/close")
    assert closed.status_code == 200, closed.text
    assert (closed.json()["home"], closed.json()["accounted"]) == ([1, 2, 3], [])


async def test_r7_a_token_issued_before_the_closure_is_refused_when_scanned_after_it(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        pending = await declare(service, K.EXPORTATION, "FR", [3])
        closed = await http.post(f"/v1/carnets/{NUMBER}/close")  # nothing has left yet: discharged
        late = await commit(broker, key, clock, pending)
        row = (await fetch(service, "SELECT decision, reasons FROM transactions WHERE commit_id = $1", late.commit_id))[0]
        items = await locations(service)
    assert closed.status_code == 200, closed.text
    assert row["decision"] == "refused"
    assert [(r["rule"], r["code"]) for r in json.loads(row["reasons"])] == [("R7", "carnet_closed")]
    assert items[3] == ("home", None, None)


# --- history head on TransactionRecorded --------------------------------------------------------------


async def test_transaction_recorded_carries_the_history_head(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2])
        async with service.pool.acquire() as conn:
            after_export = await history_store.check(conn, NUMBER)
        await cross(service, broker, key, clock, K.IMPORTATION, "CH", [1, 2])
        async with service.pool.acquire() as conn:
            after_import = await history_store.check(conn, NUMBER)
        created = await declare(service, K.REEXPORTATION, "CH", [1])
        await commit(broker, key, clock, created, decision="refused", refusal_reason="seal broken")
        queued = await outbox(service)
    recorded = [m for m in queued if m["type"] == "TransactionRecorded"]
    assert all((m["topic"], m["key"]) == (TRANSACTIONS.name, NUMBER) for m in recorded)
    assert [m["payload"]["decision"] for m in recorded] == ["committed", "committed", "refused"]
    assert after_export.ok and after_import.ok and (after_export.length, after_import.length) == (1, 2)
    assert recorded[0]["payload"]["history_head"] == after_export.head
    assert recorded[1]["payload"]["history_head"] == after_import.head
    assert after_export.head != after_import.head
    assert recorded[2]["payload"]["history_head"] is None  # a refusal is not appended to the chain


# --- R14: split shipments through the service -----------------------------------------------------------


async def test_r14_split_importation_into_mexico_is_refused_and_names_the_policy(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        assert service.state["policy"].book.version == POLICY_VERSION
        await issue(broker, countries=["CH", "MX"])
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2, 3])
        split = await refused(service, K.IMPORTATION, "MX", [1, 2])
        queued = await outbox(service)
        whole = await cross(service, broker, key, clock, K.IMPORTATION, "MX", [1, 2, 3])
        split_out = await refused(service, K.REEXPORTATION, "MX", [1])
        whole_out = await declare(service, K.REEXPORTATION, "MX", [1, 2, 3])
        items = await locations(service)
    assert split.status == 422
    assert [(r.rule, r.code, r.policy) for r in split.reasons] == [
        ("R14", "split_shipment_forbidden", f"country-policy {POLICY_VERSION} MX")]
    published = [m["payload"] for m in queued if m["type"] == "DeclarationRefused"]
    assert [(r["rule"], r["policy"]) for r in published[-1]["reasons"]] == [("R14", f"country-policy {POLICY_VERSION} MX")]
    assert whole.sequence == 1
    assert items == {n: ("abroad", "MX", EXPIRY) for n in (1, 2, 3)}
    assert [(r.rule, r.code) for r in split_out.reasons] == [("R14", "split_shipment_forbidden")]
    assert whole_out.sequence == 1


# --- gaps these tests found, fixed since ---------------------------------------------------------------


async def test_r6_a_replacement_does_not_take_over_goods_in_a_country_it_is_not_valid_for(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        clock.now = APPROVED  # R6: the ledger receives the approval when it is given
        await publish(broker, replacement_issued(NUMBER, replacement_carnet(["GB"]), REQUESTED, APPROVED),
                      ISSUANCE_EVENTS.name, NUMBER)
        successor = await carnet_row(service, REPLACEMENT)
        taken = await locations(service, REPLACEMENT)
    valid_for = list(successor["countries"]) if successor else []
    assert [(n, c) for n, (where, c, _) in taken.items() if where == "abroad" and c not in valid_for] == []


def claims_topics() -> set[str]:
    from contracts.topics import TOPICS

    return {t.name for t in TOPICS if "claims_worker" in t.consumers}


async def stop_being_liable(settings: Any, clock: Any, running: Any, event: str) -> list[dict[str, Any]]:
    """Goods in CH, then a duty receipt for item 2 (R17) or a replacement taking both over (R6): what was queued."""
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        before = len(await outbox(service))
        if event == "duty_receipt":
            await publish(broker, items_accounted_for(NUMBER, [2], "CH", clock.now), CUSTOMS_COMMITS.name, NUMBER)
        else:
            clock.now = APPROVED  # R6: the ledger receives the approval when it is given
            await publish(broker, replacement_issued(NUMBER, replacement_carnet(), REQUESTED, APPROVED),
                          ISSUANCE_EVENTS.name, NUMBER)
        assert lifecycle(service, event, "applied") == 1
        return (await outbox(service))[before:]


@pytest.mark.parametrize("event", ["duty_receipt", "replacement"])
async def test_the_claims_worker_is_told_when_items_stop_being_liable(settings, clock, running, event):
    queued = await stop_being_liable(settings, clock, running, event)
    told = [m for m in queued if m["topic"] in claims_topics() and m["key"] == NUMBER]
    assert told, f"nothing for the claims worker after the {event}: {[(m['topic'], m['type']) for m in queued]}"


@pytest.mark.parametrize("event", ["duty_receipt", "replacement"])
async def test_r6_the_gateways_are_told_of_items_a_replacement_took_over_on_their_topic_and_of_nothing_else(
        settings, clock, running, event):
    """The gateways refuse the original's tokens for items a replacement took over (R6): that change goes to their
    low-volume topic too; a duty receipt's (R17) does not concern them and stays on the ledger's topic."""
    from contracts.topics import CUSTOMS_LEDGER, TRANSACTIONS

    queued = await stop_being_liable(settings, clock, running, event)
    moved = [(m["topic"], m["payload"]["cause"]) for m in queued if m["type"] == "ItemLocationsChanged"]
    expected = [(TRANSACTIONS.name, event)] + ([(CUSTOMS_LEDGER.name, event)] if event == "replacement" else [])
    assert moved == expected
