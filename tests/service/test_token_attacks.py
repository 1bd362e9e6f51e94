"""Issue 10 item 4: every token attack at the customs gateway, each refused with its reason and none committed:
tampered claims, a signature from an unknown key, a revoked key (dropped from the trust list), a key used outside
its validity, an expired token, a replayed token (voucher already used), a token for another country (R18), a token
of a voided (duplicated) carnet (R5), a truncated QR."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from contracts.kinds import DeclarationKind as K
from tests.service.conftest import outbox
from tests.support import gateway as base
from tests.support.gateway import FR_OFFICER, auth, carnet_status, commit, learn_key, make_token
from tests.vectors.make_token_vectors import tamper_one_item
from tokens.cose import generate_signing_key

gateway = base.gateway


async def tampered(g: Any, now: Any) -> str:
    return tamper_one_item(make_token(g.key, now)[0])[0]  # one item number changed, not re-signed


async def unknown_key(g: Any, now: Any) -> str:
    return make_token(generate_signing_key(), now)[0]


async def revoked_key(g: Any, now: Any) -> str:
    token = make_token(g.key, now)[0]
    await learn_key(g.broker, generate_signing_key(), now - timedelta(days=1))  # a newer list without g.key
    return token


async def outside_key_validity(g: Any, now: Any) -> str:
    return make_token(g.key, now - timedelta(days=2))[0]  # signed before the key's not_before


async def expired(g: Any, now: Any) -> str:
    return make_token(g.key, now - timedelta(hours=2), expires_at=now - timedelta(minutes=1))[0]


async def replayed(g: Any, now: Any) -> str:
    token = make_token(g.key, now)[0]
    assert (await commit(g.http, token)).status_code == 202
    return token


async def other_country(g: Any, now: Any) -> str:
    return make_token(g.key, now, kind=K.IMPORTATION, country="CH")[0]


async def voided_carnet(g: Any, now: Any) -> str:
    await carnet_status(g.broker, "voided", now)
    return make_token(g.key, now)[0]


async def truncated(g: Any, now: Any) -> str:
    token = make_token(g.key, now)[0]
    return token[: len(token) * 2 // 3]


ATTACKS = {
    "tampered claims": (tampered, 422, {"bad_signature"}),
    "unknown key": (unknown_key, 422, {"unknown_kid"}),
    "revoked key": (revoked_key, 422, {"unknown_kid"}),
    "key outside its validity": (outside_key_validity, 422, {"key_not_valid"}),
    "expired token": (expired, 422, {"expired"}),
    "replayed token": (replayed, 409, {"replayed"}),
    "another country": (other_country, 403, {"wrong_country"}),
    "voided carnet": (voided_carnet, 422, {"voided"}),
    "truncated QR": (truncated, 422, {"malformed"}),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_each_token_attack_is_refused_with_its_reason_and_nothing_is_committed(gateway, clock, attack):
    make, status, reasons = ATTACKS[attack]
    async with gateway() as g:
        token = await make(g, clock.now)
        committed_before = len([m for m in await outbox(g.service) if m["type"] == "CustomsCommitPosted"])
        scanned = await g.http.post("/v1/scans", json={"token": token}, headers=auth(FR_OFFICER))
        r = await commit(g.http, token)
        committed_after = len([m for m in await outbox(g.service) if m["type"] == "CustomsCommitPosted"])
    assert (r.status_code, r.json()["detail"]["reason"] in reasons) == (status, True), r.text
    if attack != "replayed token":  # a replayed QR still scans and says it was decided (the commit is refused)
        assert scanned.status_code == status and scanned.json()["detail"]["reason"] in reasons
    assert committed_after == committed_before
