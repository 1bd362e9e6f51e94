"""Exactly one answer per NGA request id, also for requests that break the contract (R1: every request is
answered): the issuer answers IssuanceRejected (rule 'contract') on the NGA's response topic whenever the
NGA and request id can be read from the raw record, records the id in the same transaction (a redelivery
is not answered twice), and dead-letters the record either way; when nothing can be read, the dead letter
says why no answer was possible. Regressions: a NUL in a request (case 6), a quantity of 2^31 (case 2),
a huge `representative_ids` list (case 1), and NUL or control characters in the HTTP path."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contracts.bounds import MAX_REPRESENTATIVES
from contracts.topics import ISSUANCE_EVENTS, ISSUANCE_REQUESTS, issuance_responses
from issuer.app import build
from tests.service.conftest import dead_letters, outbox
from tests.support.issuer import FR_KEY, client, http_settings  # noqa: F401  (fixture)
from tests.support.messages import sealed_request, wire

FR = issuance_responses("FR").name


def broken(request_id: str, change: Any) -> tuple[bytes, dict[str, str]]:
    """A sealed request's wire form with `change(doc)` applied to its JSON: no longer the contract."""
    body, headers, _ = wire(sealed_request(request_id))
    doc = json.loads(body)
    change(doc)
    return json.dumps(doc).encode(), headers


def nul_in_holder(doc: dict) -> None:
    doc["holder_id"] = "hld\x00_1"


def quantity_2_31(doc: dict) -> None:
    doc["items"][0]["quantity"] = 2**31


def many_representatives(doc: dict) -> None:
    doc["representative_ids"] = [f"rep_{n}" for n in range(20_000)]


def answers(queued: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(m["topic"], m["type"], m["key"]) for m in queued]


@pytest.mark.parametrize(
    "change",
    [nul_in_holder, quantity_2_31, many_representatives],
    ids=["nul", "quantity_2_31", "representative_ids_20000"],
)
async def test_r1_a_request_breaking_the_contract_gets_exactly_one_rejection(change, settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    body, headers = broken("BAD-1", change)
    async with running(service) as broker:
        await broker.publish(body, ISSUANCE_REQUESTS.name, key=b"BAD-1", headers=headers)
        await broker.publish(body, ISSUANCE_REQUESTS.name, key=b"BAD-1", headers=headers)  # redelivered
        queued = await outbox(service)
        async with service.pool.acquire() as conn:
            carnets = await conn.fetchval("SELECT count(*) FROM carnets")
            stored = await conn.fetchrow("SELECT outcome FROM requests WHERE request_id = 'BAD-1'")
    assert answers(queued) == [(FR, "IssuanceRejected", "BAD-1")]  # never CarnetIssued, never to the ledger
    assert ISSUANCE_EVENTS.name not in {m["topic"] for m in queued} and carnets == 0
    [reason] = queued[0]["payload"]["reasons"]
    assert (reason["rule"], reason["code"]) == ("contract", "schema")
    assert "\x00" not in reason["message"]
    assert stored["outcome"] == "rejected"
    assert [h["dlq_kind"] for _, h in seen] == ["schema", "schema"]
    assert "answered IssuanceRejected to request BAD-1 of FR" in seen[0][1]["dlq_reason"]
    assert "was answered before" in seen[1][1]["dlq_reason"]


async def test_r1_a_broken_repeat_of_an_answered_request_is_not_answered_again(settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    good, good_headers, _ = wire(sealed_request("REQ-9"))
    body, headers = broken("REQ-9", quantity_2_31)
    async with running(service) as broker:
        await broker.publish(good, ISSUANCE_REQUESTS.name, key=b"REQ-9", headers=good_headers)
        await broker.publish(body, ISSUANCE_REQUESTS.name, key=b"REQ-9", headers=headers)
        queued = await outbox(service)
    assert [t for t in answers(queued) if t[0] == FR] == [(FR, "CarnetIssued", "REQ-9")]
    assert "was answered before" in seen[0][1]["dlq_reason"]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"request_id": "R\\u0000X", "nga": "FR"}', "request id or the NGA is missing or breaks its bound"),
        (b'{"request_id": "R-1", "nga": "ZZ"}', "NGA ZZ is not registered"),
        (b'{"request_id": ' + b"[" * 5000, "not JSON"),
        (b"[1, 2]", "not a JSON object"),
    ],
)
async def test_a_request_whose_id_cannot_be_read_is_dead_lettered_saying_why(body, why, settings, clock, running):
    service = build(settings, clock=clock)
    seen = dead_letters(service, ISSUANCE_REQUESTS.dead_letter)
    _, headers, _ = wire(sealed_request("ANY"))
    async with running(service) as broker:
        await broker.publish(body, ISSUANCE_REQUESTS.name, headers=headers)
        queued = await outbox(service)
    assert queued == []
    [(dead_body, dead_headers)] = seen
    assert dead_body == body and "no answer: " in dead_headers["dlq_reason"] and why in dead_headers["dlq_reason"]
    assert service.registry.get_sample_value("ata_issuance_unanswerable_total") == 1


# --- the same over HTTP: a clear 4xx, never "issued", never a 500 ----------------------------------------


async def test_r3_http_refuses_a_quantity_over_the_ledgers_integer_and_a_huge_representative_list(http_settings, clock):
    service = build(http_settings, clock=clock)
    await service.open_database()
    try:
        async with client(service) as http:
            big = await http.post(
                "/v1/issuance-requests",
                content=broken("H-Q", quantity_2_31)[0],
                headers={"content-type": "application/json"},
            )
            reps = await http.post(
                "/v1/issuance-requests",
                content=broken("H-R", many_representatives)[0],
                headers={"content-type": "application/json"},
            )
            nul = await http.post(
                "/v1/issuance-requests",
                content=broken("H-N", nul_in_holder)[0],
                headers={"content-type": "application/json"},
            )
        queued = await outbox(service)
    finally:
        await service.pool.close()
    assert (big.status_code, reps.status_code, nul.status_code) == (422, 422, 422)
    assert "quantity" in big.text and "representative_ids" in reps.text
    assert f"at most {MAX_REPRESENTATIVES}" in reps.text
    assert queued == []


@pytest.mark.parametrize("request_id", ["H%00-1", "H%01-1", "H%7F", "x" * 101, "H%E2%80%A8"])
async def test_control_characters_in_the_request_path_are_a_4xx_not_a_500(request_id, http_settings, clock):
    service = build(http_settings, clock=clock)
    await service.open_database()
    try:
        async with client(service) as http:
            answer = await http.get(f"/v1/requests/{request_id}")
    finally:
        await service.pool.close()
    assert answer.status_code == 422
