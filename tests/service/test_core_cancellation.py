"""Core ledger, issue 4 item 8: a refusal leaves the voucher unused (R8); a committed transaction is
cancelled with the holder's cancellation code and the officer's reason, through the real handlers and a
real PostgreSQL: items back where they were (R11), activation undone (R10), the history chain extended,
the holder confirmed, and every refusal published for the gateway with its reason."""

from __future__ import annotations

from typing import Any

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS, CUSTOMS_LEDGER, NOTIFICATION_REQUESTS, TRANSACTIONS
from contracts.txcode import parse_transaction_code
from core.app import build
from tests.service.conftest import outbox
from tests.support.core import NUMBER, chain, client, commit, cross, declare, fetch, issue, locations, publish, with_key
from tests.support.messages import cancellation_posted


async def cancellation_code(service: Any, created: Any) -> str:
    """The code as the holder's wallet shows it (grouped), read through the holder API."""
    async with client(service) as http:
        r = await http.get(f"/v1/declarations/{created.declaration_id}")
    assert r.status_code == 200, r.text
    return r.json()["cancellation_code"]


def of_type(queued: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [m for m in queued if m["type"] == type_]


def cancellations(service: Any, outcome: str) -> float:
    return service.registry.get_sample_value("ata_cancellations_total", {"outcome": outcome}) or 0.0


async def test_r8_a_refused_declaration_leaves_its_voucher_unused(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        first = await declare(service, K.EXPORTATION, "FR", [1, 2])
        await commit(broker, key, clock, first, decision="refused", refusal_reason="seal broken")
        again = await declare(service, K.EXPORTATION, "FR", [1, 2])
        await commit(broker, key, clock, again)
        next_one = await declare(service, K.EXPORTATION, "FR", [3])
        rows = await fetch(service, "SELECT sequence, status FROM declarations ORDER BY created_at, sequence")
    assert (first.sequence, again.sequence, next_one.sequence) == (1, 1, 2)
    assert sorted((r["sequence"], r["status"]) for r in rows) == [(1, "committed"), (1, "refused"), (2, "pending")]


async def test_r11_cancelling_a_committed_exportation_brings_the_goods_home_with_the_holders_code(
    settings, clock, running
):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        exported = await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2])
        code = await cancellation_code(service, exported)
        posted = cancellation_posted(NUMBER, exported.transaction_code, parse_transaction_code(code), clock.now)
        await publish(broker, posted, CUSTOMS_COMMITS.name, NUMBER)
        # the same request redelivered under another message id: decided once
        await publish(broker, posted, CUSTOMS_COMMITS.name, NUMBER)
        after = await locations(service)
        carnet = (await fetch(service, "SELECT active FROM carnets WHERE carnet_number = $1", NUMBER))[0]
        declaration = (
            await fetch(service, "SELECT status FROM declarations WHERE declaration_id = $1", exported.declaration_id)
        )[0]
        transaction = (
            await fetch(
                service,
                "SELECT cancelled_at, cancelled_by, cancellation_reason FROM transactions WHERE declaration_id = $1",
                exported.declaration_id,
            )
        )[0]
        queued = await outbox(service)
        check, events = await chain(service, NUMBER)
        next_export = await declare(service, K.EXPORTATION, "FR", [1])
        shown_after = await cancellation_code(service, exported)
    assert after[1][0] == after[2][0] == "home"
    assert carnet["active"] is False  # R10: the activating exportation is undone
    assert declaration["status"] == "cancelled"
    assert (transaction["cancelled_at"], transaction["cancelled_by"], transaction["cancellation_reason"]) == (
        clock.now,
        "fr-officer-0001",
        "declared on the wrong voucher",
    )
    # The claims worker reads it on the ledger's topic, the gateways on their own (no per-crossing topic for them).
    cancelled, copy = of_type(queued, "TransactionCancelled")
    assert [(m["topic"], m["key"], m["payload"]["cancellation_id"]) for m in (cancelled, copy)] == [
        (TRANSACTIONS.name, NUMBER, str(posted.cancellation_id)),
        (CUSTOMS_LEDGER.name, NUMBER, str(posted.cancellation_id)),
    ]
    assert copy["payload"] == cancelled["payload"]
    assert [(i["item_number"], i["location"]) for i in cancelled["payload"]["item_locations"]] == [
        (1, "home"),
        (2, "home"),
    ]
    confirmations = [
        m["payload"] for m in of_type(queued, "ConfirmationRequested") if m["topic"] == NOTIFICATION_REQUESTS.name
    ]
    assert [c["decision"] for c in confirmations] == ["committed", "cancelled"]
    assert [c["history_position"] for c in confirmations] == [1, 2]  # the crossing's entry, then the cancellation's
    assert check.ok and events[-1] == "transaction_cancelled"
    assert cancelled["payload"]["history_head"] == check.head
    assert next_export.sequence == 2  # R8: a cancelled crossing's voucher stays used
    assert shown_after == code  # still shown on the declaration; the transaction list no longer offers it
    assert cancellations(service, "cancelled") == 1


async def test_a_wrong_cancellation_code_is_refused_and_nothing_moves(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        exported = await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1])
        before = await locations(service)
        wrong = cancellation_posted(NUMBER, exported.transaction_code, exported.transaction_code, clock.now)
        await publish(broker, wrong, CUSTOMS_COMMITS.name, NUMBER)
        unknown = cancellation_posted(NUMBER, "7K3M9QX2D4RA8", exported.transaction_code, clock.now)
        await publish(broker, unknown, CUSTOMS_COMMITS.name, NUMBER)
        after = await locations(service)
        queued = await outbox(service)
        requests = await fetch(service, "SELECT cancellation_id, outcome FROM cancellation_requests")
    assert after == before
    refusals = {
        m["payload"]["cancellation_id"]: [r["code"] for r in m["payload"]["reasons"]]
        for m in of_type(queued, "CancellationRefused")
    }
    assert refusals == {
        str(wrong.cancellation_id): ["wrong_cancellation_code"],
        str(unknown.cancellation_id): ["not_committed"],
    }
    assert {(r["cancellation_id"], r["outcome"]) for r in requests} == {
        (wrong.cancellation_id, "refused"),
        (unknown.cancellation_id, "refused"),
    }
    assert of_type(queued, "TransactionCancelled") == []
    assert cancellations(service, "wrong_cancellation_code") == 1


async def test_r11_an_importation_cannot_be_cancelled_once_its_goods_were_reexported(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1])
        imported = await cross(service, broker, key, clock, K.IMPORTATION, "CH", [1])
        await cross(service, broker, key, clock, K.REEXPORTATION, "CH", [1])
        code = await cancellation_code(service, imported)
        await publish(
            broker,
            cancellation_posted(
                NUMBER,
                imported.transaction_code,
                parse_transaction_code(code),
                clock.now,
                country="CH",
                office_id="CH-GVA-AIR",
                office_timezone="Europe/Zurich",
            ),
            CUSTOMS_COMMITS.name,
            NUMBER,
        )
        queued = await outbox(service)
        after = await locations(service)
    [refused] = of_type(queued, "CancellationRefused")
    assert refused["topic"] == CUSTOMS_LEDGER.name  # only the gateway that posted it acts on a refusal
    assert [(r["rule"], r["code"], r["item_number"]) for r in refused["payload"]["reasons"]] == [
        ("R11", "goods_moved_on", 1)
    ]
    assert after[1][0] == "exported"
