"""Customs gateway service: officer commits (R13, R18) verified offline and posted to the core, refusals, replayed,
tampered and expired tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS
from tests.service.conftest import ADMIN, outbox
from tests.support.gateway import (  # noqa: F401  (gateway: the fixture)
    AUTH,
    CH_OFFICER,
    EXPIRY,
    FR_OFFICER,
    NUMBER,
    PASSWORD,
    SECRETS,
    auth,
    commit,
    commits,
    gateway,
    log_in,
    make_token,
    tamper,
)
from tokens.cose import generate_signing_key

# --- commits -----------------------------------------------------------------------------------


async def test_commit_is_accepted_and_posted_to_the_core_in_the_office_zone(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now)
        r = await commit(g.http, token)
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert r.status_code == 202, r.text
    body = r.json()
    assert (body["carnet_number"], body["decision"], body["office_id"], body["items"], body["kind"]) == (
        NUMBER,
        "committed",
        "FR-CDG-FRET",
        [1, 2],
        "exportation",
    )
    assert [(m["topic"], m["key"], m["type"]) for m in queued] == [
        (CUSTOMS_COMMITS.name, NUMBER, "CustomsCommitPosted")
    ]
    p = queued[0]["payload"]
    assert (p["token_id"], p["transaction_code"], p["office_timezone"], p["officer_id"], p["country"], p["items"]) == (
        str(claims.token_id),
        claims.transaction_code,
        "Europe/Paris",
        FR_OFFICER,
        "FR",
        [1, 2],
    )
    decided_at = datetime.fromisoformat(p["decided_at"])
    assert decided_at == clock.now
    assert decided_at.utcoffset() == ZoneInfo("Europe/Paris").utcoffset(clock.now.replace(tzinfo=None))
    assert p["commit_id"] == body["commit_id"]
    assert len(rows) == 1 and rows[0]["token_id"] == claims.token_id and rows[0]["office_id"] == "FR-CDG-FRET"


async def test_r13_commit_with_an_earlier_final_date_is_posted(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH")
        r = await commit(g.http, token, CH_OFFICER, final_date="2027-03-31")
        queued = await outbox(g.service)
    assert r.status_code == 202, r.text
    assert queued[0]["payload"]["final_date"] == "2027-03-31"
    assert queued[0]["payload"]["office_timezone"] == "Europe/Zurich"


async def test_a_refusal_is_posted_with_its_reason(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        r = await g.http.post(
            "/v1/commits",
            json={"token": token, "decision": "refused", "refusal_reason": "seal broken"},
            headers=auth(FR_OFFICER),
        )
        queued = await outbox(g.service)
    assert r.status_code == 202
    assert (queued[0]["payload"]["decision"], queued[0]["payload"]["refusal_reason"]) == ("refused", "seal broken")


async def test_a_refusal_without_a_reason_is_422_and_posts_nothing(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        r = await commit(g.http, token, decision="refused", refusal_reason="  ")
        queued = await outbox(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "reason_required"
    assert queued == []


async def test_a_replayed_token_is_409_and_posts_nothing_more(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        first = await commit(g.http, token)
        again = await commit(g.http, token)
        from_other_office = await commit(g.http, token, decision="refused", refusal_reason="seal broken")
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert first.status_code == 202
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "replayed"
    assert from_other_office.status_code == 409
    assert len(queued) == 1 and len(rows) == 1


REFUSALS = {
    # name: (how to make the token, officer, extra body, status, reason)
    "wrong_country": (
        lambda key, now: make_token(key, now, kind=K.IMPORTATION, country="CH")[0],
        FR_OFFICER,
        {},
        403,
        "wrong_country",
    ),
    "no_session": (lambda key, now: make_token(key, now)[0], "nobody", {}, 401, "unauthenticated"),
    "unknown_kid": (lambda key, now: make_token(generate_signing_key(), now)[0], FR_OFFICER, {}, 422, "unknown_kid"),
    "R13": (
        lambda key, now: make_token(key, now, kind=K.IMPORTATION, country="CH")[0],
        CH_OFFICER,
        {"final_date": "2027-11-22"},
        422,
        "R13",
    ),
    "not_yet_valid": (
        lambda key, now: make_token(key, now + timedelta(hours=1))[0],
        FR_OFFICER,
        {},
        422,
        "not_yet_valid",
    ),
    "key_not_valid": (
        lambda key, now: make_token(key, now - timedelta(days=2))[0],
        FR_OFFICER,
        {},
        422,
        "key_not_valid",
    ),
    "not_a_token": (lambda key, now: "hello", FR_OFFICER, {}, 422, "malformed"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_refused_commits_are_not_recorded_r13_r18(gateway, clock, case):
    make, officer, extra, status, reason = REFUSALS[case]
    async with gateway() as g:
        r = await commit(g.http, make(g.key, clock.now), officer, **extra)
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert r.status_code == status, r.text
    assert r.json()["detail"]["reason"] == reason
    assert queued == [] and rows == []


async def test_a_tampered_token_is_refused(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        r = await commit(g.http, tamper(token))
        queued = await outbox(g.service)
        rows = await commits(g.service)
    assert r.status_code == 422
    assert r.json()["detail"]["reason"] in ("bad_signature", "malformed")
    assert queued == [] and rows == []


async def test_a_token_with_a_flipped_signature_byte_is_bad_signature(gateway, clock):
    import base45

    from tokens.cose import PREFIX

    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        raw = bytearray(base45.b45decode(token[len(PREFIX) :]))
        assert raw[0] == 0xD2  # short tokens travel uncompressed; the signature is the last 64 bytes
        raw[-1] ^= 0x01
        r = await commit(g.http, PREFIX + base45.b45encode(bytes(raw)).decode())
        rows = await commits(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "bad_signature"
    assert rows == []


async def test_an_expired_token_is_refused(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now)
        clock.now = claims.expires_at
        AUTH[FR_OFFICER] = await log_in(g.http, FR_OFFICER, SECRETS[FR_OFFICER], clock.now)  # sessions last 8 h
        r = await commit(g.http, token)
        rows = await commits(g.service)
        queued = await outbox(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "expired"
    assert rows == [] and queued == []


async def test_r13_final_date_on_the_expiry_day_is_accepted(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH")
        r = await commit(g.http, token, CH_OFFICER, final_date=EXPIRY.isoformat())
    assert r.status_code == 202, r.text


async def test_officer_for_an_unknown_office_is_404_and_an_existing_id_409(gateway):
    async with gateway() as g:
        r = await g.http.post(
            "/v1/admin/officers",
            json={"officer_id": "x-1", "office_id": "XX-NOWHERE", "password": PASSWORD},
            headers=ADMIN,
        )
        again = await g.http.post(
            "/v1/admin/officers",
            json={"officer_id": FR_OFFICER, "office_id": "FR-CDG-FRET", "password": PASSWORD},
            headers=ADMIN,
        )
    assert r.status_code == 404 and r.json()["detail"]["reason"] == "unknown_office"
    assert again.status_code == 409 and again.json()["detail"]["reason"] == "officer_exists"
