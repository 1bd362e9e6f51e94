"""Customs gateway: POST /v1/commits/batch, a customs system's commits of a whole inspection at once (R18).

Each item is what POST /v1/commits would have answered for it; the batch answers 200 with them in order."""

from __future__ import annotations

from typing import Any

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS
from customs_gateway.bulk_api import BATCH_BODY_LIMIT, MAX_REASON, MAX_TOKEN
from customs_gateway.bulk_commits import MAX_ITEMS
from tests.service.conftest import outbox
from tests.support import gateway as base
from tests.support.gateway import auth, commit, commits, make_token, tamper

gateway = base.gateway  # the running gateway with two officers logged in


async def batch(http: Any, items: list[dict[str, Any]], **headers: str) -> Any:
    return await http.post("/v1/commits/batch", json={"items": items}, headers={**auth(), **headers})


def committed(token: str, **extra: Any) -> dict[str, Any]:
    return {"token": token, "decision": "committed", **extra}


async def audit_outcomes(service: Any) -> list[str]:
    async with service.pool.acquire() as conn:
        return [
            r["outcome"]
            for r in await conn.fetch(
                "SELECT outcome FROM audit_log WHERE action IN ('commit', 'refusal') ORDER BY at, id"
            )
        ]


async def test_r18_a_mixed_batch_answers_each_item_as_the_single_route_would(gateway, clock):
    async with gateway() as g:
        valid, claims = make_token(g.key, clock.now)
        already, _ = make_token(g.key, clock.now)
        assert (await commit(g.http, already)).status_code == 202
        swiss = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH")[0]
        tampered = tamper(make_token(g.key, clock.now)[0])
        refusal = make_token(g.key, clock.now)[0]
        r = await batch(
            g.http,
            [
                committed(valid),
                committed(already),
                committed(swiss),
                committed(tampered),
                {"token": refusal, "decision": "refused"},
                {"token": refusal, "decision": "refused", "refusal_reason": "seal broken"},
            ],
        )
        queued = await outbox(g.service)
        rows = await commits(g.service)
        audited = await audit_outcomes(g.service)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["index"] for i in items] == list(range(6))
    assert [(i["status"], i["reason"]) for i in items[:3]] == [(202, None), (409, "replayed"), (403, "wrong_country")]
    assert items[3]["status"] == 422 and items[3]["reason"] in ("bad_signature", "malformed")
    assert (items[4]["status"], items[4]["reason"]) == (422, "reason_required")
    assert (items[5]["status"], items[5]["reason"]) == (202, None)
    assert items[0]["transaction_code"].replace("-", "") == claims.transaction_code and items[0]["commit_id"]
    assert (r.json()["accepted"], r.json()["refused"]) == (2, 4)
    # Three decisions recorded and posted in all: the single one first, then the batch's two, in order.
    assert [str(row["commit_id"]) for row in rows[1:]] == [items[0]["commit_id"], items[5]["commit_id"]]
    assert [q["payload"]["decision"] for q in queued if q["topic"] == CUSTOMS_COMMITS.name] == [
        "committed",
        "committed",
        "refused",
    ]
    # The refusals keep their audit rows, as with the single route (reason_required is refused before any check).
    assert audited.count("posted") == 3 and "replayed" in audited and "wrong_country" in audited


async def test_posting_the_same_batch_again_changes_nothing_and_answers_replayed(gateway, clock):
    async with gateway() as g:
        tokens = [make_token(g.key, clock.now)[0] for _ in range(3)]
        first = await batch(g.http, [committed(t) for t in tokens])
        again = await batch(g.http, [committed(t) for t in tokens])
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert [i["status"] for i in first.json()["items"]] == [202, 202, 202]
    assert [(i["status"], i["reason"]) for i in again.json()["items"]] == [(409, "replayed")] * 3
    assert len(rows) == 3 and len(queued) == 3


