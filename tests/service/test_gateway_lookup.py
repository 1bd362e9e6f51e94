"""Customs gateway, issue 4: carnets and declarations on file, the verification result (item 7) and the typed
transaction-code fallback with its per-officer rate limit (item 3)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS, ISSUANCE_EVENTS
from contracts.txcode import new_transaction_code
from tests.service.conftest import outbox
from tests.support import gateway as base
from tests.support.databases import snapshot
from tests.support.gateway import (
    CH_OFFICER,
    CORE,
    DIGEST,
    EXPIRY,
    FR_OFFICER,
    NUMBER,
    audit,
    auth,
    carnet_issued,
    commit,
    commits,
    declared,
    make_token,
    publish,
    sloppy,
)
from tests.support.messages import duplicate_issued, replacement_issued

gateway = base.gateway  # the running gateway with two officers logged in


def checks(body: dict[str, Any]) -> dict[str, bool | None]:
    return {c["check"]: c["ok"] for c in body["checks"]}


# --- carnets on file and the verification result (item 7) ------------------------------------------------------


async def test_carnet_issued_is_kept_on_file_duplicates_and_replacements_too_and_redelivery_changes_nothing(
    gateway, clock
):
    async with gateway() as g:
        body, headers = await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        await publish(g.broker, duplicate_issued(NUMBER, "FR2600000028", clock.now), ISSUANCE_EVENTS)
        await publish(
            g.broker,
            replacement_issued(
                NUMBER, carnet_issued("FR2700000036", request_id="REQ-R", countries=["CH"]), clock.now, clock.now
            ),
            ISSUANCE_EVENTS,
        )
        async with g.service.pool.acquire() as conn:
            before = await snapshot(conn, "customs_gateway")
            await g.broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
            after = await snapshot(conn, "customs_gateway")
            rows = await conn.fetch(
                "SELECT carnet_number, home_country, countries, general_list_digest, items"
                " FROM carnets_on_file ORDER BY 1"
            )
    assert before == after
    assert [(r["carnet_number"], r["home_country"], list(r["countries"])) for r in rows] == [
        ("FR2600000010", "FR", ["CH", "GB"]),
        ("FR2600000028", "FR", ["CH", "GB"]),
        ("FR2700000036", "FR", ["CH"]),
    ]
    assert rows[0]["general_list_digest"] == rows[1]["general_list_digest"] == DIGEST


async def test_a_scan_shows_every_check_and_only_the_declared_items_of_the_carnet(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        token, _ = make_token(g.key, clock.now, items=(1, 3))
        r = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        committed = await commit(g.http, token)
        again = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert checks(body) == {
        "signature": True,
        "expiry": True,
        "territory": True,
        "replay": True,
        "carnet_status": True,
        "carnet_on_file": True,
        "items_on_list": True,
        "digest": True,
        "countries": True,
    }
    assert body["mismatches"] == []
    assert body["carnet"] == {
        "carnet_number": NUMBER,
        "home_country": "FR",
        "countries": ["CH", "GB"],
        "expiry_date": EXPIRY.isoformat(),
        "items": [
            {"item_number": 1, "quantity": 1, "origin_country": "DE"},
            {"item_number": 3, "quantity": 3, "origin_country": "DE"},
        ],
    }
    assert committed.status_code == 202, committed.text
    assert checks(committed.json())["replay"] is True
    # a replayed QR still scans, and says so
    assert again.status_code == 200 and checks(again.json())["replay"] is False
    assert [m["check"] for m in again.json()["mismatches"]] == ["replay"]


async def test_an_item_off_the_list_a_digest_and_a_country_that_differ_are_listed_and_the_commit_is_refused(
    gateway, clock
):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        token, _ = make_token(g.key, clock.now, items=(1, 7), general_list_digest="f" * 32)
        scan = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        refused = await commit(g.http, token)
        uncovered, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH", carnet_number=NUMBER)
        ok_country = await commit(g.http, uncovered, CH_OFFICER)
        await publish(g.broker, carnet_issued("FR2600000028", countries=["GB"]), ISSUANCE_EVENTS, key="FR2600000028")
        not_covered, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH", carnet_number="FR2600000028")
        refused_country = await commit(g.http, not_covered, CH_OFFICER)
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert scan.status_code == 200
    assert [m["check"] for m in scan.json()["mismatches"]] == ["items_on_list", "digest"]
    assert "7" in scan.json()["mismatches"][0]["detail"]
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    assert detail["reason"] == "mismatch" and [m["check"] for m in detail["mismatches"]] == ["items_on_list", "digest"]
    assert ok_country.status_code == 202, ok_country.text
    assert refused_country.status_code == 422
    assert [m["check"] for m in refused_country.json()["detail"]["mismatches"]] == ["countries"]
    assert len(queued) == len(rows) == 1


async def test_a_carnet_not_on_file_yet_is_shown_and_the_commit_allowed(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        scan = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        r = await commit(g.http, token)
    assert scan.status_code == 200
    on_file = next(c for c in scan.json()["checks"] if c["check"] == "carnet_on_file")
    assert on_file == {"check": "carnet_on_file", "ok": False, "detail": "not on file at this gateway"}
    assert scan.json()["carnet"] is None
    assert r.status_code == 202, r.text


# --- the typed transaction code (item 3) -----------------------------------------------------------------------


async def test_a_typed_code_in_lower_case_with_o_i_l_confusions_finds_the_declaration_and_is_audited(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        code, _ = declared(clock.now)
        typed = sloppy(code)
        r = await g.http.post("/v1/scans/code", json={"code": typed}, headers=auth())
        unknown = await g.http.post("/v1/scans/code", json={"code": new_transaction_code()}, headers=auth())
        other_country = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth(CH_OFFICER))
        nobody = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth("nobody"))
        async with g.service.pool.acquire() as conn:
            audited = await conn.fetch(
                "SELECT action, outcome, officer_id FROM audit_log WHERE action = 'code_lookup' ORDER BY id"
            )
        found = g.service.registry.get_sample_value("ata_code_lookups_total", {"outcome": "found"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["transaction_code"].replace("-", "") == code
    assert (body["carnet_number"], body["kind"], body["country"], body["items"], body["carnet_expiry"]) == (
        NUMBER,
        "exportation",
        "FR",
        [1, 2],
        EXPIRY.isoformat(),
    )
    sig = next(c for c in body["checks"] if c["check"] == "signature")
    assert sig == {"check": "signature", "ok": True, "detail": "declared to the core; no token scanned"}
    assert checks(body)["items_on_list"] is True and checks(body)["countries"] is True
    assert [i["item_number"] for i in body["carnet"]["items"]] == [1, 2]
    assert unknown.status_code == 404
    assert other_country.status_code == 403 and other_country.json()["detail"]["reason"] == "wrong_country"
    assert nobody.status_code == 401
    assert [(a["outcome"], a["officer_id"]) for a in audited] == [
        ("found", FR_OFFICER),
        ("unknown", FR_OFFICER),
        ("wrong_country", CH_OFFICER),
    ]
    assert found == 2  # the other country's declaration was found, then refused (R18)


async def test_a_wrong_check_character_is_refused_before_any_lookup_and_uses_no_rate_limit(gateway, clock):
    async with gateway() as g:
        code, _ = declared(clock.now)
        data, check = code[:-1], code[-1]
        wrong = data + next(c for c in "0123456789" if c != check)
        bad = [await g.http.post("/v1/scans/code", json={"code": wrong}, headers=auth()) for _ in range(12)]
        good = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth())
        async with g.service.pool.acquire() as conn:
            audited = await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'code_lookup'")
        counted = g.service.registry.get_sample_value("ata_code_lookups_total", {"outcome": "bad_code"})
    assert {(r.status_code, r.json()["detail"]["reason"]) for r in bad} == {(422, "bad_code")}
    assert good.status_code == 200, good.text
    assert audited == 1 and counted == 12


async def test_the_eleventh_lookup_in_a_minute_is_429_and_allowed_again_a_minute_later(gateway, clock):
    async with gateway() as g:
        code, _ = declared(clock.now)
        first = [await g.http.post("/v1/scans/code", json={"code": code}, headers=auth()) for _ in range(10)]
        limited = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth())
        other_officer_code, _ = declared(clock.now, kind=K.IMPORTATION, country="CH")
        other = await g.http.post("/v1/scans/code", json={"code": other_officer_code}, headers=auth(CH_OFFICER))
        clock.now += timedelta(seconds=60)
        later = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth())
        counted = g.service.registry.get_sample_value("ata_code_lookups_total", {"outcome": "rate_limited"})
    assert [r.status_code for r in first] == [200] * 10
    assert limited.status_code == 429 and limited.json()["detail"]["reason"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert other.status_code == 200  # per officer
    assert later.status_code == 200, later.text
    assert counted == 1


async def test_a_commit_by_code_posts_the_declaration_with_its_token_id(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        code, token_id = declared(clock.now)
        unknown = new_transaction_code()
        both = await g.http.post(
            "/v1/commits", json={"token": "ATA1:x", "transaction_code": code, "decision": "committed"}, headers=auth()
        )
        neither = await g.http.post("/v1/commits", json={"decision": "committed"}, headers=auth())
        not_known = await g.http.post(
            "/v1/commits", json={"transaction_code": unknown, "decision": "committed"}, headers=auth()
        )
        r = await g.http.post(
            "/v1/commits", json={"transaction_code": sloppy(code), "decision": "committed"}, headers=auth()
        )
        again = await g.http.post(
            "/v1/commits", json={"transaction_code": code, "decision": "committed"}, headers=auth()
        )
        queued = await outbox(g.service)
    assert both.status_code == 422 and both.json()["detail"]["reason"] == "token_or_code"
    assert neither.status_code == 422 and neither.json()["detail"]["reason"] == "token_or_code"
    assert not_known.status_code == 404 and not_known.json()["detail"]["reason"] == "unknown_code"
    assert r.status_code == 202, r.text
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "replayed"
    assert [(m["topic"], m["key"], m["type"]) for m in queued] == [
        (CUSTOMS_COMMITS.name, NUMBER, "CustomsCommitPosted")
    ]
    p = queued[0]["payload"]
    assert (p["token_id"], p["transaction_code"], p["kind"], p["country"], p["items"], p["officer_id"]) == (
        str(token_id),
        code,
        "exportation",
        "FR",
        [1, 2],
        FR_OFFICER,
    )


async def test_a_commit_by_code_is_refused_on_a_mismatch(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        code, _ = declared(clock.now, items=[1, 9])
        r = await g.http.post("/v1/commits", json={"transaction_code": code, "decision": "committed"}, headers=auth())
        rows = await commits(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "mismatch"
    assert rows == []


async def test_a_typed_code_is_asked_of_the_core_with_the_customs_token_and_the_officer_for_the_log(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        code, _ = declared(clock.now)
        asked = len(CORE.asked)
        r = await g.http.post("/v1/scans/code", json={"code": sloppy(code)}, headers=auth())
    assert r.status_code == 200, r.text
    assert CORE.asked[asked:] == [(code, FR_OFFICER)]  # canonical: the check character was read at the gateway


async def test_a_core_that_cannot_answer_is_503_audited_and_counted_against_the_rate_limit(gateway, clock):
    async with gateway() as g:
        code, _ = declared(clock.now)
        CORE.down = True
        try:
            r = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth())
            by_code = await g.http.post(
                "/v1/commits", json={"transaction_code": code, "decision": "committed"}, headers=auth()
            )
        finally:
            CORE.down = False
        rows = await audit(g, officer_id=FR_OFFICER)
        queued = await outbox(g.service)
    assert r.status_code == 503 and r.json()["detail"]["reason"] == "core_unavailable"
    assert by_code.status_code == 503 and by_code.json()["detail"]["reason"] == "core_unavailable"
    assert [(a["action"], a["outcome"]) for a in rows if a["outcome"] == "core_unavailable"] == [
        ("code_lookup", "core_unavailable"),
        ("commit", "core_unavailable"),
    ]
    assert queued == []


async def test_r6_tokens_of_the_original_for_items_a_replacement_took_over_are_refused_offline(
    gateway, clock, settings
):
    """Item 7, carnet status 'replaced': learnt from the core's ItemLocationsChanged, kept for a fresh cache."""
    from contracts.messages import ItemLocation, ItemLocationsChanged
    from contracts.topics import CUSTOMS_LEDGER
    from customs_gateway.app import build

    successor = "FR2700000036"
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        moved = ItemLocationsChanged(
            carnet_number=NUMBER,
            cause="replacement",
            rule="R6",
            successor=successor,
            successor_expiry=EXPIRY,
            items=[ItemLocation(item_number=1, location="abroad", country="CH", final_date=EXPIRY)],
            changed_at=clock.now,
        )
        await publish(g.broker, moved, CUSTOMS_LEDGER)
        transferred, _ = make_token(g.key, clock.now, items=(1, 2))
        kept, _ = make_token(g.key, clock.now, items=(2, 3))
        scan = await g.http.post("/v1/scans", json={"token": transferred}, headers=auth())
        refused = await commit(g.http, transferred)
        allowed = await g.http.post("/v1/scans", json={"token": kept}, headers=auth())
        code, _ = declared(clock.now, items=[1])
        by_code = await g.http.post("/v1/scans/code", json={"code": code}, headers=auth())
        fresh = build(settings, clock=clock).state["handlers"]
        async with g.service.pool.acquire() as conn:
            await fresh.load_trust(conn)
        queued = await outbox(g.service)
    assert scan.status_code == 422 and scan.json()["detail"]["reason"] == "replaced"
    assert successor in scan.json()["detail"]["message"] and "items 1" in scan.json()["detail"]["message"]
    assert refused.status_code == 422 and refused.json()["detail"]["reason"] == "replaced"
    assert allowed.status_code == 200 and checks(allowed.json())["carnet_status"] is True
    assert by_code.status_code == 200 and checks(by_code.json())["carnet_status"] is False
    assert fresh.transferred == {NUMBER: {1: successor}}
    assert [m for m in queued if m["type"] == "CustomsCommitPosted"] == []
