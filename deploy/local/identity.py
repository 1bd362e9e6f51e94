"""A stand-in for the wallet identity provider on the embedded stack.

In production the wallet app's identity provider issues holders and representatives a bearer
token (JWT, ES256) and publishes its P-256 public key; the core only verifies (tokens/wallet_auth.py).
Locally there is no such provider, so the stack makes one key pair under
`<data_dir>/identity/` and hands the core the public half; the demo plays the wallet app and
mints its holder's token with the private half.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

PRIVATE_KEY_NAME = "wallet-issuer.pem"
PUBLIC_KEY_NAME = "wallet-issuer.pub.pem"
#: The `iss` of tokens minted here; the core does not check it (it trusts the key, not a name).
LOCAL_ISSUER = "ata-local-wallet"


def identity_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "identity"


def private_key_path(data_dir: Path) -> Path:
    return identity_dir(data_dir) / PRIVATE_KEY_NAME


def public_key_path(data_dir: Path) -> Path:
    return identity_dir(data_dir) / PUBLIC_KEY_NAME


def ensure_wallet_issuer(data_dir: Path) -> Path:
    """Create the issuer's P-256 key pair once (private key mode 0600); return the public key's path.

    A second call, or a second stack on the same data dir, keeps the existing pair, so tokens
    minted earlier stay valid across restarts.
    """
    private, public = private_key_path(data_dir), public_key_path(data_dir)
    ensure_p256_key(private)
    if not public.exists():
        key = load_private_key(private)
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        tmp = public.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pem)
        tmp.replace(public)
    return public


def ensure_p256_key(private: Path) -> Path:
    """Create a P-256 private key file once (mode 0600); an existing one is kept."""
    private.parent.mkdir(parents=True, exist_ok=True)
    if not private.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # O_EXCL: two stacks racing on one data dir must not each write half a key.
        try:
            fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    return private


def vapid_key_path(data_dir: Path) -> Path:
    """The notifier's VAPID key (RFC 8292) on the embedded stack: the application server's Web Push identity."""
    return Path(data_dir) / "keys" / "vapid.pem"


def mint_wallet_token(
    private_key_path: Path,
    party_id: str,
    audience: str = "ata-core",
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    issuer: str = LOCAL_ISSUER,
) -> str:
    """A bearer token for `party_id` (the wallet id a carnet names as holder or representative)."""
    issued = (now or datetime.now(UTC)).replace(microsecond=0)
    claims = {
        "iss": issuer,
        "sub": party_id,
        "aud": audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, load_private_key(Path(private_key_path)), algorithm="ES256")


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path} is not a P-256 private key")
    return key
