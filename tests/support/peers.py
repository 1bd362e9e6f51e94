"""Real protocol peers for the notifier's tests, written from the specifications, not from the code under test.

* `PushService`: an RFC 8030 push service on localhost. It checks the RFC 8292 VAPID header (ES256 JWT
  verified with the `k` key, `aud` = its own origin, `exp` in the future and at most 24 h ahead by the
  test's clock, `sub` a contact) and plays the user agent: it decrypts the RFC 8291 aes128gcm body with
  the subscription's private key and auth secret (`decrypt`, below, follows RFC 8291 section 3.4 and
  RFC 8188 step by step with `cryptography`).
* `HookReceiver`: a Standard Webhooks receiver that verifies with the `standardwebhooks` reference
  package, its 5-minute timestamp tolerance judged by the test's clock.

Both are real HTTP servers (uvicorn) and answer the status codes a test queues.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

import uvicorn
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from deploy.local.webhook_receiver import read_body


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- RFC 8291 / RFC 8188, the user agent's side ------------------------------------------------------


def _hkdf_extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _hkdf_expand(prk: bytes, info: bytes, length: int) -> bytes:
    # One block is enough for every length RFC 8291 asks for (at most 32 bytes).
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


class DecryptError(ValueError):
    pass


def decrypt(body: bytes, ua_private: ec.EllipticCurvePrivateKey, auth_secret: bytes) -> bytes:
    """RFC 8291 section 3.4 key derivation, RFC 8188 section 2 record format."""
    if len(body) < 21:
        raise DecryptError("shorter than the aes128gcm header")
    salt, rs, idlen = body[:16], struct.unpack("!I", body[16:20])[0], body[20]
    keyid, records = body[21 : 21 + idlen], body[21 + idlen :]
    if idlen != 65:
        raise DecryptError(f"keyid must be the 65-byte application server public key, got {idlen} bytes")
    if rs < 18:
        raise DecryptError("record size too small")
    as_public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), keyid)
    ua_public = ua_private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    ecdh_secret = ua_private.exchange(ec.ECDH(), as_public)
    prk_key = _hkdf_extract(auth_secret, ecdh_secret)
    ikm = _hkdf_expand(prk_key, b"WebPush: info\x00" + ua_public + keyid, 32)
    prk = _hkdf_extract(salt, ikm)
    cek = _hkdf_expand(prk, b"Content-Encoding: aes128gcm\x00", 16)
    nonce = _hkdf_expand(prk, b"Content-Encoding: nonce\x00", 12)
    plaintext = b""
    chunks = [records[i : i + rs] for i in range(0, len(records), rs)]
    for seq, chunk in enumerate(chunks):
        iv = nonce[:4] + (int.from_bytes(nonce[4:], "big") ^ seq).to_bytes(8, "big")
        record = AESGCM(cek).decrypt(iv, chunk, None)
        unpadded = record.rstrip(b"\x00")
        last = seq == len(chunks) - 1
        if not unpadded or unpadded[-1] != (2 if last else 1):
            raise DecryptError("bad padding delimiter")
        plaintext += unpadded[:-1]
    return plaintext


# --- RFC 8292 VAPID, the push service's side --------------------------------------------------------


def check_vapid(authorization: str, origin: str, now: datetime) -> dict[str, Any]:
    """`vapid t=<JWT>, k=<key>` (RFC 8292 section 3); the JWT's claims if everything holds, else ValueError."""
    scheme, _, params = authorization.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"auth scheme {scheme!r} is not vapid")
    fields = dict(p.strip().split("=", 1) for p in params.split(","))
    token, key = fields["t"], unb64u(fields["k"])
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    head, claims, sig = token.split(".")
    if json.loads(unb64u(head)).get("alg") != "ES256":
        raise ValueError("JWT alg is not ES256")
    raw = unb64u(sig)
    if len(raw) != 64:
        raise ValueError("ES256 signature must be 64 bytes (r || s)")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise ValueError("JWT signature does not verify with k") from exc
    c = json.loads(unb64u(claims))
    if c.get("aud") != origin:
        raise ValueError(f"aud {c.get('aud')!r} is not {origin!r}")
    if not now.timestamp() < c["exp"] <= now.timestamp() + 86400:
        raise ValueError("exp is not within the next 24 hours")
    if not str(c.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError("sub is not a contact")
    return {**c, "k": fields["k"]}


@dataclass
class Subscription:
    """A browser's push subscription: its key pair and auth secret, and the push resource."""

    path: str
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def keys(self) -> dict[str, str]:
        point = self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64u(point), "auth": b64u(self.auth)}


