"""COSE_Sign1 / ES256 tokens in the EU Digital COVID Certificate layout (ARCHITECTURE.md, "Tokens and keys").

Wire format: ``PREFIX + Base45(zlib?(COSE_Sign1(CBOR claims)))``. This module knows nothing about
carnets: the claims are an int-keyed CWT map (RFC 8392) that callers fill and interpret.
Every failure to verify is a ``TokenError`` with a stable ``reason`` string, because the gateway
reports reasons to officers and metrics; library exceptions from the decoders never escape.

Why our own COSE_Sign1 code rather than a COSE library (measured 2026-12-02, 2 shared cores, load average 6 to 8):
``.venv/bin/python -m bench.cose_libraries --rounds 7 --number 2000`` compares it with pycose 1.1.0, ES256, the
claims of tests/vectors/tokens/01, runs alternated; ours includes Base45 and zlib, pycose the COSE_Sign1 alone.

* Vectors: pycose agrees with us on every committed vector's signature, builds byte-identical protected header and
  payload, verifies our tokens and we verify its (tests/unit/test_cose_interop.py keeps proving it).
* Speed, median (best) per second: sign, ours 4,169 (5,303) against pycose 603 (745); verify, the gateway's hot
  path, ours 3,249 (4,507) against pycose 255 (285): about 13 times slower. pycose does ECDSA in pure Python
  (python-ecdsa, which does not claim side-channel resistance), where we call OpenSSL through ``cryptography``.
* pycose 1.1.0 cannot decode a tagged message under cbor2 6 (a tag's array comes as a tuple, its maps as
  frozendicts); ``cwt`` 3.3.0, the other maintained one, requires cbor2 < 6, and we need 6 (duplicate keys refused).
So the COSE layer stays here; CBOR and Base45 are libraries (cbor2, base45), the crypto is ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

PREFIX = "ATA1:"

# CWT claim keys, RFC 8392 section 3.1.
CWT_ISS = 1
CWT_EXP = 4
CWT_IAT = 6
CWT_CTI = 7

_COSE_SIGN1_TAG = 18
_HEADER_ALG = 1
_HEADER_KID = 4
_ALG_ES256 = -7
_P256_COORDINATE_BYTES = 32
_SIGNATURE_BYTES = 2 * _P256_COORDINATE_BYTES

# A clock skew allowance: a phone whose clock runs a little fast must not produce tokens
# that every gateway refuses.
_IAT_LEEWAY_SECONDS = 300

# Bounds on untrusted input. A QR code holds at most 4,296 alphanumeric characters, so anything
# longer did not come from one; the decompression cap stops a zlib bomb from eating memory.
_MAX_TOKEN_CHARS = 4296
_MAX_COSE_BYTES = 64 * 1024
_CBOR_MAX_DEPTH = 16

# First bytes that tell the two payload forms apart without a flag (the DCC convention):
# zlib with the default 32 KiB window always starts 0x78, a tagged COSE_Sign1 always 0xD2.
_ZLIB_FIRST_BYTE = 0x78
_COSE_SIGN1_FIRST_BYTE = 0xD2


class TokenError(ValueError):
    """A token that must not be accepted; ``reason`` is stable for logs, metrics and API errors."""

    reason = "invalid"


class TokenFormatError(TokenError):
    reason = "malformed"


class UnknownKeyError(TokenError):
    reason = "unknown_kid"


class BadSignatureError(TokenError):
    reason = "bad_signature"


class TokenExpiredError(TokenError):
    reason = "expired"


class TokenNotYetValidError(TokenError):
    reason = "not_yet_valid"


@dataclass(frozen=True)
class SigningKey:
    kid: bytes
    private_key: ec.EllipticCurvePrivateKey = field(repr=False)

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()


def kid_for(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """Key id as in the EU DCC: derived from the key, so issuer and verifiers never need to agree on names."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()[:8]


