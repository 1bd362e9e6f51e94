"""COSE_Sign1/ES256 token plumbing (tokens.cose): the signed, dated form of a declaration (R9)."""

from __future__ import annotations

import os
import stat
import threading
import zlib
from datetime import UTC, datetime, timedelta, timezone

import base45
import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings, strategies as st

from tokens.cose import (
    CWT_CTI,
    CWT_EXP,
    CWT_IAT,
    PREFIX,
    BadSignatureError,
    SigningKey,
    TokenError,
    TokenExpiredError,
    TokenFormatError,
    TokenNotYetValidError,
    UnknownKeyError,
    generate_signing_key,
    kid_for,
    load_or_create_signing_key,
    public_jwk,
    public_key_from_jwk,
    sign_token,
    verify_token,
)

NOW = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
NOW_S = int(NOW.timestamp())
BASE45_CHARS = set(base45.BASE45_CHARSET)

# One key for the module: generating keys is cheap, but a fixed key keeps failures reproducible
# within a run and hypothesis tests free of function-scoped fixtures.
KEY = generate_signing_key()


def resolve(kid: bytes):
    return KEY.public_key if kid == KEY.kid else None


def claims(extra: dict | None = None) -> dict:
    base = {CWT_EXP: NOW_S + 3600, CWT_IAT: NOW_S, CWT_CTI: bytes(range(16)), -70000: {1: "AAAA"}}
    base.update(extra or {})
    return base


def body_of(token: str) -> bytes:
    """The uncompressed COSE bytes of a token."""
    body = base45.b45decode(token[len(PREFIX) :])
    return zlib.decompress(body) if body[0] == 0x78 else body


def token_of(body: bytes) -> str:
    return PREFIX + base45.b45encode(body).decode()


def signed_cose(protected_header: dict, payload: bytes, key: SigningKey = KEY) -> bytes:
    """A COSE_Sign1 with an arbitrary protected header, validly signed, for header-rule tests."""
    protected = cbor2.dumps(protected_header)
    to_sign = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(key.private_key.sign(to_sign, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))


def test_round_trip_returns_the_claims():
    token = sign_token(claims(), KEY)
    assert token.startswith(PREFIX)
    assert set(token[len(PREFIX) :]) <= BASE45_CHARS
    assert verify_token(token, resolve, NOW) == claims()


def test_small_token_stays_uncompressed_and_large_one_is_zlib():
    small = base45.b45decode(sign_token(claims(), KEY)[len(PREFIX) :])
    large_token = sign_token(claims({-70001: "ITEM " * 200}), KEY)
    large = base45.b45decode(large_token[len(PREFIX) :])
    assert small[0] == 0xD2
    assert large[0] == 0x78
    assert verify_token(large_token, resolve, NOW)[-70001] == "ITEM " * 200


def test_protected_header_holds_es256_and_kid():
    message = cbor2.loads(body_of(sign_token(claims(), KEY)))
    assert message.tag == 18
    protected, unprotected, _, signature = message.value
    assert cbor2.loads(protected) == {1: -7, 4: KEY.kid}
    assert dict(unprotected) == {}
    assert len(signature) == 64


def test_tampered_payload_byte_is_a_bad_signature():
    body = body_of(sign_token(claims(), KEY))
    assert body.count(b"AAAA") == 1
    tampered = token_of(body.replace(b"AAAA", b"AAAB"))
    with pytest.raises(BadSignatureError) as caught:
        verify_token(tampered, resolve, NOW)
    assert caught.value.reason == "bad_signature"


def test_tampered_signature_byte_is_a_bad_signature():
    body = bytearray(body_of(sign_token(claims(), KEY)))
    body[-1] ^= 0x01
    with pytest.raises(BadSignatureError):
        verify_token(token_of(bytes(body)), resolve, NOW)


def test_signature_from_another_key_with_same_kid_is_bad():
    other = generate_signing_key()
    forged = sign_token(claims(), SigningKey(kid=KEY.kid, private_key=other.private_key))
    with pytest.raises(BadSignatureError):
        verify_token(forged, resolve, NOW)


def test_unknown_kid():
    token = sign_token(claims(), generate_signing_key())
    with pytest.raises(UnknownKeyError) as caught:
        verify_token(token, resolve, NOW)
    assert caught.value.reason == "unknown_kid"


def test_resolver_returning_a_non_p256_key_is_unknown_kid():
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(UnknownKeyError):
        verify_token(sign_token(claims(), KEY), lambda kid: p384, NOW)


