"""Issuer service: issuance requests over the topic (R1-R4), idempotency, dead letters."""

from __future__ import annotations

from issuer.app import build
from issuer.domain import is_valid_carnet_number
from contracts.messages import GoodsCategory
from contracts.topics import ISSUANCE_EVENTS, ISSUANCE_REQUESTS
from tests.service.conftest import dead_letters, outbox
from tests.support.databases import snapshot
from tests.support.messages import goods, issuance_request, wire


async def test_request_issues_a_carnet_with_a_checked_number(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        body, headers, env = wire(issuance_request("REQ-1"))
        await broker.publish(body, ISSUANCE_REQUESTS.name, key=b"REQ-1", headers=headers)
        queued = await outbox(service)
    assert [m["type"] for m in queued] == ["CarnetIssued"]
    issued = queued[0]
    assert issued["topic"] == ISSUANCE_EVENTS.name
    assert issued["key"] == issued["payload"]["carnet_number"]
    assert is_valid_carnet_number(issued["payload"]["carnet_number"])
    assert issued["payload"]["carnet_number"].startswith("FR26")
    assert [i["item_number"] for i in issued["payload"]["items"]] == [1, 2, 3]


async def test_r4_excluded_goods_are_rejected_with_a_reason_per_item(settings, clock, running):
    service = build(settings, clock=clock)
    items = goods(3)
    items[1] = items[1].model_copy(update={"category": GoodsCategory.ALCOHOL})
    items[2] = items[2].model_copy(update={"category": GoodsCategory.PERISHABLE})
    async with running(service) as broker:
        body, headers, _ = wire(issuance_request("REQ-2", goods=items))
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers=headers)
        queued = await outbox(service)
    assert [m["type"] for m in queued] == ["IssuanceRejected"]
    reasons = queued[0]["payload"]["reasons"]
    assert [(r["rule"], r["item_number"]) for r in reasons] == [("R4", 2), ("R4", 3)]
    assert queued[0]["key"] == "REQ-2"


async def test_same_message_twice_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        body, headers, _ = wire(issuance_request("REQ-3"))
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
        for _ in range(2):  # two different messages (fresh message ids) with one request id
            body, headers, _ = wire(issuance_request("REQ-4"))
            await broker.publish(body, ISSUANCE_REQUESTS.name, headers=headers)
        queued = await outbox(service)
        async with service.pool.acquire() as conn:
            carnets = await conn.fetchval("SELECT count(*) FROM carnets")
    assert carnets == 1
    assert [m["type"] for m in queued] == ["CarnetIssued", "CarnetIssued"]
    assert queued[0]["payload"] == queued[1]["payload"]


async def test_malformed_json_lands_on_the_dead_letter_topic_with_the_reason(settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    async with running(service) as broker:
        _, headers, env = wire(issuance_request("REQ-5"))
        await broker.publish(b'{"request_id": "REQ-5", ', ISSUANCE_REQUESTS.name, headers=headers)
        # the partition keeps moving: a good message after the bad one is applied
        body, headers2, _ = wire(issuance_request("REQ-6"))
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers=headers2)
        queued = await outbox(service)
    assert len(seen) == 1
    dead_body, dead_headers = seen[0]
    assert dead_body == b'{"request_id": "REQ-5", '
    assert dead_headers["dlq_kind"] == "malformed_json"
    assert "IssuanceRequested" in dead_headers["dlq_reason"]
    assert dead_headers["ce_id"] == str(env.message_id)
    assert [m["payload"]["request_id"] for m in queued] == ["REQ-6"]


async def test_unknown_type_and_missing_envelope_are_dead_lettered(settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    async with running(service) as broker:
        body, headers, _ = wire(issuance_request("REQ-7"))
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers={**headers, "ce_type": "CarnetExploded"})
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers={"content-type": "application/json"})
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers={**headers, "ce_schemaversion": "9"})
        queued = await outbox(service)
    assert [h["dlq_kind"] for _, h in seen] == ["unknown_type", "envelope", "unknown_type"]
    assert queued == []
