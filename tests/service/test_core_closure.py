"""Core ledger service, closure through the holder API (R7): only with everything home, and tokens issued before it
refused after. End to end through the real handlers, a real PostgreSQL and the shipped country policy
(core/policies/country_policy.json)."""

from __future__ import annotations

import json

from contracts.kinds import DeclarationKind as K
from contracts.topics import CARNET_STATUS, CUSTOMS_COMMITS
from core.app import build
from tests.service.conftest import outbox
from tests.support.core import (
    NUMBER,
    chain,
    client,
    commit,
    cross,
    declare,
    fetch,
    goods_in,
    issue,
    locations,
    publish,
    refused,
    with_key,
)
from tests.support.core_ledger import carnet_row, lifecycle, status_changes
from tests.support.messages import items_accounted_for

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
        NUMBER,
        "closed",
        [2, 3],
        [1],
        [],
    )
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
        row = (await fetch(service, "SELECT decision, reasons FROM transactions WHERE commit_id = $1", late.commit_id))[
            0
        ]
        items = await locations(service)
    assert closed.status_code == 200, closed.text
    assert row["decision"] == "refused"
    assert [(r["rule"], r["code"]) for r in json.loads(row["reasons"])] == [("R7", "carnet_closed")]
    assert items[3] == ("home", None, None)
