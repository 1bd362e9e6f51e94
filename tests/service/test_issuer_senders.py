"""A sender cannot speak for another NGA: each NGA writes to its own request topic
(`ata.issuance.requests.<nga>.v1`, bound to its principal by the broker's ACLs), the issuer takes the NGA from
the topic and refuses a record whose body names another one, answering only the topic's NGA. The shared topic
of before is still read until its end date, each record counted and logged as deprecated."""

from __future__ import annotations

import json
import logging
from typing import Any

from contracts.topics import ISSUANCE_EVENTS, ISSUANCE_REQUESTS, issuance_requests, issuance_responses
from issuer.app import build
from tests.service.conftest import dead_letters, outbox
from tests.support.batches import DeadLetterSink, consumer_of, record
from tests.support.messages import sealed_request, wire

FR_ANSWERS = issuance_responses("FR").name
BE_ANSWERS = issuance_responses("BE").name


def be_request(request_id: str) -> Any:
    """A request BE itself could have issued (its own issuing association, not a home-country destination)."""
    return sealed_request(request_id, nga="BE", issuing_association="BE-CCI-BXL", countries=["CH", "FR"])


async def publish(broker: Any, payload: Any, topic: str) -> None:
    body, headers, _ = wire(payload)
    await broker.publish(body, topic, key=payload.request_id.encode(), headers=headers)


def sample(service: Any, name: str, labels: dict[str, str]) -> float:
    return service.registry.get_sample_value(name, labels) or 0.0


async def test_a_record_on_frs_topic_naming_be_is_refused_to_fr_only_and_issues_nothing(
    settings, clock, running, caplog
):
    service = build(settings, clock=clock)
    spoofed = be_request("SPOOF-1")
    caplog.set_level(logging.WARNING, logger="issuer.handlers")
    async with running(service) as broker:
        await publish(broker, spoofed, issuance_requests("FR").name)
        await publish(broker, spoofed, issuance_requests("FR").name)  # sent again: still one answer
        queued = await outbox(service)
        async with service.pool.acquire() as conn:
            carnets = await conn.fetchval("SELECT count(*) FROM carnets")
            stored = await conn.fetch("SELECT nga, outcome FROM requests WHERE request_id = 'SPOOF-1'")
    assert [(m["topic"], m["type"], m["key"]) for m in queued] == [(FR_ANSWERS, "IssuanceRejected", "SPOOF-1")]
    answer = queued[0]["payload"]
    assert answer["nga"] == "FR"
    assert [(r["rule"], r["code"], r["field"]) for r in answer["reasons"]] == [("sender", "nga_mismatch", "nga")]
    assert carnets == 0 and ISSUANCE_EVENTS.name not in {m["topic"] for m in queued}
    # Recorded under the sender's request id, never under BE's: FR cannot use up BE's request ids.
    assert [(r["nga"], r["outcome"]) for r in stored] == [("FR", "rejected")]
    assert sample(service, "ata_issuance_sender_refused_total", {"nga": "FR", "named": "BE"}) == 2
    assert sample(service, "ata_issuance_rejected_total", {"nga": "FR", "rule": "sender"}) == 1
    assert any("SPOOF-1" in r.getMessage() and "names NGA BE" in r.getMessage() for r in caplog.records)


async def test_be_still_gets_its_own_answer_for_the_request_id_fr_tried(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(broker, be_request("SAME-ID"), issuance_requests("FR").name)
        await publish(broker, be_request("SAME-ID"), issuance_requests("BE").name)
        queued = await outbox(service)
    answers = [(m["topic"], m["type"]) for m in queued if m["topic"] != ISSUANCE_EVENTS.name]
    assert answers == [(FR_ANSWERS, "IssuanceRejected"), (BE_ANSWERS, "CarnetIssued")]


async def test_a_broken_record_naming_another_nga_is_answered_to_the_sender(settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, issuance_requests("FR").dead_letter)
    body, headers, _ = wire(be_request("BROKEN-1"))
    doc = json.loads(body)
    doc["holder_id"] = "hld\x00"
    async with running(service) as broker:
        await broker.publish(json.dumps(doc).encode(), issuance_requests("FR").name, key=b"BROKEN-1", headers=headers)
        queued = await outbox(service)
    assert [(m["topic"], m["type"], m["key"]) for m in queued] == [(FR_ANSWERS, "IssuanceRejected", "BROKEN-1")]
    assert [r["rule"] for r in queued[0]["payload"]["reasons"]] == ["contract", "sender"]
    assert [h["dlq_kind"] for _, h in seen] == ["schema"]


async def test_a_request_on_its_own_topic_is_issued_and_not_counted_as_deprecated(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(broker, sealed_request("OWN-1"), issuance_requests("FR").name)
        queued = await outbox(service)
    assert [m["type"] for m in queued if m["topic"] == FR_ANSWERS] == ["CarnetIssued"]
    assert sample(service, "ata_issuance_shared_topic_total", {"nga": "FR"}) == 0


async def test_the_deprecated_shared_topic_still_issues_and_counts_each_record(settings, clock, running, caplog):
    service = build(settings, clock=clock)
    caplog.set_level(logging.WARNING, logger="issuer.handlers")
    async with running(service) as broker:
        await publish(broker, sealed_request("OLD-1"), ISSUANCE_REQUESTS.name)
        await publish(broker, be_request("OLD-2"), ISSUANCE_REQUESTS.name)
        queued = await outbox(service)
    assert [m["type"] for m in queued if m["topic"] == FR_ANSWERS] == ["CarnetIssued"]
    assert [m["type"] for m in queued if m["topic"] == BE_ANSWERS] == ["CarnetIssued"]
    assert sample(service, "ata_issuance_shared_topic_total", {"nga": "FR"}) == 1
    assert sample(service, "ata_issuance_shared_topic_total", {"nga": "BE"}) == 1
    assert any("OLD-1" in r.getMessage() and "deprecated shared topic" in r.getMessage() for r in caplog.records)


async def test_the_issuer_subscribes_to_every_registered_ngas_topic(settings, clock):
    service = build(settings, clock=clock)
    ngas = service.state["registry"].ngas
    assert {issuance_requests(n).name for n in ngas} | {ISSUANCE_REQUESTS.name} <= set(service._consumers)


async def test_a_spoofed_request_in_a_bulk_batch_is_refused_and_the_rest_issued_in_bulk(settings, clock):
    service = build(settings, clock=clock)
    fr_topic = issuance_requests("FR")
    await service.open_database()
    try:
        batch, metrics = consumer_of(service, DeadLetterSink(), fr_topic)
        payloads = [sealed_request("B-1"), be_request("B-2"), sealed_request("B-3")]
        await batch([record(p, i, topic=fr_topic) for i, p in enumerate(payloads)])
        queued = await outbox(service)
    finally:
        await service.pool.close()
    answers = [(m["key"], m["type"]) for m in queued if m["topic"] == FR_ANSWERS]
    assert sorted(answers) == [("B-1", "CarnetIssued"), ("B-2", "IssuanceRejected"), ("B-3", "CarnetIssued")]
    assert BE_ANSWERS not in {m["topic"] for m in queued}
    assert metrics.handled(fr_topic.name, "bulk", "fallback")._value.get() == 0