def test_expired_at_exactly_exp():
    token = sign_token(claims({CWT_EXP: NOW_S}), KEY)
    with pytest.raises(TokenExpiredError) as caught:
        verify_token(token, resolve, NOW)
    assert caught.value.reason == "expired"
    assert verify_token(token, resolve, NOW - timedelta(seconds=1))[CWT_EXP] == NOW_S


def test_issued_in_the_future_beyond_leeway_is_not_yet_valid():
    allowed = sign_token(claims({CWT_IAT: NOW_S + 300}), KEY)
    too_early = sign_token(claims({CWT_IAT: NOW_S + 301}), KEY)
    assert verify_token(allowed, resolve, NOW)[CWT_IAT] == NOW_S + 300
    with pytest.raises(TokenNotYetValidError) as caught:
        verify_token(too_early, resolve, NOW)
    assert caught.value.reason == "not_yet_valid"


def test_now_in_another_time_zone_is_the_same_instant():
    token = sign_token(claims({CWT_EXP: NOW_S}), KEY)
    with pytest.raises(TokenExpiredError):
        verify_token(token, resolve, NOW.astimezone(timezone(timedelta(hours=-5))))


def test_naive_now_is_a_programming_error_not_a_token_error():
    with pytest.raises(ValueError) as caught:
        verify_token(sign_token(claims(), KEY), resolve, NOW.replace(tzinfo=None))
    assert not isinstance(caught.value, TokenError)


def test_token_without_exp_is_refused():
    """Key rotation retires a key only when its tokens have expired, so exp is mandatory."""
    no_exp = claims()
    del no_exp[CWT_EXP]
    with pytest.raises(TokenFormatError):
        verify_token(sign_token(no_exp, KEY), resolve, NOW)


@pytest.mark.parametrize("exp", [True, "1893456000", 1.8e9, datetime(2030, 1, 1, tzinfo=UTC)])
def test_exp_of_the_wrong_type_is_malformed(exp):
    with pytest.raises(TokenFormatError):
        verify_token(sign_token(claims({CWT_EXP: exp}), KEY), resolve, NOW)


@pytest.mark.parametrize(
    "token",
    ["", "ATA1", "ata1:" + "A" * 30, "ATA2:ABCDEF", "HC1:ABCDEF", " ATA1:ABC"],
)
def test_wrong_prefix(token):
    with pytest.raises(TokenFormatError) as caught:
        verify_token(token, resolve, NOW)
    assert caught.value.reason == "malformed"


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5, 10, 50, 100])
def test_truncated_token(cut):
    token = sign_token(claims(), KEY)
    with pytest.raises(TokenFormatError):
        verify_token(token[:-cut], resolve, NOW)


def test_token_that_is_only_the_prefix():
    with pytest.raises(TokenFormatError):
        verify_token(PREFIX, resolve, NOW)


@pytest.mark.parametrize("garbage", ["!!!!", "abcdef", "GGW", "::::::", "ÄÖÜ", "A"])
def test_garbage_base45(garbage):
    with pytest.raises(TokenFormatError):
        verify_token(PREFIX + garbage, resolve, NOW)


@pytest.mark.parametrize(
    "body",
    [
        cbor2.dumps([1, 2, 3]),  # not tagged at all
        cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""])),  # three items
        cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, b"\xa0", b"\x00" * 63])),  # short signature
        cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, None, b"\x00" * 64])),  # detached payload
        cbor2.dumps(cbor2.CBORTag(18, ["text", {}, b"\xa0", b"\x00" * 64])),  # header not bstr
        b"\xd2",  # tag with nothing behind it
        zlib.compress(b"not cbor at all"),
        b"\x78\x9c\x00\x01",  # broken zlib stream
        zlib.compress(cbor2.dumps([1]))[:-3],  # truncated zlib stream
    ],
)
def test_bodies_that_are_not_cose_sign1(body):
    with pytest.raises(TokenFormatError):
        verify_token(token_of(body), resolve, NOW)


def test_trailing_bytes_after_cose_are_refused():
    body = body_of(sign_token(claims(), KEY))
    with pytest.raises(TokenFormatError):
        verify_token(token_of(body + b"\x00"), resolve, NOW)


def test_algorithm_other_than_es256_is_refused():
    payload = cbor2.dumps(claims())
    for header in ({1: -35, 4: KEY.kid}, {4: KEY.kid}, {1: "ES256", 4: KEY.kid}):
        with pytest.raises(TokenFormatError):
            verify_token(token_of(signed_cose(header, payload)), resolve, NOW)
    # Sanity check of the helper: the same construction with ES256 verifies.
    assert verify_token(token_of(signed_cose({1: -7, 4: KEY.kid}, payload)), resolve, NOW)


def test_kid_must_be_in_the_protected_header():
    with pytest.raises(TokenFormatError):
        verify_token(token_of(signed_cose({1: -7}, cbor2.dumps(claims()))), resolve, NOW)