def generate_signing_key() -> SigningKey:
    private_key = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(kid=kid_for(private_key.public_key()), private_key=private_key)


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Load the PEM (PKCS#8) key at ``path``, creating it on first use.

    Several replicas may start at once against a shared volume: each writes a complete key
    to its own temporary file and hard-links it into place. ``os.link`` fails if the name
    exists, so exactly one key wins and every process then reads that one.
    """
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = generate_signing_key().private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, path)
            except FileExistsError:
                pass  # another process won the race; use its key
        finally:
            temp.unlink(missing_ok=True)

    private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(private_key.curve, ec.SECP256R1):
        raise ValueError(f"{path} does not hold a P-256 private key (ES256 needs one)")
    return SigningKey(kid=kid_for(private_key.public_key()), private_key=private_key)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    # urlsafe_b64decode silently drops characters outside the alphabet; a JWK from a trust
    # list should be exact, so validate first.
    if not isinstance(text, str) or not text or any(not (c.isascii() and (c.isalnum() or c in "-_")) for c in text):
        raise ValueError("JWK coordinate is not base64url text")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """RFC 7517/7518 EC public JWK, the form the signed trust list publishes."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(_P256_COORDINATE_BYTES, "big")),
        "y": _b64url(numbers.y.to_bytes(_P256_COORDINATE_BYTES, "big")),
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("only EC P-256 JWKs are accepted (ES256)")
    x = _b64url_decode(jwk.get("x", ""))
    y = _b64url_decode(jwk.get("y", ""))
    if len(x) != _P256_COORDINATE_BYTES or len(y) != _P256_COORDINATE_BYTES:
        raise ValueError("JWK coordinates must be 32 bytes each for P-256")
    # Raises ValueError for a point that is not on the curve.
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
    ).public_key()


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    # RFC 9052 section 4.4, with empty external AAD.
    return cbor2.dumps(["Signature1", protected, b"", payload])


def sign_token(claims: dict[int, Any], key: SigningKey) -> str:
    protected = cbor2.dumps({_HEADER_ALG: _ALG_ES256, _HEADER_KID: key.kid})
    payload = cbor2.dumps(claims)
    der = key.private_key.sign(_sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    # COSE wants the fixed-width r||s form, not DER (RFC 9053 section 2.1).
    signature = r.to_bytes(_P256_COORDINATE_BYTES, "big") + s.to_bytes(_P256_COORDINATE_BYTES, "big")
    cose = cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    # Small tokens are mostly signature and random ids, which zlib only makes longer;
    # every byte saved is QR modules saved, so keep whichever is shorter.
    compressed = zlib.compress(cose, 9)
    body = compressed if len(compressed) < len(cose) else cose
    return PREFIX + base45.b45encode(body).decode("ascii")


def _decode_cbor_exactly(data: bytes, what: str) -> Any:
    """Decode one CBOR item that must fill ``data`` completely.

    Trailing bytes and duplicate map keys are refused: both let two parsers read different
    meanings from the same signed bytes.
    """
    stream = io.BytesIO(data)
    try:
        value = cbor2.CBORDecoder(stream, allow_duplicate_keys=False, max_depth=_CBOR_MAX_DEPTH).decode()
    # A decoder fed hostile bytes can fail in more ways than it documents (tag decoders
    # raise ValueError/OverflowError, for instance); all of them mean "malformed".
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise TokenFormatError(f"{what} is not valid CBOR: {exc}") from exc
    if stream.tell() != len(data):
        raise TokenFormatError(f"{what} has trailing bytes after the CBOR item")
    return value


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, _MAX_COSE_BYTES)
    except zlib.error as exc:
        raise TokenFormatError(f"token body is not valid zlib data: {exc}") from exc
    if inflater.unconsumed_tail:
        raise TokenFormatError("token body inflates beyond the size limit")
    if not inflater.eof or inflater.unused_data:
        raise TokenFormatError("token body is truncated or has trailing bytes")
    return out


