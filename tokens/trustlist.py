"""The signed trust list: which keys sign declaration tokens, signed in turn by a trust anchor.

Gateways hold only the anchor's public key; every other key reaches them in a list the anchor
signed, so nobody who can merely write to the topic can make a gateway trust a key.

The signed object (construction ATA-TL-3): an RFC 7515 compact JWS, ES256, through PyJWT, with the
protected header {"alg": "ES256", "kid": <anchor kid, hex>, "typ": "ata-trust-list+json"} and as
payload the RFC 8785 canonical JSON (contracts.canonical.JCS) of {"construction": "ATA-TL-3",
"sequence", "issued_at" (ISO 8601), "keys" (ordered by kid)}. Any JOSE library verifies it with the
anchor's public key; the gateway also requires alg ES256, the anchor's kid, and a payload equal to
the canonical JSON of the message's own fields, so what it reads is what the anchor signed.

The constructions before it still verify for lists that name them, during their deprecation:
ATA-TL-2 signs the same canonical JSON (naming "ATA-TL-2") with a detached raw r||s signature;
ATA-TL-1 (named, or no construction at all) Python's sorted-key compact JSON with ASCII escapes.
The construction is inside the signed bytes, so a list cannot be replayed under another one.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from contracts.canonical import JCS, LEGACY_ASCII, canonical_json
from contracts.messages import TrustedKey, TrustListPublished
from tokens.cose import SigningKey, kid_for, load_or_create_signing_key


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.stem + ".pub.pem")


def ensure_anchor(private_path: Path) -> SigningKey:
    """The anchor's key pair, created once; its public half is written next to it for the gateways."""
    anchor = load_or_create_signing_key(private_path)
    public = public_path(private_path)
    if not public.exists():
        pem = anchor.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        tmp = public.with_name(f".{public.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.replace(public)
    return anchor


def load_anchor_public(path: Path | None) -> ec.EllipticCurvePublicKey:
    if path is None:
        raise TrustListError(
            "no trust anchor configured: set ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH to the anchor's public key"
        )
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise TrustListError(f"cannot read the trust anchor's public key at {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TrustListError(f"{path} is not a P-256 public key")
    return key


class TrustListError(ValueError):
    pass


CONSTRUCTION = "ATA-TL-3"
#: The JWS `typ` (RFC 7515 4.1.9, the media type without "application/"): says what the payload is.
JWS_TYPE = "ata-trust-list+json"
_JWS = jwt.PyJWS(algorithms=["ES256"])


def canonical(
    sequence: int, issued_at: datetime, keys: Iterable[TrustedKey], construction: str = CONSTRUCTION
) -> bytes:
    """The signed bytes (the JWS payload under ATA-TL-3), keys ordered by kid, so signer and verifier agree."""
    body = {
        "sequence": sequence,
        "issued_at": issued_at.isoformat(),
        "keys": [k.model_dump(mode="json") for k in sorted(keys, key=lambda k: k.kid)],
    }
    if construction in (CONSTRUCTION, "ATA-TL-2"):
        return canonical_json({"construction": construction, **body}, JCS)
    if construction == "ATA-TL-1":
        return canonical_json(body, LEGACY_ASCII)
    raise TrustListError(f"unknown trust list construction {construction!r}")


def sign(sequence: int, issued_at: datetime, keys: list[TrustedKey], anchor: SigningKey) -> TrustListPublished:
    """The list as an ATA-TL-3 compact JWS signed by the anchor (module docstring)."""
    compact = _JWS.encode(
        canonical(sequence, issued_at, keys),
        anchor.private_key,
        algorithm="ES256",
        headers={"kid": anchor.kid.hex(), "typ": JWS_TYPE},
    )
    return TrustListPublished(
        sequence=sequence,
        issued_at=issued_at,
        keys=sorted(keys, key=lambda k: k.kid),
        anchor_kid=anchor.kid.hex(),
        signature=compact.rsplit(".", 1)[1],
        jws=compact,
        construction=CONSTRUCTION,
    )


def verify(message: TrustListPublished, anchor: ec.EllipticCurvePublicKey) -> list[TrustedKey]:
    """The keys, if the anchor signed exactly this list; TrustListError otherwise."""
    anchor_kid = kid_for(anchor).hex()
    if message.anchor_kid != anchor_kid:
        raise TrustListError(f"trust list signed by anchor {message.anchor_kid}, not by the configured anchor")
    if message.construction == CONSTRUCTION:
        _verify_jws(message, anchor, anchor_kid)
    elif message.jws is not None:
        raise TrustListError(f"a {message.construction} trust list carries no JWS")
    else:
        _verify_detached(message, anchor)
    return list(message.keys)


def _verify_jws(message: TrustListPublished, anchor: ec.EllipticCurvePublicKey, anchor_kid: str) -> None:
    if message.jws is None:
        raise TrustListError(f"an {CONSTRUCTION} trust list carries its JWS")
    try:
        header = _JWS.get_unverified_header(message.jws)
        if header.get("alg") != "ES256" or header.get("kid") != anchor_kid:
            raise TrustListError(
                f"trust list JWS header names alg {header.get('alg')!r} and kid {header.get('kid')!r},"
                f" not ES256 and the anchor {anchor_kid}"
            )
        payload = _JWS.decode(message.jws, anchor, algorithms=["ES256"])
    except jwt.InvalidTokenError as exc:
        raise TrustListError(f"trust list JWS does not verify: {exc}") from exc
    if payload != canonical(message.sequence, message.issued_at, message.keys):
        raise TrustListError("trust list fields differ from the JWS payload the anchor signed")
    if message.signature != message.jws.rsplit(".", 1)[1]:
        raise TrustListError("trust list signature is not the JWS signature")


def _verify_detached(message: TrustListPublished, anchor: ec.EllipticCurvePublicKey) -> None:
    """ATA-TL-2 and ATA-TL-1: a raw r||s signature over the canonical bytes."""
    try:
        raw = base64.urlsafe_b64decode(message.signature + "=" * (-len(message.signature) % 4))
    except ValueError as exc:
        raise TrustListError("trust list signature is not base64url") from exc
    if len(raw) != 64:
        raise TrustListError("trust list signature must be 64 bytes (ES256 r||s)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        anchor.verify(
            der,
            canonical(message.sequence, message.issued_at, message.keys, message.construction),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature as exc:
        raise TrustListError("trust list signature does not verify") from exc