def test_duplicate_claim_keys_are_refused_even_when_signed():
    # Two exp claims: which one a parser keeps is implementation-defined, so refuse both.
    exp = cbor2.dumps(CWT_EXP)
    payload = b"\xa2" + exp + cbor2.dumps(NOW_S + 10) + exp + cbor2.dumps(NOW_S - 10)
    with pytest.raises(TokenFormatError):
        verify_token(token_of(signed_cose({1: -7, 4: KEY.kid}, payload)), resolve, NOW)


def test_signed_payload_that_is_not_a_map_is_malformed():
    token = token_of(signed_cose({1: -7, 4: KEY.kid}, cbor2.dumps([1, 2])))
    with pytest.raises(TokenFormatError):
        verify_token(token, resolve, NOW)


def test_zlib_bomb_is_refused():
    with pytest.raises(TokenFormatError):
        verify_token(token_of(zlib.compress(b"\xd2" + b"\x00" * 2_000_000, 9)), resolve, NOW)


def test_reasons_are_stable():
    assert [
        cls.reason
        for cls in (TokenFormatError, UnknownKeyError, BadSignatureError, TokenExpiredError, TokenNotYetValidError)
    ] == [
        "malformed",
        "unknown_kid",
        "bad_signature",
        "expired",
        "not_yet_valid",
    ]
    assert all(issubclass(cls, ValueError) for cls in (TokenError, TokenFormatError))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([b"", b"\xd2", b"\x78\x9c", b"\xd2\x84"]))
def test_arbitrary_bodies_fail_only_with_token_errors(data, lead):
    try:
        verify_token(token_of(lead + data), resolve, NOW)
    except TokenError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_fails_only_with_token_errors(text):
    for candidate in (text, PREFIX + text):
        try:
            verify_token(candidate, resolve, NOW)
        except TokenError:
            pass


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_is_refused(position, bit):
    body = bytearray(body_of(sign_token(claims(), KEY)))
    body[position % len(body)] ^= 1 << bit
    with pytest.raises(TokenError):
        verify_token(token_of(bytes(body)), resolve, NOW)


def test_kid_is_first_8_bytes_of_spki_sha256():
    spki = KEY.public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(spki)
    assert kid_for(KEY.public_key) == digest.finalize()[:8] == KEY.kid
    assert generate_signing_key().kid != KEY.kid


def test_key_file_is_created_private_and_reloads_to_the_same_kid(tmp_path):
    path = tmp_path / "keys" / "nested" / "issuer.pem"
    first = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    second = load_or_create_signing_key(path)
    assert first.kid == second.kid == kid_for(second.public_key)
    assert [p.name for p in path.parent.iterdir()] == ["issuer.pem"]  # no temp files left
    token = sign_token(claims(), first)
    assert verify_token(token, lambda kid: second.public_key, NOW) == claims()


def test_concurrent_creators_all_end_with_the_first_key(tmp_path):
    path = tmp_path / "issuer.pem"
    barrier = threading.Barrier(8)
    kids: list[bytes] = []

    def create() -> None:
        barrier.wait()
        kids.append(load_or_create_signing_key(path).kid)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(kids) == 8 and len(set(kids)) == 1
    assert kids[0] == load_or_create_signing_key(path).kid
    assert os.listdir(tmp_path) == ["issuer.pem"]


def test_key_file_with_another_curve_is_refused(tmp_path):
    path = tmp_path / "p384.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(ValueError, match="P-256"):
        load_or_create_signing_key(path)


def test_jwk_round_trip():
    jwk = public_jwk(KEY.public_key)
    assert set(jwk) == {"kty", "crv", "x", "y"}
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
    assert len(jwk["x"]) == len(jwk["y"]) == 43 and "=" not in jwk["x"] + jwk["y"]
    restored = public_key_from_jwk(jwk)
    assert restored.public_numbers() == KEY.public_key.public_numbers()
    assert kid_for(restored) == KEY.kid
    assert verify_token(sign_token(claims(), KEY), lambda kid: restored, NOW) == claims()


@pytest.mark.parametrize(
    "change",
    [
        {"kty": "RSA"},
        {"crv": "P-384"},
        {"x": "AAAA"},  # too short
        {"y": "A" * 43},  # not on the curve
        {"x": "!" * 43},  # not base64url
        {"x": None},
    ],
)
def test_bad_jwk_is_refused(change):
    jwk = {**public_jwk(KEY.public_key), **change}
    with pytest.raises(ValueError):
        public_key_from_jwk(jwk)


def test_signing_key_repr_does_not_show_the_private_key():
    assert "private_key" not in repr(KEY)
