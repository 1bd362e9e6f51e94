"""Our COSE_Sign1 tokens (tokens/cose.py) interoperate with a maintained COSE library, pycose: it verifies what we sign
and the committed vectors, we verify what it signs, and both build the same protected header and payload bytes.
(Why we keep our own code is measured in tokens/cose.py's docstring, by bench/cose_libraries.py.) Pure: no I/O."""

from __future__ import annotations

import json

import cbor2
import pytest

from bench.cose_libraries import VECTORS, Pycose, claims, cose_bytes, first_vector, to_token
from tokens.cose import BadSignatureError, generate_signing_key, public_key_from_jwk, sign_token, verify_token

KEY = generate_signing_key()
VECTOR_FILES = sorted(VECTORS.glob("*.json"))


def pycose() -> Pycose:
    return Pycose(KEY.public_key, KEY.private_key)


def test_pycose_verifies_a_token_we_sign_and_reads_our_claims():
    assert pycose().verify(cose_bytes(sign_token(claims(), KEY))) == claims()


def test_we_verify_a_token_pycose_signs():
    token = to_token(pycose().sign(claims()))
    assert verify_token(token, lambda kid: KEY.public_key if kid == KEY.kid else None, first_vector()[1]) == claims()


def test_both_build_the_same_protected_header_and_payload_bytes():
    ours, theirs = (
        cbor2.loads(data).value for data in (cose_bytes(sign_token(claims(), KEY)), pycose().sign(claims()))
    )
    assert (ours[0], ours[2]) == (theirs[0], theirs[2])
    assert ours[0] == cbor2.dumps({1: -7, 4: KEY.kid})  # ES256 and our kid, protected


def test_a_tampered_token_fails_on_both_sides():
    protected, unprotected, payload, signature = cbor2.loads(pycose().sign(claims())).value
    forged = cbor2.dumps(cbor2.CBORTag(18, [protected, dict(unprotected), payload[:-1] + b"\x00", signature]))
    assert pycose().verify(forged) is None
    with pytest.raises(BadSignatureError):
        verify_token(to_token(forged), lambda kid: KEY.public_key, first_vector()[1])


@pytest.mark.parametrize("path", VECTOR_FILES, ids=[p.stem for p in VECTOR_FILES])
def test_pycose_agrees_with_every_committed_vector_on_the_signature(path):
    v = json.loads(path.read_text(encoding="utf-8"))
    if v["reason"] in ("truncated", "wrong prefix") and not v["token"].startswith("ATA1:"):
        pytest.skip("not a COSE message under our prefix: refused before any COSE library")
    try:
        data = cose_bytes(v["token"])
    except ValueError:
        pytest.skip("truncated below COSE: refused before any COSE library")
    accepted = Pycose(public_key_from_jwk(v["public_key"])).verify(data) is not None
    assert accepted == (v["valid"] or v["reason"] not in ("bad signature", "tampered claim", "unknown kid"))