class _Server:
    """A uvicorn server on a free localhost port; subclasses answer `handle`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.response_headers = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    #: Headers of every answer (a redirect's Location); set per instance.
    response_headers: list[tuple[bytes, bytes]]

    async def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        raise NotImplementedError

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        status = await self.handle(scope["path"], {k.decode().lower(): v.decode() for k, v in scope["headers"]}, body)
        await send({"type": "http.response.start", "status": status, "headers": self.response_headers})
        await send({"type": "http.response.body", "body": b""})

    async def __aenter__(self) -> Self:
        self._server = uvicorn.Server(
            uvicorn.Config(self, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        )
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.02)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None
        self._server.should_exit = True
        self._server.force_exit = True
        await self._task


class StatusServer(_Server):
    """Answers every request with one status code and keeps the request headers."""

    def __init__(self, status: int) -> None:
        super().__init__()
        self.status = status
        self.requests: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return self.origin + "/hook"

    async def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        self.requests.append(headers)
        return self.status


class RedirectServer(StatusServer):
    """Answers every request with a redirect to `location` (which a sender must not follow)."""

    def __init__(self, location: str, status: int = 307) -> None:
        super().__init__(status)
        self.response_headers = [(b"location", location.encode())]


class PushService(_Server):
    """Answers 201 to a well-formed push message (RFC 8030 section 5), or what `status` says for a path."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        super().__init__()
        self.clock = clock
        self.subscriptions: dict[str, Subscription] = {}
        self.status: dict[str, int] = {}
        self.received: list[dict[str, Any]] = []
        self.refused: list[str] = []

    def subscribe(self) -> tuple[Subscription, dict[str, Any]]:
        """A new subscription, and what the browser's `PushSubscription.toJSON()` would give the app."""
        sub = Subscription(f"/wpush/{b64u(os.urandom(12))}")
        self.subscriptions[sub.path] = sub
        return sub, {"endpoint": self.origin + sub.path, "expirationTime": None, "keys": sub.keys()}

    async def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        sub = self.subscriptions.get(path)
        if sub is None:
            return 404
        if path in self.status:
            return self.status[path]
        try:
            claims = check_vapid(headers.get("authorization", ""), self.origin, self.clock())
        except (ValueError, KeyError) as exc:
            self.refused.append(f"VAPID: {type(exc).__name__}: {exc}")
            return 403  # RFC 8292 section 4.2: an invalid JWT
        try:
            if headers.get("content-encoding") != "aes128gcm":
                raise ValueError("Content-Encoding is not aes128gcm")
            ttl = int(headers["ttl"])  # RFC 8030 section 5.2: required
            plaintext = decrypt(body, sub.private, sub.auth)
        except (ValueError, KeyError) as exc:
            self.refused.append(f"message: {type(exc).__name__}: {exc}")
            return 400
        self.received.append(
            {
                "path": path,
                "claims": claims,
                "ttl": ttl,
                "urgency": headers.get("urgency"),
                "topic": headers.get("topic"),
                "message": json.loads(plaintext),
                "size": len(body),
            }
        )
        return 201


class HookReceiver(_Server):
    """A Standard Webhooks receiver; answers the queued statuses in turn (the last one repeats), 401 if
    the signature or the timestamp does not verify. `hang_s` makes it answer only after that long."""

    def __init__(self, secret: str | None = None, statuses: tuple[int, ...] = (204,), hang_s: float = 0.0) -> None:
        super().__init__()
        self.secret = secret
        self.statuses = list(statuses)
        self.hang_s = hang_s
        self.verified: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.rejected: list[str] = []

    @property
    def url(self) -> str:
        return self.origin + "/hooks/ata"

    async def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        self.headers.append(headers)
        if self.hang_s:
            await asyncio.sleep(self.hang_s)
        if not self.secret:
            self.rejected.append("no secret to verify with")
            return 401
        try:
            message = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, ValueError) as exc:
            self.rejected.append(str(exc))
            return 401
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if 200 <= status < 300:
            self.verified.append(message)  # verified and accepted
        return status


def clocked_standardwebhooks(monkeypatch: Any, clock: Callable[[], datetime]) -> None:
    """The reference package reads `datetime.now` for its tolerance: make that the test's clock."""
    import datetime as dt

    import standardwebhooks.webhooks as sw

    class _Clocked(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> dt.datetime:  # type: ignore[override]
            return clock()

    monkeypatch.setattr(sw, "datetime", _Clocked)
