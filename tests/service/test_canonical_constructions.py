"""R3 and the trust list over the topic: the gateway takes an RFC 8785 (ATA-TL-2) trust list and one signed
under the construction before it (ATA-TL-1), and refuses a list relabelled with the other construction."""

from __future__ import annotations

from contracts.topics import SIGNING_KEYS
from runtime import trustlist
from runtime.cose import generate_signing_key, load_or_create_signing_key, public_jwk
from tests.service.test_customs_gateway import auth, gateway, make_token  # noqa: F401  (fixture)
from tests.support.messages import wire


def listed(key, at):  # type: ignore[no-untyped-def]
    from contracts.messages import TrustedKey

    return [TrustedKey(kid=key.kid.hex(), jwk=public_jwk(key.public_key), not_before=at, not_after=None)]


def legacy_signed(anchor_path, sequence, at, keys):  # type: ignore[no-untyped-def]
    """A list as a core signed it before RFC 8785: ATA-TL-1 bytes, no construction field on the wire."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    anchor = load_or_create_signing_key(anchor_path)
    r, s = decode_dss_signature(anchor.private_key.sign(trustlist.canonical(sequence, at, keys, "ATA-TL-1"),
                                                        ec.ECDSA(hashes.SHA256())))
    current = trustlist.sign(sequence, at, keys, anchor)
    import base64

    raw = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode()
    return current.model_copy(update={"signature": raw, "construction": "ATA-TL-1"})


async def publish(g, payload) -> None:  # type: ignore[no-untyped-def]
    body, headers, _ = wire(payload, producer="core")
    await g.broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)


async def test_r3_trust_lists_of_both_constructions_verify_and_a_relabelled_one_is_refused(gateway, clock, settings):
    async with gateway() as g:
        old_key, new_key, third = generate_signing_key(), generate_signing_key(), generate_signing_key()
        legacy = legacy_signed(settings.trust_anchor_key_path, 200, clock.now, listed(old_key, clock.now))
        assert legacy.model_dump(exclude={"construction"}) and "construction" not in legacy.model_dump(
            exclude_defaults=True)  # an old core never sent the field
        await publish(g, legacy)
        old_scan = await g.http.post("/v1/scans", json={"token": make_token(old_key, clock.now)[0]}, headers=auth())
        current = trustlist.sign(201, clock.now, listed(new_key, clock.now),
                                 load_or_create_signing_key(settings.trust_anchor_key_path))
        await publish(g, current)
        new_scan = await g.http.post("/v1/scans", json={"token": make_token(new_key, clock.now)[0]}, headers=auth())
        relabelled = trustlist.sign(202, clock.now, listed(third, clock.now),
                                    load_or_create_signing_key(settings.trust_anchor_key_path))
        await publish(g, relabelled.model_copy(update={"construction": "ATA-TL-1"}))
        refused = g.service.registry.get_sample_value("ata_trust_lists_total", {"outcome": "refused"})
        third_scan = await g.http.post("/v1/scans", json={"token": make_token(third, clock.now)[0]}, headers=auth())
    assert current.construction == "ATA-TL-2"
    assert (old_scan.status_code, new_scan.status_code) == (200, 200)
    assert refused == 1 and third_scan.status_code == 422