async def test_items_are_decided_in_request_order_and_a_token_twice_in_a_batch_is_replayed(gateway, clock):
    async with gateway() as g:
        made = [make_token(g.key, clock.now) for _ in range(5)]
        tokens = [t for t, _ in made]
        r = await batch(g.http, [committed(t) for t in [*tokens, tokens[1]]])
        queued = await outbox(g.service)
    items = r.json()["items"]
    assert [i["transaction_code"].replace("-", "") for i in items[:5]] == [c.transaction_code for _, c in made]
    assert (items[5]["status"], items[5]["reason"]) == (409, "replayed")
    assert [q["payload"]["transaction_code"] for q in queued] == [c.transaction_code for _, c in made]


async def test_r18_the_batch_acts_for_the_office_named_and_only_for_a_session(gateway, clock):
    async with gateway() as g:
        token = make_token(g.key, clock.now)[0]
        other_country = await batch(g.http, [committed(token)], **{"X-Office-Id": "CH-GVA-AIR"})
        anonymous = await g.http.post("/v1/commits/batch", json={"items": [committed(token)]})
        rows = await commits(g.service)
    assert other_country.status_code == 403 and other_country.json()["detail"]["reason"] == "office_not_allowed"
    assert anonymous.status_code == 401
    assert rows == []


async def test_a_malformed_batch_is_refused_whole(gateway, clock):
    async with gateway() as g:
        token = make_token(g.key, clock.now)[0]
        too_many = await batch(g.http, [committed(token)] * (MAX_ITEMS + 1))
        empty = await batch(g.http, [])
        not_a_token = await batch(g.http, [committed(token), committed("ATA1:\x00")])
        bad_decision = await batch(g.http, [committed(token), {"token": token, "decision": "maybe"}])
        rows = await commits(g.service)
    assert [r.status_code for r in (too_many, empty, not_a_token, bad_decision)] == [422] * 4
    assert rows == []


async def test_an_item_the_database_refuses_is_rolled_back_alone_and_the_others_are_kept(gateway, clock, monkeypatch):
    async with gateway() as g:
        handlers = g.service.state["handlers"]
        tokens = [make_token(g.key, clock.now)[0] for _ in range(3)]
        decide = handlers.commit

        async def poisoned(conn: Any, officer_id: str, office: Any, token: str, *args: Any, **kw: Any) -> Any:
            result = await decide(conn, officer_id, office, token, *args, **kw)
            if token == tokens[1]:  # recorded, then the database fails the item: its savepoint undoes it
                await conn.execute("SELECT 1 / 0")
            return result

        monkeypatch.setattr(handlers, "commit", poisoned)
        r = await batch(g.http, [committed(t) for t in tokens])
        queued = await outbox(g.service)
        rows = await commits(g.service)
        monkeypatch.undo()
        again = await batch(g.http, [committed(tokens[1])])
    assert [(i["status"], i["reason"]) for i in r.json()["items"]] == [(202, None), (500, "error"), (202, None)]
    assert len(rows) == 2 and len(queued) == 2
    assert again.json()["items"][0]["status"] == 202  # nothing of it was kept: posted again, it is recorded


async def test_the_largest_batch_fits_the_body_limit_and_a_byte_more_is_413(gateway, clock):
    largest = {
        "items": [
            {
                "token": "ATA1:" + "A" * (MAX_TOKEN - 5),
                "decision": "refused",
                "final_date": "2027-01-31",
                "refusal_reason": "x" * MAX_REASON,
            }
        ]
        * MAX_ITEMS
    }
    async with gateway() as g:
        fits = await g.http.post("/v1/commits/batch", json=largest, headers=auth())
        over = await g.http.post(
            "/v1/commits/batch",
            content=b" " * (BATCH_BODY_LIMIT + 1),
            headers={**auth(), "Content-Type": "application/json"},
        )
    assert fits.status_code == 200, fits.text[:300]
    assert {i["reason"] for i in fits.json()["items"]} == {"malformed"}  # each read and refused, not the batch
    assert over.status_code == 413 and over.json()["detail"]["reason"] == "body_too_large"