def _unpack_cose_sign1(cose: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """Return (protected, kid, payload, signature) after structural checks only."""
    message = _decode_cbor_exactly(cose, "COSE message")
    if not isinstance(message, cbor2.CBORTag) or message.tag != _COSE_SIGN1_TAG:
        raise TokenFormatError("token is not a tagged COSE_Sign1")
    parts = message.value
    if not isinstance(parts, (list, tuple)) or len(parts) != 4:
        raise TokenFormatError("COSE_Sign1 must be an array of four items")
    protected, unprotected, payload, signature = parts
    if not isinstance(protected, bytes) or not isinstance(unprotected, Mapping):
        raise TokenFormatError("COSE_Sign1 headers have the wrong types")
    if not isinstance(payload, bytes):
        raise TokenFormatError("COSE_Sign1 payload must be an attached byte string")
    if not isinstance(signature, bytes) or len(signature) != _SIGNATURE_BYTES:
        raise TokenFormatError("ES256 signature must be 64 bytes")
    header = _decode_cbor_exactly(protected, "protected header")
    if not isinstance(header, Mapping):
        raise TokenFormatError("protected header must be a map")
    # Only ES256 is accepted: letting the token choose its algorithm invites downgrade tricks.
    alg = header.get(_HEADER_ALG)
    if type(alg) is not int or alg != _ALG_ES256:
        raise TokenFormatError(f"algorithm must be ES256 (-7), got {alg!r}")
    kid = header.get(_HEADER_KID)
    if not isinstance(kid, bytes) or not kid:
        raise TokenFormatError("protected header lacks a key id")
    return protected, kid, payload, signature


def _int_claim(claims: Mapping[Any, Any], key: int, name: str) -> int | None:
    value = claims.get(key)
    # bool is an int subclass and CBOR tag 1 would arrive as a datetime: both are wrong here.
    if value is not None and type(value) is not int:
        raise TokenFormatError(f"claim {name} must be an integer of epoch seconds")
    return value


def verify_token(
    token: str,
    resolve_key: Callable[[bytes], ec.EllipticCurvePublicKey | None],
    now: datetime,
) -> dict[int, Any]:
    """Verify ``token`` and return its claims map.

    Checks run cheapest-first and nothing from the payload is trusted before the signature
    holds. Every token must carry ``exp``: key rotation retires an old key only once its
    tokens have expired, so a token that never expires would pin its key forever.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise TokenFormatError(f"token must start with {PREFIX!r}")
    text = token[len(PREFIX) :]
    if len(text) > _MAX_TOKEN_CHARS:
        raise TokenFormatError("token is longer than any QR code can hold")
    try:
        body = base45.b45decode(text)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise TokenFormatError(f"token is not valid Base45: {exc}") from exc
    if not body:
        raise TokenFormatError("token is empty")
    if body[0] == _ZLIB_FIRST_BYTE:
        body = _inflate(body)
    elif body[0] != _COSE_SIGN1_FIRST_BYTE:
        raise TokenFormatError("token body is neither zlib data nor a tagged COSE_Sign1")

    protected, kid, payload, signature = _unpack_cose_sign1(body)

    public_key = resolve_key(kid)
    if public_key is None:
        raise UnknownKeyError(f"no public key for kid {kid.hex()}")
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
        raise UnknownKeyError(f"key for kid {kid.hex()} is not a P-256 key")
    der = encode_dss_signature(
        int.from_bytes(signature[:_P256_COORDINATE_BYTES], "big"),
        int.from_bytes(signature[_P256_COORDINATE_BYTES:], "big"),
    )
    try:
        public_key.verify(der, _sig_structure(protected, payload), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise BadSignatureError(f"signature does not verify with kid {kid.hex()}") from exc

    claims = _decode_cbor_exactly(payload, "claims")
    if not isinstance(claims, Mapping):
        raise TokenFormatError("claims must be a CBOR map")
    exp = _int_claim(claims, CWT_EXP, "exp")
    iat = _int_claim(claims, CWT_IAT, "iat")
    if exp is None:
        raise TokenFormatError("token has no exp claim")
    now_s = now.timestamp()
    if exp <= now_s:
        raise TokenExpiredError(f"token expired at {exp} (now {int(now_s)})")
    if iat is not None and iat > now_s + _IAT_LEEWAY_SECONDS:
        raise TokenNotYetValidError(f"token issued in the future at {iat} (now {int(now_s)})")
    return dict(claims)
