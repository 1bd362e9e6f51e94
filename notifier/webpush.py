"""Web Push requests: RFC 8291 message encryption (aes128gcm, RFC 8188) and RFC 8292 VAPID, for RFC 8030.

Building a request is pure (no network): encryption comes from `http_ece` and the VAPID JWT from
`py_vapid`, both kept by the Web Push library authors; sending is the delivery worker's job.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

#: RFC 8292 section 2: the JWT must not be valid for more than 24 hours; half a day leaves room for clock skew.
VAPID_LIFETIME = timedelta(hours=12)
#: RFC 8291 section 4: push services must accept 4096 bytes of encrypted body. aes128gcm adds a 86-byte
#: header (salt, record size, the 65-byte key id), a 16-byte tag and one padding delimiter byte.
MAX_PLAINTEXT = 4096 - 86 - 16 - 1
URGENCIES = ("very-low", "low", "normal", "high")


class VapidConfigError(RuntimeError):
    """Web Push cannot run: the VAPID key is missing or not a P-256 private key."""


class SubscriptionKeyError(ValueError):
    """A subscription's p256dh or auth value is not what RFC 8291 requires."""


class PayloadTooLarge(ValueError):
    """The message does not fit in one push message (RFC 8291 section 4)."""


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check_subscription_keys(p256dh: str, auth: str) -> tuple[bytes, bytes]:
    """p256dh: an uncompressed P-256 point (65 bytes); auth: a 16-byte secret; both base64url."""
    try:
        dh, secret = b64url_decode(p256dh), b64url_decode(auth)
    except (ValueError, TypeError) as exc:
        raise SubscriptionKeyError(f"p256dh and auth must be base64url: {exc}") from exc
    if len(secret) != 16:
        raise SubscriptionKeyError(f"auth must be 16 bytes, got {len(secret)}")
    if len(dh) != 65 or dh[0] != 4:
        raise SubscriptionKeyError("p256dh must be an uncompressed P-256 point (65 bytes starting 0x04)")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), dh)
    except ValueError as exc:
        raise SubscriptionKeyError("p256dh is not a point on P-256") from exc
    return dh, secret


def origin(endpoint: str) -> str:
    """RFC 8292 section 2: the JWT's `aud` is the push resource's origin (scheme, host, port if not default)."""
    parts = urlsplit(endpoint)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port and parts.port != default else "")


def topic_for(key: str) -> str:
    """RFC 8030 section 5.4: at most 32 base64url characters. A newer message with the same topic
    replaces an undelivered older one at the push service, so a retry never shows twice."""
    return b64url(hashlib.sha256(key.encode()).digest()[:24])


@dataclass(frozen=True)
class Vapid:
    """The application server's VAPID identity: a P-256 key and a contact (`mailto:` or `https:`)."""

    signer: Vapid02
    subject: str

    @classmethod
    def load(cls, path: Path, subject: str) -> Vapid:
        try:
            key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise VapidConfigError(f"cannot read the VAPID private key {path}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise VapidConfigError(f"{path} is not a P-256 private key (VAPID signs with ES256)")
        if not subject.startswith(("mailto:", "https:")):
            raise VapidConfigError("the VAPID subject must be a mailto: or https: contact")
        return cls(Vapid02(private_key=key), subject)

    @property
    def application_server_key(self) -> str:
        """What a browser passes to `pushManager.subscribe` as `applicationServerKey` (base64url point)."""
        return b64url(
            self.signer.public_key.public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def authorization(self, endpoint: str, now: datetime) -> str:
        claims = {"aud": origin(endpoint), "exp": int((now + VAPID_LIFETIME).timestamp()), "sub": self.subject}
        return self.signer.sign(claims)["Authorization"]


def build_request(
    vapid: Vapid,
    endpoint: str,
    p256dh: str,
    auth: str,
    payload: bytes,
    *,
    now: datetime,
    ttl_s: int,
    urgency: str,
    topic: str,
) -> tuple[dict[str, str], bytes]:
    """Headers and encrypted body of one push message; a fresh ephemeral key and salt every call (RFC 8291 s. 3.4)."""
    if len(payload) > MAX_PLAINTEXT:
        raise PayloadTooLarge(f"{len(payload)} bytes, at most {MAX_PLAINTEXT} fit in a push message")
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {URGENCIES}")
    dh, secret = check_subscription_keys(p256dh, auth)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    body = http_ece.encrypt(
        payload, salt=os.urandom(16), private_key=ephemeral, dh=dh, auth_secret=secret, version="aes128gcm"
    )
    headers = {
        "Authorization": vapid.authorization(endpoint, now),
        "Content-Encoding": "aes128gcm",
        "Content-Type": "application/octet-stream",
        "TTL": str(ttl_s),
        "Urgency": urgency,
        "Topic": topic,
    }
    return headers, body
