"""Core ledger service: customs commits (R10-R13) move items and confirm, idempotently; refusals, final dates and expiry
in the office's zone."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS, NOTIFICATION_REQUESTS, TRANSACTIONS
from core.app import build
from tests.service.conftest import outbox
from tests.support.core import EXPIRY, NUMBER, activate, claims_of, declare, fetch, issue, locations, publish, with_key
from tests.support.core_service import settings  # noqa: F401  (settings: the fixture)
from tests.support.databases import snapshot
from tests.support.messages import customs_commit

# --- customs commits ------------------------------------------------------------------------------


async def test_r10_committed_exportation_moves_items_activates_and_confirms(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, representative_ids=["rep_1"])
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        claims = claims_of(created.token, key, clock.now)
        commit = customs_commit(claims, clock.now)
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        active = await fetch(service, "SELECT active FROM carnets")
        transactions = await fetch(service, "SELECT * FROM transactions")
        status = await fetch(service, "SELECT status FROM declarations")
        queued = await outbox(service)
    assert items == {1: ("exported", None, None), 2: ("exported", None, None), 3: ("home", None, None)}
    assert active[0]["active"] is True
    assert len(transactions) == 1
    t = transactions[0]
    assert (
        t["decision"],
        t["kind"],
        list(t["items"]),
        t["sequence"],
        t["commit_id"],
        t["office_id"],
        t["decided_at"],
    ) == ("committed", "exportation", [1, 2], 1, commit.commit_id, "FR-CDG-FRET", clock.now)
    assert json.loads(t["reasons"]) == []
    assert status[0]["status"] == "committed"
    recorded = [m for m in queued if m["type"] == "TransactionRecorded"]
    confirm = [m for m in queued if m["type"] == "ConfirmationRequested"]
    assert len(recorded) == 1 and len(confirm) == 1
    assert (recorded[0]["topic"], recorded[0]["key"]) == (TRANSACTIONS.name, NUMBER)
    p = recorded[0]["payload"]
    assert (p["decision"], p["kind"], p["items"], p["carnet_expiry"], p["office_timezone"]) == (
        "committed",
        "exportation",
        [1, 2],
        "2027-11-21",
        "Europe/Paris",
    )
    assert p["item_locations"] == [
        {"item_number": 1, "location": "exported", "country": None, "final_date": None},
        {"item_number": 2, "location": "exported", "country": None, "final_date": None},
    ]
    assert p["transaction_id"] == str(t["transaction_id"])
    assert (confirm[0]["topic"], confirm[0]["key"]) == (NOTIFICATION_REQUESTS.name, NUMBER)
    c = confirm[0]["payload"]
    assert c["recipient_ids"] == ["hld_1", "rep_1"]
    assert (c["transaction_id"], c["decision"], c["items"]) == (p["transaction_id"], "committed", [1, 2])


async def test_the_same_commit_twice_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now)
        body, headers = await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "core")
        await broker.publish(body, CUSTOMS_COMMITS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "core")
    assert before == after
    assert len(before["transactions"]) == 1


async def test_a_second_different_commit_for_a_decided_token_is_ignored(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        claims = claims_of(created.token, key, clock.now)
        await publish(broker, customs_commit(claims, clock.now), CUSTOMS_COMMITS.name, NUMBER)
        queued_before = await outbox(service)
        other = customs_commit(claims, clock.now + timedelta(minutes=5), decision="refused", refusal_reason="late scan")
        await publish(broker, other, CUSTOMS_COMMITS.name, NUMBER)
        transactions = await fetch(service, "SELECT commit_id, decision FROM transactions")
        items = await locations(service)
        queued_after = await outbox(service)
    assert [(t["commit_id"], t["decision"]) for t in transactions] == [(transactions[0]["commit_id"], "committed")]
    assert transactions[0]["commit_id"] != other.commit_id
    assert items[1][0] == "exported"
    assert queued_after == queued_before


async def test_customs_refusal_is_recorded_and_moves_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        commit = customs_commit(
            claims_of(created.token, key, clock.now),
            clock.now,
            decision="refused",
            refusal_reason="goods do not match the list",
        )
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        carnet = await fetch(service, "SELECT active FROM carnets")
        t = (await fetch(service, "SELECT decision, reasons FROM transactions"))[0]
    assert items[1] == ("home", None, None)
    assert carnet[0]["active"] is False  # R10: a refused exportation does not activate
    assert t["decision"] == "refused"
    assert [r["message"] for r in json.loads(t["reasons"])] == ["goods do not match the list"]


async def test_r13_committed_importation_gets_the_final_date(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2])
        for item, final in ((1, None), (2, date(2027, 3, 31))):
            created = await declare(service, K.IMPORTATION, "CH", [item])
            commit = customs_commit(
                claims_of(created.token, key, clock.now),
                clock.now,
                office_id="CH-GVA-AIR",
                office_timezone="Europe/Zurich",
                final_date=final,
            )
            await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
    assert items[1] == ("abroad", "CH", EXPIRY)
    assert items[2] == ("abroad", "CH", date(2027, 3, 31))


async def test_r13_a_final_date_after_expiry_is_recorded_as_refused_not_dead_lettered(settings, clock, running):
    """A producer other than our gateway may post a final date past the expiry: the ledger refuses it."""
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1])
        created = await declare(service, K.IMPORTATION, "CH", [1])
        commit = customs_commit(
            claims_of(created.token, key, clock.now),
            clock.now,
            office_id="CH-GVA-AIR",
            office_timezone="Europe/Zurich",
            final_date=EXPIRY + timedelta(days=1),
        )
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        rows = await fetch(service, "SELECT decision, reasons FROM transactions WHERE commit_id = $1", commit.commit_id)
        items = await locations(service)
    assert [r["decision"] for r in rows] == ["refused"]
    assert "R13" in [r["rule"] for r in json.loads(rows[0]["reasons"])]
    assert items[1][0] == "exported"


async def test_r12_commit_after_expiry_in_the_office_zone_is_recorded_as_refused(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2])
        clock.now = datetime(2027, 11, 21, 10, 0, tzinfo=UTC)  # before expiry everywhere
        created = await declare(service, K.IMPORTATION, "CH", [1, 2])
        claims = claims_of(created.token, key, clock.now)
        late = datetime(2027, 11, 21, 23, 30, tzinfo=UTC)  # 00:30 on 22 Nov in Zurich
        clock.now = late
        commit = customs_commit(claims, late, office_id="CH-GVA-AIR", office_timezone="Europe/Zurich")
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        transactions = await fetch(service, "SELECT kind, decision, reasons FROM transactions ORDER BY recorded_at")
        status = await fetch(service, "SELECT kind, status FROM declarations ORDER BY kind")
        queued = await outbox(service)
    assert items[1] == ("exported", None, None) and items[2] == ("exported", None, None)
    assert [(t["kind"], t["decision"]) for t in transactions] == [
        ("exportation", "committed"),
        ("importation", "refused"),
    ]
    assert [r["rule"] for r in json.loads(transactions[1]["reasons"])] == ["R12"]
    assert [(s["kind"], s["status"]) for s in status] == [("exportation", "committed"), ("importation", "refused")]
    recorded = [m["payload"] for m in queued if m["type"] == "TransactionRecorded"]
    assert recorded[-1]["decision"] == "refused"
    assert [loc["location"] for loc in recorded[-1]["item_locations"]] == ["exported", "exported"]
    confirmations = [m["payload"] for m in queued if m["type"] == "ConfirmationRequested"]
    assert confirmations[-1]["decision"] == "refused"
    # History positions a receiver orders on: the exportation appended entry 1; the refusal appends none and
    # reflects the ledger as of entry 1.
    assert [c["history_position"] for c in confirmations] == [1, 1]


async def test_r12_the_same_instant_is_still_valid_at_an_office_further_west(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, countries=["CH", "US"])
        key = await with_key(service)
        await activate(service, broker, key, clock, [1])
        clock.now = datetime(2027, 11, 21, 10, 0, tzinfo=UTC)
        created = await declare(service, K.IMPORTATION, "US", [1])
        at = datetime(2027, 11, 21, 23, 30, tzinfo=UTC)  # 18:30 on 21 Nov in New York
        commit = customs_commit(
            claims_of(created.token, key, clock.now), at, office_id="US-JFK-CBP", office_timezone="America/New_York"
        )
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
    assert items[1] == ("abroad", "US", EXPIRY)


async def test_a_commit_that_differs_from_the_declaration_is_refused_r9(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        commit = customs_commit(claims_of(created.token, key, clock.now), clock.now, items=[1, 2, 3])
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        items = await locations(service)
        t = (await fetch(service, "SELECT decision, items, reasons FROM transactions"))[0]
    assert items == {1: ("home", None, None), 2: ("home", None, None), 3: ("home", None, None)}
    assert (t["decision"], list(t["items"])) == ("refused", [1])
    assert [r["rule"] for r in json.loads(t["reasons"])] == ["R9"]
