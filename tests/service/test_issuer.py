"""Issuer service: sealed issuance requests over the topic (R1-R4), the NGA registry, idempotency,
duplicates (R5) and replacements (R6) answered with the core's decision, dead letters."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from contracts.envelope import Envelope, qualified_type
from contracts.messages import CarnetSuccessionDecided, DuplicateRequested, GoodsCategory, Reason
from contracts.topics import ISSUANCE_EVENTS, ISSUANCE_OUTCOMES, ISSUANCE_REQUESTS, issuance_responses
from issuer.app import build
from issuer.domain import is_valid_carnet_number
from nga_client.carnets import seal_replacement
from tests.service.conftest import dead_letters, outbox
from tests.support.databases import snapshot
from tests.support.messages import goods, issuance_request, plain_carnet, sealed_request, wallet_key, wire

FR = issuance_responses("FR").name
HOLDER_NAME = "Lumière Productions SARL"


async def send(broker, payload, topic=ISSUANCE_REQUESTS.name, key=None):
    body, headers, env = wire(payload)
    await broker.publish(body, topic, key=(key or getattr(payload, "request_id", "")).encode(), headers=headers)
    return env


def by_topic(queued, topic):
    return [m for m in queued if m["topic"] == topic]


async def test_r1_sealed_request_issues_a_checked_number_and_answers_on_the_ngas_topic(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await send(broker, sealed_request("REQ-1"))
        queued = await outbox(service)
    [ledger] = by_topic(queued, ISSUANCE_EVENTS.name)
    [answer] = by_topic(queued, FR)
    number = ledger["payload"]["carnet_number"]
    assert ledger["type"] == answer["type"] == "CarnetIssued"
    assert ledger["key"] == number and answer["key"] == "REQ-1"
    assert is_valid_carnet_number(number) and number.startswith("FR26")
    assert ledger["payload"]["document"]["recipients"][0]["recipient_id"] == "hld_1"
    assert answer["payload"]["document"] is None  # the NGA's answer carries no document
    assert answer["payload"]["carnet_number"] == number
    assert [i["item_number"] for i in ledger["payload"]["items"]] == [1, 2, 3]


async def test_r4_excluded_goods_are_rejected_with_a_reason_per_item_naming_the_category(settings, clock, running):
    service = build(settings, clock=clock)
    items = goods(3)
    items[1] = items[1].model_copy(update={"category": GoodsCategory.ALCOHOL})
    items[2] = items[2].model_copy(update={"category": GoodsCategory.PERISHABLE})
    async with running(service) as broker:
        await send(broker, sealed_request("REQ-2", goods=items))
        queued = await outbox(service)
    assert [(m["topic"], m["type"], m["key"]) for m in queued] == [(FR, "IssuanceRejected", "REQ-2")]
    reasons = queued[0]["payload"]["reasons"]
    assert [(r["rule"], r["item_number"], r["field"]) for r in reasons] == [
        ("R4", 2, "goods[1].category"),
        ("R4", 3, "goods[2].category"),
    ]
    assert "alcohol" in reasons[0]["message"] and "perishable" in reasons[1]["message"]


async def test_r4_whisky_declared_as_exhibition_is_refused_by_its_tariff_code_over_the_topic(settings, clock, running):
    """The description is sealed; the HS code beside it is not: chapter 22 is refused whatever the category."""
    service = build(settings, clock=clock)
    items = goods(2)
    items[1] = items[1].model_copy(
        update={"category": GoodsCategory.EXHIBITION, "description": "whisky, 12 bottles", "hs_code": "2208.30"}
    )
    async with running(service) as broker:
        await send(broker, sealed_request("REQ-HS", goods=items))
        queued = await outbox(service)
    assert [(m["type"], m["key"]) for m in queued] == [("IssuanceRejected", "REQ-HS")]
    reasons = queued[0]["payload"]["reasons"]
    assert [(r["rule"], r["code"], r["item_number"], r["field"]) for r in reasons] == [
        ("R4", "tariff_code_excluded", 2, "goods[1].hs_code")
    ]


async def test_r1_r2_every_reason_is_given_at_once(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await send(broker, sealed_request("REQ-2b", countries=["FR", "CH"], expiry_date=datetime(2028, 1, 1).date()))
        [answer] = await outbox(service)
    assert sorted((r["rule"], r["field"]) for r in answer["payload"]["reasons"]) == [
        ("R1", "countries"),
        ("R2", "expiry_date"),
    ]


async def test_same_message_twice_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        body, headers, _ = wire(sealed_request("REQ-3"))
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers=headers)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "issuer")
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "issuer")
    assert before == after
    assert len(before["carnets"]) == 1


async def test_repeated_request_id_gets_the_same_answer_and_no_second_carnet(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        for _ in range(2):  # two different messages (fresh message ids, freshly sealed) with one request id
            await send(broker, sealed_request("REQ-4"))
        queued = await outbox(service)
        async with service.pool.acquire() as conn:
            carnets = await conn.fetchval("SELECT count(*) FROM carnets")
    assert carnets == 1
    assert len(by_topic(queued, ISSUANCE_EVENTS.name)) == 1
    answers = by_topic(queued, FR)
    assert [m["type"] for m in answers] == ["CarnetIssued", "CarnetIssued"]
    assert answers[0]["payload"] == answers[1]["payload"]


async def test_r1_unknown_or_suspended_associations_and_ngas_are_rejected_with_the_reason(settings, clock, running):
    service = build(settings, clock=clock)
    cases = {
        "REQ-IA-1": dict(issuing_association="FR-NOWHERE"),
        "REQ-IA-2": dict(issuing_association="FR-CCI-TEST-SUSPENDED"),
        "REQ-IA-3": dict(issuing_association="BE-CCI-BXL"),
        "REQ-IA-4": dict(nga="PT", issuing_association="PT-CCI-LISBOA"),
    }
    async with running(service) as broker:
        for rid, fields in cases.items():
            await send(broker, sealed_request(rid, **fields))
        queued = await outbox(service)
        async with service.pool.acquire() as conn:
            carnets = await conn.fetchval("SELECT count(*) FROM carnets")
    codes = {m["key"]: [(r["rule"], r["code"]) for r in m["payload"]["reasons"]] for m in queued}
    assert codes == {
        "REQ-IA-1": [("R1", "unknown_issuing_association")],
        "REQ-IA-2": [("R1", "issuing_association_suspended")],
        "REQ-IA-3": [("R1", "unknown_issuing_association")],
        "REQ-IA-4": [("R1", "unknown_nga")],
    }
    assert "issues under BE" in next(m for m in queued if m["key"] == "REQ-IA-3")["payload"]["reasons"][0]["message"]
    assert {m["topic"] for m in queued} == {FR, issuance_responses("PT").name}
    assert carnets == 0


async def test_a_plain_document_is_refused_and_kept_nowhere(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await send(broker, issuance_request("REQ-PLAIN"))
        queued = await outbox(service)
        async with service.pool.acquire() as conn:
            tables = await snapshot(conn, "issuer")
    assert [(m["type"], m["payload"]["reasons"][0]["code"]) for m in queued] == [
        ("IssuanceRejected", "plain_document_refused")
    ]
    assert HOLDER_NAME not in json.dumps(tables, default=str) + json.dumps(queued)


async def issue_original(service, broker) -> str:
    await send(broker, sealed_request("REQ-ORIG"))
    return by_topic(await outbox(service), ISSUANCE_EVENTS.name)[0]["payload"]["carnet_number"]


def decision(event: dict, outcome: str, kind: str, successor_field: str, reasons=()) -> CarnetSuccessionDecided:
    p = event["payload"]
    successor = p[successor_field] if successor_field != "replacement" else p["replacement"]["carnet_number"]
    return CarnetSuccessionDecided(
        request_id=p["request_id"],
        kind=kind,
        original_number=p["original_number"],
        successor_number=successor,
        outcome=outcome,
        reasons=list(reasons),
        decided_at=datetime(2027, 2, 1, 10, tzinfo=UTC),
    )


async def test_r5_duplicate_goes_to_the_core_and_its_decision_answers_the_nga(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        original = await issue_original(service, broker)
        ask = DuplicateRequested(
            request_id="REQ-DUP",
            nga="FR",
            issuing_association="FR-CCI-PARIS",
            original_number=original,
            reason="stolen",
        )
        await send(broker, ask)
        pending = await outbox(service)
        [event] = [m for m in pending if m["type"] == "DuplicateCarnetIssued"]
        assert [m["type"] for m in by_topic(pending, FR)] == ["CarnetIssued"]  # nothing answered yet for REQ-DUP
        await send(broker, ask)  # asked again while the core decides: still one answer to come
        decided = decision(event, "applied", "duplicate", "duplicate_number")
        await send(broker, decided, ISSUANCE_OUTCOMES.name, original)
        await send(broker, decided, ISSUANCE_OUTCOMES.name, original)  # redelivered under a new message id
        await send(broker, ask)  # asked again after the decision: the same answer
        answers = [m for m in by_topic(await outbox(service), FR) if m["key"] == "REQ-DUP"]
    assert event["key"] == original and event["topic"] == ISSUANCE_EVENTS.name
    assert event["payload"]["reason"] == "stolen" and is_valid_carnet_number(event["payload"]["duplicate_number"])
    assert [(a["type"], a["payload"]["outcome"]) for a in answers] == [("CarnetSuccessionDecided", "applied")] * 2
    assert answers[0]["payload"]["successor_number"] == event["payload"]["duplicate_number"]


async def test_r5_duplicate_of_a_carnet_the_nga_did_not_issue_is_rejected(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await send(
            broker,
            DuplicateRequested(
                request_id="REQ-DUP-X",
                nga="FR",
                issuing_association="FR-CCI-PARIS",
                original_number="FR2600000010",
                reason="lost",
            ),
        )
        queued = await outbox(service)
    assert [(m["type"], m["payload"]["reasons"][0]["rule"], m["payload"]["reasons"][0]["code"]) for m in queued] == [
        ("IssuanceRejected", "R5", "unknown_original")
    ]


async def test_r6_replacement_refused_by_the_core_is_answered_with_the_reason(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        original = await issue_original(service, broker)
        ask = seal_replacement(
            plain_carnet("REQ-REPL"), original, datetime(2027, 10, 1, tzinfo=UTC), datetime(2027, 10, 3, tzinfo=UTC)
        )
        await send(broker, ask)
        [event] = [m for m in await outbox(service) if m["type"] == "ReplacementCarnetIssued"]
        why = Reason(
            rule="R6", code="replacement_not_accepted", message="no goods abroad in a country that accepts replacements"
        )
        await send(
            broker, decision(event, "refused", "replacement", "replacement", [why]), ISSUANCE_OUTCOMES.name, original
        )
        [answer] = [m for m in by_topic(await outbox(service), FR) if m["key"] == "REQ-REPL"]
        async with service.pool.acquire() as conn:
            status = await conn.fetchval(
                "SELECT status FROM carnets WHERE carnet_number = $1", event["payload"]["replacement"]["carnet_number"]
            )
    assert event["key"] == original
    assert event["payload"]["replacement"]["document"]["recipients"][0]["recipient_id"] == "hld_1"
    assert answer["payload"]["outcome"] == "refused"
    assert answer["payload"]["reasons"][0]["code"] == "replacement_not_accepted"
    assert status == "refused"


async def test_r1_two_issuer_instances_on_one_database_never_share_a_number(settings, clock, running):
    """R1: numbers are unique worldwide; two instances allocate concurrently from one counter, no gap."""
    first, second = build(settings, clock=clock), build(settings, clock=clock)
    await first.open_database()
    await second.open_database()
    per_instance = 25

    async def issue(service, n: int) -> str:
        req = sealed_request(f"REQ-{service.name}-{id(service)}-{n}")
        env = Envelope(type=req.TYPE, producer="test", subject=req.request_id)
        async with service.pool.acquire() as conn, conn.transaction():
            answer = await service.state["handlers"].submit(conn, req, env, channel="test")
        return answer.carnet_number

    try:
        numbers = await asyncio.gather(*(issue(s, n) for n in range(per_instance) for s in (first, second)))
    finally:
        await first.pool.close()
        await second.pool.close()
    assert len(set(numbers)) == 2 * per_instance
    assert all(is_valid_carnet_number(n) for n in numbers)
    assert sorted(int(n[4:11]) for n in numbers) == list(range(1, 2 * per_instance + 1))


async def test_malformed_json_lands_on_the_dead_letter_topic_with_the_reason(settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    async with running(service) as broker:
        _, headers, env = wire(sealed_request("REQ-5"))
        await broker.publish(b'{"request_id": "REQ-5", ', ISSUANCE_REQUESTS.name, headers=headers)
        # the partition keeps moving: a good message after the bad one is applied
        await send(broker, sealed_request("REQ-6"))
        queued = await outbox(service)
    assert len(seen) == 1
    dead_body, dead_headers = seen[0]
    assert dead_body == b'{"request_id": "REQ-5", '
    assert dead_headers["dlq_kind"] == "malformed_json"
    assert "SealedIssuanceRequested" in dead_headers["dlq_reason"]
    assert dead_headers["ce_id"] == str(env.message_id)
    assert {m["payload"]["request_id"] for m in queued} == {"REQ-6"}


async def test_unknown_type_and_missing_envelope_are_dead_lettered(settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    async with running(service) as broker:
        body, headers, _ = wire(sealed_request("REQ-7"))
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers={**headers, "ce_type": "CarnetExploded"})
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers={"content-type": "application/json"})
        await broker.publish(
            body,
            ISSUANCE_REQUESTS.name,
            headers={**headers, "ce_type": qualified_type("SealedIssuanceRequested", 9), "ce_schemaversion": "9"},
        )
        queued = await outbox(service)
    assert [h["dlq_kind"] for _, h in seen] == ["unknown_type", "envelope", "unknown_type"]
    # Exactly one answer per request id: the first broken copy is answered, the others are not.
    assert [(m["topic"], m["type"], m["key"]) for m in queued] == [(FR, "IssuanceRejected", "REQ-7")]
    assert "answered IssuanceRejected" in seen[0][1]["dlq_reason"]
    assert all("was answered before" in h["dlq_reason"] for _, h in seen[1:])


async def test_a_sealed_document_opens_only_in_the_holders_wallet(settings, clock, running):
    from nga_client import sealing

    service = build(settings, clock=clock)
    async with running(service) as broker:
        await send(broker, sealed_request("REQ-8"))
        [ledger] = by_topic(await outbox(service), ISSUANCE_EVENTS.name)
    from contracts.messages import CarnetIssued

    carnet = CarnetIssued.model_validate(ledger["payload"])
    doc = sealing.open_document(
        carnet.document, "hld_1", wallet_key(1), nga="FR", request_id="REQ-8", digest=carnet.general_list_digest
    )
    assert doc["holder"]["name"] == HOLDER_NAME
    assert HOLDER_NAME not in json.dumps(ledger)


@pytest.mark.parametrize("create", [True, False])
async def test_the_nga_response_topics_are_created_only_when_topics_are_not_managed_outside(
    settings, clock, monkeypatch, create
):
    """Strimzi (deploy/k8s/overlays/example) creates every topic: ATA_KAFKA_CREATE_TOPICS=false, and the issuer
    then asks the cluster for nothing an admin right would be needed for."""
    import issuer.app

    asked: list[dict] = []

    async def ensure_topics(bootstrap: str, topics: dict, **client) -> list[str]:
        asked.append(topics)
        return []

    monkeypatch.setattr(issuer.app, "ensure_topics", ensure_topics)
    service = build(settings.model_copy(update={"kafka_create_topics": create}), clock=clock)
    for hook in service._on_start:
        await hook()
    assert bool(asked) == create
    if create:
        assert "ata.issuance.responses.fr.v1" in asked[0]


async def test_a_request_in_the_deprecated_envelope_form_is_still_issued_and_counted(settings, clock, running):
    """Earlier releases' NGAs send `ce_type: SealedIssuanceRequested` and may omit ce_specversion: read for one
    deprecation period, each such message counted so an operator sees when the period can end."""
    service = build(settings, clock=clock)
    async with running(service) as broker:
        body, headers, _ = wire(sealed_request("REQ-OLD"))
        old = {**headers, "ce_type": "SealedIssuanceRequested"}
        del old["ce_specversion"], old["ce_dataschema"]
        await broker.publish(body, ISSUANCE_REQUESTS.name, key=b"REQ-OLD", headers=old)
        await send(broker, sealed_request("REQ-NEW"))
        queued = await outbox(service)
    assert {m["payload"]["request_id"] for m in by_topic(queued, FR)} == {"REQ-OLD", "REQ-NEW"}
    assert {m["type"] for m in by_topic(queued, FR)} == {"CarnetIssued"}
    counted = service.registry.get_sample_value("ata_deprecated_envelopes_total", {"topic": ISSUANCE_REQUESTS.name})
    assert counted == 1
