"""Customs gateway service: trust keys from the core in a signed trust list, cached and stored, rotated, and forged or
stale lists ignored; no start without a trust anchor."""

from __future__ import annotations

from datetime import timedelta

from contracts.topics import SIGNING_KEYS
from customs_gateway.app import build
from tests.support.databases import snapshot
from tests.support.gateway import (  # noqa: F401  (gateway: the fixture)
    FR_OFFICER,
    auth,
    commit,
    gateway,
    learn_key,
    make_token,
)
from tests.support.messages import signing_key_published, trust_list, wire
from tokens.cose import generate_signing_key

# --- trust keys --------------------------------------------------------------------------------


async def test_a_signed_trust_list_fills_the_cache_and_the_table_and_redelivery_changes_nothing(
    settings, clock, running
):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with running(service) as broker:
        key = generate_signing_key()
        assert handlers.keys.key(key.kid) is None
        body, headers = await learn_key(broker, key, clock.now, settings)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "customs_gateway")
        await broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "customs_gateway")
            rows = await conn.fetch("SELECT kid, not_before, not_after FROM signing_keys")
    assert len(handlers.keys) == 1
    assert handlers.keys.key(key.kid).public_numbers() == key.public_key.public_numbers()
    assert [(r["kid"], r["not_before"], r["not_after"]) for r in rows] == [(key.kid.hex(), clock.now, None)]
    assert before == after


async def test_keys_in_the_table_warm_a_fresh_cache(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        key = generate_signing_key()
        await learn_key(broker, key, clock.now, settings)
        fresh = build(settings, clock=clock).state["handlers"]
        async with service.pool.acquire() as conn:
            await fresh.load_trust(conn)
    assert fresh.keys.key(key.kid) is not None


# --- the signed trust list and rotation ---------------------------------------------------------------


async def test_rotation_keeps_old_tokens_verifiable_and_a_key_left_out_of_the_list_is_no_longer_trusted(
    gateway, clock, settings
):
    async with gateway() as g:
        old_token, _ = make_token(g.key, clock.now)
        new = generate_signing_key()
        # the core rotated: the old key stopped signing now, the new one signs; both listed
        body, headers, _ = wire(
            trust_list(
                settings.trust_anchor_key_path,
                100,
                clock.now,
                (g.key, clock.now - timedelta(days=1), clock.now),
                (new, clock.now, None),
            ),
            producer="core",
        )
        await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        new_token, _ = make_token(new, clock.now, carnet_number="FR2600000028")
        late_old, _ = make_token(g.key, clock.now + timedelta(minutes=5), carnet_number="FR2600000036")
        scans = [
            await g.http.post("/v1/scans", json={"token": t}, headers=auth(FR_OFFICER))
            for t in (old_token, new_token, late_old)
        ]
        # later, the old key's tokens have all expired: the list drops it, and its tokens fail as unknown
        body, headers, _ = wire(
            trust_list(settings.trust_anchor_key_path, 101, clock.now, (new, clock.now, None)), producer="core"
        )
        await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        dropped = await g.http.post("/v1/scans", json={"token": old_token}, headers=auth(FR_OFFICER))
    assert [r.status_code for r in scans] == [200, 200, 422]
    assert scans[2].json()["detail"]["reason"] == "key_not_valid"  # signed by the old key after it stopped signing
    assert dropped.status_code == 422 and dropped.json()["detail"]["reason"] == "unknown_kid"


async def test_a_forged_a_stale_and_an_unsigned_key_list_are_all_ignored(gateway, clock, settings, tmp_path):
    from tokens import trustlist

    async with gateway() as g:
        intruder = generate_signing_key()
        forged_anchor = tmp_path / "forged-anchor.pem"
        trustlist.ensure_anchor(forged_anchor)
        attempts = [
            trust_list(forged_anchor, 500, clock.now, (intruder, clock.now, None)),  # not our anchor
            trust_list(settings.trust_anchor_key_path, 1, clock.now, (intruder, clock.now, None)),  # older than held
            signing_key_published(intruder, clock.now),  # unsigned
        ]
        for payload in attempts:
            body, headers, _ = wire(payload, producer="somebody")
            await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
        token, _ = make_token(intruder, clock.now)
        r = await commit(g.http, token)
        metrics = {
            o: g.service.registry.get_sample_value("ata_trust_lists_total", {"outcome": o})
            for o in ("refused", "stale", "unsigned_ignored")
        }
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "unknown_kid"
    assert metrics == {"refused": 1, "stale": 1, "unsigned_ignored": 1}


def test_the_gateway_refuses_to_start_without_a_trust_anchor(settings):
    import pytest as _pytest

    from tokens.trustlist import TrustListError

    with _pytest.raises(TrustListError, match="ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH"):
        build(settings.model_copy(update={"trust_anchor_public_key_path": None}))
