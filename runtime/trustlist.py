"""The signed trust list: which keys sign declaration tokens, signed in turn by a trust anchor.

Gateways hold only the anchor's public key; every other key reaches them in a list the anchor
signed, so nobody who can merely write to the topic can make a gateway trust a key.

The signed bytes (construction ATA-TL-2): the RFC 8785 canonical JSON (contracts.canonical.JCS) of
{"construction": "ATA-TL-2", "sequence", "issued_at" (ISO 8601), "keys" (ordered by kid)}. The
construction is inside the signed bytes, so a list cannot be replayed under the other one. ATA-TL-1,
the one before (Python's sorted-key compact JSON with ASCII escapes, no construction member), still
verifies for lists that name it (or name none).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from contracts.canonical import JCS, LEGACY_ASCII, canonical_json
from contracts.messages import TrustedKey, TrustListPublished
from runtime.cose import SigningKey, kid_for, load_or_create_signing_key


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.stem + ".pub.pem")


def ensure_anchor(private_path: Path) -> SigningKey:
    """The anchor's key pair, created once; its public half is written next to it for the gateways."""
    anchor = load_or_create_signing_key(private_path)
    public = public_path(private_path)
    if not public.exists():
        pem = anchor.public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        tmp = public.with_name(f".{public.name}.{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.replace(public)
    return anchor


def load_anchor_public(path: Path | None) -> ec.EllipticCurvePublicKey:
    if path is None:
        raise TrustListError("no trust anchor configured: set ATA_TRUST_ANCHOR_PUBLIC_KEY_PATH to the anchor's public key")
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise TrustListError(f"cannot read the trust anchor's public key at {path}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TrustListError(f"{path} is not a P-256 public key")
    return key


class TrustListError(ValueError):
    pass


CONSTRUCTION = "ATA-TL-2"


def canonical(sequence: int, issued_at: datetime, keys: Iterable[TrustedKey], construction: str = CONSTRUCTION) -> bytes:
    """The signed bytes, keys ordered by kid, so signer and verifier agree (module docstring)."""
    body = {"sequence": sequence, "issued_at": issued_at.isoformat(),
            "keys": [k.model_dump(mode="json") for k in sorted(keys, key=lambda k: k.kid)]}
    if construction == CONSTRUCTION:
        return canonical_json({"construction": construction, **body}, JCS)
    if construction == "ATA-TL-1":
        return canonical_json(body, LEGACY_ASCII)
    raise TrustListError(f"unknown trust list construction {construction!r}")


def sign(sequence: int, issued_at: datetime, keys: list[TrustedKey], anchor: SigningKey) -> TrustListPublished:
    der = anchor.private_key.sign(canonical(sequence, issued_at, keys), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return TrustListPublished(sequence=sequence, issued_at=issued_at, keys=sorted(keys, key=lambda k: k.kid),
                              anchor_kid=anchor.kid.hex(), signature=base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
                              construction=CONSTRUCTION)


def verify(message: TrustListPublished, anchor: ec.EllipticCurvePublicKey) -> list[TrustedKey]:
    """The keys, if the anchor signed exactly this list; TrustListError otherwise."""
    if message.anchor_kid != kid_for(anchor).hex():
        raise TrustListError(f"trust list signed by anchor {message.anchor_kid}, not by the configured anchor")
    try:
        raw = base64.urlsafe_b64decode(message.signature + "=" * (-len(message.signature) % 4))
    except ValueError as exc:
        raise TrustListError("trust list signature is not base64url") from exc
    if len(raw) != 64:
        raise TrustListError("trust list signature must be 64 bytes (ES256 r||s)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        anchor.verify(der, canonical(message.sequence, message.issued_at, message.keys, message.construction),
                      ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise TrustListError("trust list signature does not verify") from exc
    return list(message.keys)
