"""Issue 10 item 5 on the command topics: what a message may do, by who it claims to come from.

A Kafka writer's identity is the broker's business (per-principal ACLs, docs/reliability.md lists the writers
of each topic); what the services enforce is what the message itself claims. One test per cell:

* ata.issuance.requests.v1 (issuer): an NGA's own active association issues; an association of another NGA,
  a suspended one and an unknown one are rejected under R1, and nothing is issued.
* ata.customs.commits.v1 (core): customs of the declaration's country commit; a commit claiming another
  country, or naming a token the core never issued, records nothing; a cancellation by customs of another
  country, or with a wrong holder's code, undoes nothing (R18).
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS, ISSUANCE_REQUESTS
from contracts.txcode import new_transaction_code, parse_transaction_code
from tests.service.conftest import dead_letters, outbox
from tests.support.core import NUMBER, claims_of, client, cross, declare, fetch, issue, locations, publish, with_key
from tests.support.messages import cancellation_posted, customs_commit, sealed_request, wire

ISSUANCE_CELLS = {
    # who the request claims to be -> (fields, expected reason code or None for issued)
    "its own active association": ({}, None),
    "an association of another NGA": ({"issuing_association": "DE-IHK-BERLIN"}, "unknown_issuing_association"),
    "a suspended association": ({"issuing_association": "FR-CCI-TEST-SUSPENDED"}, "issuing_association_suspended"),
    "an unknown association": ({"issuing_association": "FR-NOWHERE"}, "unknown_issuing_association"),
}


@pytest.mark.parametrize("who", list(ISSUANCE_CELLS))
async def test_issuance_request_from(who, settings, clock, running):
    from issuer.app import build

    fields, code = ISSUANCE_CELLS[who]
    service = build(settings, clock=clock)
    async with running(service) as broker:
        body, headers, _ = wire(sealed_request("REQ-CELL", **fields), producer="nga-fr", subject="REQ-CELL")
        await broker.publish(body, ISSUANCE_REQUESTS.name, key=b"REQ-CELL", headers=headers)
        answers = [m for m in await outbox(service) if m["type"] == "IssuanceRejected"]
        issued = await fetch_count(service, "SELECT count(*) FROM carnets")
    if code is None:
        assert issued == 1 and answers == []
    else:
        assert issued == 0
        assert [[(r["rule"], r["code"]) for r in a["payload"]["reasons"]] for a in answers] == [[("R1", code)]]


async def fetch_count(service: Any, sql: str) -> int:
    async with service.pool.acquire() as conn:
        return await conn.fetchval(sql)


async def core_with_a_declaration(service: Any, broker: Any, clock: Any) -> tuple[Any, Any]:
    await issue(broker)
    key = await with_key(service)
    return key, await declare(service, K.EXPORTATION, "FR", [1, 2])


async def committed_rows(service: Any) -> list[tuple[str, str]]:
    return [(r["decision"], r["country"]) for r in await fetch(service, "SELECT decision, country FROM transactions")]


async def test_customs_commit_from_customs_of_the_declarations_country(settings, clock, running):
    from core.app import build

    service = build(settings, clock=clock)
    async with running(service) as broker:
        key, created = await core_with_a_declaration(service, broker, clock)
        await publish(
            broker, customs_commit(claims_of(created.token, key, clock.now), clock.now), CUSTOMS_COMMITS.name, NUMBER
        )
        rows, where = await committed_rows(service), await locations(service)
    assert rows == [("committed", "FR")] and where[1][0] == "exported"


async def test_customs_commit_claiming_another_country_moves_nothing(settings, clock, running):
    from core.app import build

    service = build(settings, clock=clock)
    async with running(service) as broker:
        key, created = await core_with_a_declaration(service, broker, clock)
        await publish(
            broker,
            customs_commit(
                claims_of(created.token, key, clock.now),
                clock.now,
                country="CH",
                office_id="CH-GVA-AIR",
                office_timezone="Europe/Zurich",
            ),
            CUSTOMS_COMMITS.name,
            NUMBER,
        )
        rows, where = await committed_rows(service), await locations(service)
    assert rows == [("refused", "CH")] and where[1][0] == "home"


async def test_customs_commit_naming_a_token_the_core_never_issued_is_dead_lettered(settings, clock, running):
    from core.app import build

    service = build(settings, clock=clock)
    dead = dead_letters(service, CUSTOMS_COMMITS.dead_letter)
    async with running(service) as broker:
        key, created = await core_with_a_declaration(service, broker, clock)
        forged = customs_commit(claims_of(created.token, key, clock.now), clock.now)
        forged = forged.model_copy(update={"token_id": uuid4()})
        await publish(broker, forged, CUSTOMS_COMMITS.name, NUMBER)
        rows, where = await committed_rows(service), await locations(service)
    assert rows == [] and where[1][0] == "home"
    assert [h["dlq_kind"] for _, h in dead] == ["handler_failed"]


@pytest.mark.parametrize("who", ["customs of another country", "the right customs with a wrong holder's code"])
async def test_cancellation_from(who, settings, clock, running):
    from core.app import build

    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        exported = await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1])
        async with client(service) as http:
            code = parse_transaction_code(
                (await http.get(f"/v1/declarations/{exported.declaration_id}")).json()["cancellation_code"]
            )
        if who == "customs of another country":
            posted = cancellation_posted(
                NUMBER,
                exported.transaction_code,
                code,
                clock.now,
                country="CH",
                office_id="CH-GVA-AIR",
                office_timezone="Europe/Zurich",
            )
            expected = ("R18", "wrong_country")
        else:
            posted = cancellation_posted(NUMBER, exported.transaction_code, new_transaction_code(), clock.now)
            expected = ("cancellation", "wrong_cancellation_code")
        await publish(broker, posted, CUSTOMS_COMMITS.name, NUMBER)
        refused = [m["payload"] for m in await outbox(service) if m["type"] == "CancellationRefused"]
        where = await locations(service)
    assert [(r["rule"], r["code"]) for r in refused[0]["reasons"]] == [expected]
    assert where[1][0] == "exported"
