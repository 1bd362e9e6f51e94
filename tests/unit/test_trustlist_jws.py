"""The trust list as a standard signed object (R3 for its bytes): an ES256 compact JWS whose payload is the RFC 8785
JSON of the list (ATA-TL-3), verifiable with a plain JOSE library; the constructions before it still verify, and the
gateway's verifier refuses a JWS with another alg or kid, or fields that differ from what was signed. Pure: no I/O."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from pydantic import ValidationError

from contracts.bounds import TRUST_LIST_JWS_MAX
from contracts.canonical import JCS, canonical_json
from contracts.messages import TrustedKey, TrustListPublished
from tests.support.bounds import largest
from tests.support.messages import detached_trust_list
from tokens import trustlist
from tokens.cose import generate_signing_key, public_jwk

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ANCHOR = generate_signing_key()
KEY = generate_signing_key()
KEYS = [TrustedKey(kid=KEY.kid.hex(), jwk=public_jwk(KEY.public_key), not_before=NOW)]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, object], payload: bytes, key: ec.EllipticCurvePrivateKey = ANCHOR.private_key) -> str:
    """A compact JWS with any header, signed with ES256 by `key`: only the header can make it wrong."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(payload)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def with_jws(message: TrustListPublished, compact: str) -> TrustListPublished:
    return message.model_copy(update={"jws": compact, "signature": compact.rsplit(".", 1)[1]})


def test_r3_the_list_is_a_jws_any_jose_library_verifies_with_the_canonical_json_as_payload():
    message = trustlist.sign(7, NOW, KEYS, ANCHOR)
    decoded = jwt.api_jws.decode_complete(message.jws, ANCHOR.public_key, algorithms=["ES256"])
    assert decoded["header"] == {"alg": "ES256", "kid": ANCHOR.kid.hex(), "typ": "ata-trust-list+json"}
    assert decoded["payload"] == canonical_json(
        {
            "construction": "ATA-TL-3",
            "sequence": 7,
            "issued_at": NOW.isoformat(),
            "keys": [k.model_dump(mode="json") for k in KEYS],
        },
        JCS,
    )
    assert message.construction == "ATA-TL-3" and message.signature == message.jws.split(".")[2]
    assert trustlist.verify(message, ANCHOR.public_key) == KEYS
    assert (
        trustlist.verify(TrustListPublished.model_validate_json(message.model_dump_json()), ANCHOR.public_key) == KEYS
    )


@pytest.mark.parametrize("construction", ["ATA-TL-2", "ATA-TL-1"])
def test_r3_lists_of_the_constructions_before_still_verify(construction):
    message = detached_trust_list(ANCHOR, 7, NOW, KEYS, construction)
    assert message.jws is None
    assert trustlist.verify(message, ANCHOR.public_key) == KEYS


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES384", "kid": ANCHOR.kid.hex()},
        {"alg": "HS256", "kid": ANCHOR.kid.hex()},
        {"alg": "none", "kid": ANCHOR.kid.hex()},
        {"alg": "ES256", "kid": KEY.kid.hex()},
        {"alg": "ES256"},
    ],
)
def test_a_jws_with_another_alg_or_kid_is_refused_even_with_a_good_signature(header):
    message = trustlist.sign(7, NOW, KEYS, ANCHOR)
    with pytest.raises(trustlist.TrustListError, match="alg"):
        trustlist.verify(with_jws(message, forged(header, trustlist.canonical(7, NOW, KEYS))), ANCHOR.public_key)


def test_the_same_header_and_payload_verify_when_signed_by_the_anchor():
    """The forgery helper makes valid JWSs: the refusals above come from the header alone."""
    message = trustlist.sign(7, NOW, KEYS, ANCHOR)
    good = forged({"alg": "ES256", "kid": ANCHOR.kid.hex()}, trustlist.canonical(7, NOW, KEYS))
    assert trustlist.verify(with_jws(message, good), ANCHOR.public_key) == KEYS


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m.model_copy(update={"sequence": 8}),  # fields no longer what the payload says
        lambda m: m.model_copy(update={"keys": []}),
        lambda m: m.model_copy(update={"signature": "A" * 86}),  # not the JWS's own signature
        lambda m: m.model_copy(update={"jws": None}),  # ATA-TL-3 without its JWS
        lambda m: m.model_copy(update={"construction": "ATA-TL-2"}),  # a JWS under the detached construction
        lambda m: m.model_copy(update={"construction": "ATA-TL-2", "jws": None}),  # relabelled: bytes differ
        lambda m: with_jws(
            m,
            forged(
                {"alg": "ES256", "kid": ANCHOR.kid.hex()},
                trustlist.canonical(7, NOW, KEYS),
                generate_signing_key().private_key,
            ),
        ),  # another key claiming the anchor's kid
        lambda m: with_jws(
            m,
            m.jws.split(".")[0] + "." + b64(trustlist.canonical(7, NOW, KEYS, "ATA-TL-2")) + "." + m.jws.split(".")[2],
        ),  # the payload of another construction
        lambda m: m.model_copy(update={"jws": "not.a.jws"}),
        lambda m: m.model_copy(update={"jws": m.jws.split(".")[0] + ".." + m.jws.split(".")[2]}),  # detached payload
    ],
)
def test_a_tampered_jws_list_is_refused(tamper):
    with pytest.raises(trustlist.TrustListError):
        trustlist.verify(tamper(trustlist.sign(7, NOW, KEYS, ANCHOR)), ANCHOR.public_key)


def test_a_list_signed_by_another_anchor_is_refused():
    with pytest.raises(trustlist.TrustListError, match="anchor"):
        trustlist.verify(trustlist.sign(7, NOW, KEYS, generate_signing_key()), ANCHOR.public_key)


@pytest.mark.parametrize("jws", ["", "a.b", "a.b.c d", "a.b.c\n", "é.b.c", "a.b." + "c" * TRUST_LIST_JWS_MAX])
def test_hostile_jws_text_is_refused_by_the_contract(jws):
    fields = trustlist.sign(7, NOW, KEYS, ANCHOR).model_dump()
    with pytest.raises(ValidationError):
        TrustListPublished.model_validate({**fields, "jws": jws})


def test_the_jws_of_the_largest_valid_list_fits_its_bound_with_little_to_spare():
    """The bound is measured, not guessed: 32 keys at their own bounds, signed, fit; a much smaller bound would not."""
    biggest = TrustListPublished.model_validate(largest(TrustListPublished))
    message = trustlist.sign(biggest.sequence, biggest.issued_at, list(biggest.keys), ANCHOR)
    assert 0.9 * TRUST_LIST_JWS_MAX < len(message.jws) <= TRUST_LIST_JWS_MAX
