"""R3 and the trust list over the topic: the gateway takes the JWS trust list (ATA-TL-3) and the ones signed
under the constructions before it (ATA-TL-2, ATA-TL-1), and refuses a list relabelled with another construction."""

from __future__ import annotations

from contracts.topics import SIGNING_KEYS
from tests.support.gateway import auth, gateway, make_token  # noqa: F401  (fixture)
from tests.support.messages import detached_trust_list, wire
from tokens import trustlist
from tokens.cose import generate_signing_key, load_or_create_signing_key, public_jwk


def listed(key, at):  # type: ignore[no-untyped-def]
    from contracts.messages import TrustedKey

    return [TrustedKey(kid=key.kid.hex(), jwk=public_jwk(key.public_key), not_before=at, not_after=None)]


async def publish(g, payload) -> None:  # type: ignore[no-untyped-def]
    body, headers, _ = wire(payload, producer="core")
    await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)


async def test_r3_trust_lists_of_every_construction_verify_and_a_relabelled_one_is_refused(gateway, clock, settings):
    anchor = load_or_create_signing_key(settings.trust_anchor_key_path)
    async with gateway() as g:
        old_key, tl2_key, new_key, third = (generate_signing_key() for _ in range(4))
        legacy = detached_trust_list(anchor, 199, clock.now, listed(old_key, clock.now), "ATA-TL-1")
        assert "construction" not in legacy.model_dump(exclude_defaults=True)  # an old core never sent the field
        await publish(g, legacy)
        old_scan = await g.http.post("/v1/scans", json={"token": make_token(old_key, clock.now)[0]}, headers=auth())
        await publish(g, detached_trust_list(anchor, 200, clock.now, listed(tl2_key, clock.now), "ATA-TL-2"))
        tl2_scan = await g.http.post("/v1/scans", json={"token": make_token(tl2_key, clock.now)[0]}, headers=auth())
        current = trustlist.sign(201, clock.now, listed(new_key, clock.now), anchor)
        await publish(g, current)
        new_scan = await g.http.post("/v1/scans", json={"token": make_token(new_key, clock.now)[0]}, headers=auth())
        relabelled = trustlist.sign(202, clock.now, listed(third, clock.now), anchor)
        await publish(g, relabelled.model_copy(update={"construction": "ATA-TL-2", "jws": None}))
        refused = g.service.registry.get_sample_value("ata_trust_lists_total", {"outcome": "refused"})
        third_scan = await g.http.post("/v1/scans", json={"token": make_token(third, clock.now)[0]}, headers=auth())
    assert current.construction == "ATA-TL-3" and current.jws
    assert (old_scan.status_code, tl2_scan.status_code, new_scan.status_code) == (200, 200, 200)
    assert refused == 1 and third_scan.status_code == 422
