"""Customs gateway, issue 4 item 8: an officer cancels a committed transaction with the holder's cancellation
code and a reason; only customs of the transaction's country (R18); codes checked before any lookup and rate
limited per officer; the core's decision comes back on the transactions topic."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from contracts.kinds import DeclarationKind as K
from contracts.messages import CancellationRefused, ItemLocation, Reason, TransactionCancelled
from contracts.topics import CUSTOMS_COMMITS, CUSTOMS_LEDGER
from contracts.txcode import format_transaction_code, new_transaction_code
from customs_gateway.usecases.context import LOOKUPS_PER_MINUTE
from tests.service.conftest import outbox
from tests.support import gateway as base
from tests.support.gateway import CH_OFFICER, FR_OFFICER, NUMBER, auth, commit, make_token
from tests.support.messages import wire

gateway = base.gateway  # the running gateway with two officers logged in

CONSENT = new_transaction_code()


async def committed(g: Any, clock: Any) -> str:
    """A transaction committed at FR-CDG-FRET; answers its transaction code."""
    token, claims = make_token(g.key, clock.now)
    assert (await commit(g.http, token)).status_code == 202
    return claims.transaction_code


async def ask(
    g: Any, code: str, consent: str = CONSENT, officer: str = FR_OFFICER, reason: str = "wrong voucher"
) -> Any:
    return await g.http.post(
        "/v1/cancellations",
        headers=auth(officer),
        json={"transaction_code": code, "cancellation_code": consent, "reason": reason},
    )


def posted(queued: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in queued if m["type"] == "CancellationPosted"]


async def core_says(g: Any, payload: Any) -> None:
    body, headers, _ = wire(payload, producer="core", subject=NUMBER)
    await g.broker.publish(body, CUSTOMS_LEDGER.name, key=NUMBER.encode(), headers=headers)


async def test_a_cancellation_is_posted_with_the_holders_code_and_followed_to_the_cores_decision(gateway, clock):
    async with gateway() as g:
        code = await committed(g, clock)
        # typed as heard: lower case, dashes
        r = await ask(g, format_transaction_code(code).lower(), format_transaction_code(CONSENT).lower())
        queued = await outbox(g.service)
        cancellation_id = UUID(r.json()["cancellation_id"])
        pending = await g.http.get(f"/v1/cancellations/{cancellation_id}", headers=auth())
        await core_says(
            g,
            TransactionCancelled(
                cancellation_id=cancellation_id,
                transaction_id=cancellation_id,
                carnet_number=NUMBER,
                transaction_code=code,
                kind=K.EXPORTATION,
                country="FR",
                items=[1, 2],
                sequence=1,
                reason="wrong voucher",
                office_id="FR-CDG-FRET",
                office_timezone="Europe/Paris",
                officer_id=FR_OFFICER,
                carnet_expiry=base.EXPIRY,
                item_locations=[
                    ItemLocation(item_number=1, location="home"),
                    ItemLocation(item_number=2, location="home"),
                ],
                cancelled_at=clock.now,
            ),
        )
        done = await g.http.get(f"/v1/cancellations/{cancellation_id}", headers=auth())
        again = await ask(g, code)
        hidden = await g.http.get(f"/v1/cancellations/{cancellation_id}", headers=auth(CH_OFFICER))
    assert r.status_code == 202, r.text
    assert (r.json()["status"], r.json()["carnet_number"]) == ("pending", NUMBER)
    [message] = posted(queued)
    assert (message["topic"], message["key"]) == (CUSTOMS_COMMITS.name, NUMBER)
    p = message["payload"]
    assert (p["transaction_code"], p["cancellation_code"], p["reason"], p["country"], p["officer_id"]) == (
        code,
        CONSENT,
        "wrong voucher",
        "FR",
        FR_OFFICER,
    )
    assert pending.json()["status"] == "pending"
    assert done.json()["status"] == "cancelled"
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "already_cancelled"
    assert hidden.status_code == 404  # R18: another country's customs do not see it


async def test_a_refusal_by_the_core_is_shown_with_its_reasons_and_the_officer_may_ask_again(gateway, clock):
    async with gateway() as g:
        code = await committed(g, clock)
        first = await ask(g, code)
        while_pending = await ask(g, code)
        cancellation_id = UUID(first.json()["cancellation_id"])
        await core_says(
            g,
            CancellationRefused(
                cancellation_id=cancellation_id,
                carnet_number=NUMBER,
                transaction_code=code,
                refused_at=clock.now,
                reasons=[
                    Reason(rule="cancellation", code="wrong_cancellation_code", message="the code does not match")
                ],
            ),
        )
        refused = await g.http.get(f"/v1/cancellations/{cancellation_id}", headers=auth())
        retry = await ask(g, code)
        queued = await outbox(g.service)
    assert while_pending.status_code == 409 and while_pending.json()["detail"]["reason"] == "already_pending"
    assert refused.json()["status"] == "refused"
    assert [x["code"] for x in refused.json()["reasons"]] == ["wrong_cancellation_code"]
    assert retry.status_code == 202
    assert len(posted(queued)) == 2


async def test_r18_customs_of_another_country_cannot_cancel(gateway, clock):
    async with gateway() as g:
        code = await committed(g, clock)
        r = await ask(g, code, officer=CH_OFFICER)
        queued = await outbox(g.service)
    assert r.status_code == 403 and r.json()["detail"]["reason"] == "wrong_country"
    assert posted(queued) == []


async def test_a_bad_check_character_is_refused_before_any_lookup_and_unknown_codes_are_404(gateway, clock):
    async with gateway() as g:
        code = await committed(g, clock)
        typo = code[:-1] + ("0" if code[-1] != "0" else "1")
        bad_code = await ask(g, typo)
        bad_consent = await ask(g, code, consent=CONSENT[:-1] + ("0" if CONSENT[-1] != "0" else "1"))
        unknown = await ask(g, new_transaction_code())
        refused_only = await g.http.post(
            "/v1/commits",
            headers=auth(),
            json={"token": make_token(g.key, clock.now)[0], "decision": "refused", "refusal_reason": "seal broken"},
        )
        not_committed = await ask(g, refused_only.json()["transaction_code"])
        anonymous = await g.http.post(
            "/v1/cancellations", json={"transaction_code": code, "cancellation_code": CONSENT, "reason": "x"}
        )
        queued = await outbox(g.service)
    assert bad_code.status_code == 422 and bad_code.json()["detail"]["reason"] == "bad_code"
    assert bad_consent.status_code == 422 and bad_consent.json()["detail"]["reason"] == "bad_cancellation_code"
    assert unknown.status_code == 404 and unknown.json()["detail"]["reason"] == "not_committed"
    assert not_committed.status_code == 404  # a refused declaration has nothing to cancel
    assert anonymous.status_code == 401
    assert posted(queued) == []


async def test_cancellation_attempts_share_the_officers_typed_code_rate_limit(gateway, clock):
    async with gateway() as g:
        code = await committed(g, clock)
        answers = [await ask(g, new_transaction_code()) for _ in range(LOOKUPS_PER_MINUTE)]
        limited = await ask(g, code)
        other_officer_unaffected = await ask(g, code, officer=CH_OFFICER)
    assert {a.status_code for a in answers} == {404}
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert other_officer_unaffected.status_code == 403  # not rate-limited: refused for its country
