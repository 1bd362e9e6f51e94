"""Who is calling a wallet-facing API (the core's holder API, the notifier's recipient API): a bearer
token from the wallet identity provider.

Holders and representatives sign in to their wallet app; its identity provider issues them a
JWT signed with ES256 (P-256), `sub` being the party's wallet id, the id a carnet names as
holder or representative. The core and the notifier only verify: the provider's public key comes
from settings (`ATA_WALLET_ISSUER_PUBLIC_KEY_PATH`), and expiry is judged by the service's injected
clock, never the wall clock, so tests and the ledger agree on what "now" is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from runtime.clock import Clock
from runtime.text import IDENTIFIER

ALGORITHM = "ES256"
#: Allowed difference between the identity provider's clock and ours.
DEFAULT_LEEWAY = timedelta(seconds=30)
#: Wallet ids are short opaque strings ("hld_7f3a9c"); anything longer did not come from a wallet.
MAX_PARTY_ID = 64
#: A JWT of a few claims is a few hundred characters; refuse huge headers before parsing.
MAX_TOKEN_CHARS = 4096
#: Verified tokens remembered (by SHA-256 digest) so a wallet's next requests skip the ES256 verification;
#: a token is an hour's sign-in, so this covers every wallet active in the last hour on a busy instance.
VERIFIED_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class _Verified:
    sub: str
    exp: float
    not_before: float


_PARTY_ID = re.compile(IDENTIFIER)


class WalletConfigError(RuntimeError):
    """The holder API cannot run: no usable identity provider key."""


class WalletTokenError(Exception):
    """A bearer token that must not be accepted; `reason` is stable for metrics and clients."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


#: Every reason a token is refused, for metrics (bounded label values) and documentation.
REASONS = ("missing", "malformed", "bad_signature", "wrong_audience", "expired", "not_yet_valid")


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as exc:
        raise WalletConfigError(f"cannot read the wallet issuer public key {path}: {exc}") from exc
    except ValueError as exc:
        raise WalletConfigError(f"{path} is not a PEM public key: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise WalletConfigError(f"{path} is not a P-256 public key (the wallet tokens are ES256)")
    return key


class WalletVerifier:
    """Verifies wallet bearer tokens; `verify(token)` gives the party (wallet) id."""

    def __init__(
        self, public_key: ec.EllipticCurvePublicKey, audience: str, clock: Clock, leeway: timedelta = DEFAULT_LEEWAY
    ) -> None:
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(public_key.curve, ec.SECP256R1):
            raise WalletConfigError("the wallet issuer key must be a P-256 public key")
        self.public_key = public_key
        self.audience = audience
        self.clock = clock
        self.leeway = leeway.total_seconds()
        self._verified: dict[bytes, _Verified] = {}
        #: Told "cache" or "signature" for each token accepted or checked (a metric, typically).
        self.observe: Callable[[str], None] = lambda _: None

    @classmethod
    def from_settings(cls, path: Path | None, audience: str, clock: Clock) -> WalletVerifier:
        if path is None:
            raise WalletConfigError(
                "the holder API needs the wallet identity provider's public key: set "
                "ATA_WALLET_ISSUER_PUBLIC_KEY_PATH to its P-256 PEM file (the embedded stack makes one "
                "under <data_dir>/identity/)"
            )
        return cls(load_public_key(path), audience, clock)

    def verify(self, token: str) -> str:
        """The token's wallet id. A token verified before is trusted from the cache until its own expiry: the
        signature cannot change, only time can, and the times are judged again on every call."""
        if not token:
            raise WalletTokenError("missing", "no bearer token")
        if len(token) > MAX_TOKEN_CHARS:
            raise WalletTokenError("malformed", "the bearer token is too long")
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        known = self._verified.get(digest)
        if known is None:
            self.observe("signature")
            known = self._check_signature(token)
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[digest] = known
        else:
            self.observe("cache")
        now = self.clock().timestamp()
        if known.exp <= now - self.leeway:
            self._verified.pop(digest, None)
            raise WalletTokenError("expired", "the token has expired: sign in to the wallet again")
        if known.not_before > now + self.leeway:
            raise WalletTokenError("not_yet_valid", "the token is not valid yet (issued in the future)")
        return known.sub

    def _check_signature(self, token: str) -> _Verified:
        try:
            # PyJWT checks the signature, the algorithm and the audience; times are ours, against
            # the injected clock (PyJWT would read the wall clock).
            claims: dict[str, Any] = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "aud", "iat", "exp"],
                },
            )
        except jwt.InvalidAudienceError as exc:
            raise WalletTokenError(
                "wrong_audience", f"the token is not for this service (audience {self.audience!r})"
            ) from exc
        except jwt.MissingRequiredClaimError as exc:
            raise WalletTokenError("malformed", f"the token has no {exc.claim!r} claim") from exc
        except jwt.InvalidSignatureError as exc:
            raise WalletTokenError(
                "bad_signature", "the token's signature does not verify with the wallet issuer key"
            ) from exc
        except jwt.InvalidAlgorithmError as exc:
            raise WalletTokenError("bad_signature", f"the token is not signed with {ALGORITHM}") from exc
        except jwt.InvalidTokenError as exc:
            raise WalletTokenError("malformed", f"the bearer token is not a valid JWT: {exc}") from exc
        exp, iat, nbf = _number(claims, "exp"), _number(claims, "iat"), claims.get("nbf")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or len(sub) > MAX_PARTY_ID or not _PARTY_ID.fullmatch(sub):
            # A wallet id is stored and compared in PostgreSQL, which refuses NUL: checked here, not a 500 there.
            raise WalletTokenError(
                "malformed",
                f"the token's subject must be a wallet id of 1-{MAX_PARTY_ID} "
                "characters, none of them a control character",
            )
        return _Verified(sub, exp, max(iat, _number(claims, "nbf") if nbf is not None else iat))


def observe_checks(verifier: WalletVerifier, registry: Any) -> None:
    """Count how each bearer token was checked: the cache's hit rate is the ES256 work it saves."""
    from prometheus_client import Counter

    checks = Counter(
        "ata_wallet_token_checks_total",
        "Wallet bearer tokens checked, by how: 'signature' (ES256 "
        "verification) or 'cache' (verified before, times judged again).",
        ["how"],
        registry=registry,
    )
    verifier.observe = lambda how: checks.labels(how).inc()


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WalletTokenError("malformed", f"the token's {name!r} claim is not a NumericDate")
    return float(value)


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="WalletToken",
    bearerFormat="JWT",
    description="ES256 JWT from the wallet identity provider; `sub` is the holder's or representative's wallet id.",
)


class CurrentParty:
    """FastAPI dependency: the authenticated party's wallet id, or 401 with `WWW-Authenticate: Bearer`.

    Checked from the header alone, before the route's body is read (runtime.http_limits.LimitedRoute runs
    `__before_body__`), and once per request. `on_failure(reason)` is called for every refused token (a
    metric, typically).
    """

    def __init__(
        self, verifier: WalletVerifier, on_failure: Callable[[str], None] = lambda _: None, realm: str = "ata-core"
    ) -> None:
        self.realm = realm
        self.verifier = verifier
        self.on_failure = on_failure
        self._key = f"ata.wallet_party.{id(self)}"

    async def __call__(
        self, request: Request, _credentials: HTTPAuthorizationCredentials | None = Security(_bearer)
    ) -> str:
        return await self.__before_body__(request)

    async def __before_body__(self, request: Request) -> str:
        if self._key not in request.scope:
            request.scope[self._key] = self._party(request.headers.get("authorization"))
        return request.scope[self._key]  # type: ignore[no-any-return]

    def _party(self, authorization: str | None) -> str:
        scheme, token = get_authorization_scheme_param(authorization)
        try:
            if not authorization or scheme.lower() != "bearer" or not token:
                raise WalletTokenError("missing", "send `Authorization: Bearer <wallet token>`")
            return self.verifier.verify(token)
        except WalletTokenError as exc:
            self.on_failure(exc.reason)
            challenge = (
                f'Bearer realm="{self.realm}"'
                if exc.reason == "missing"
                else (f'Bearer realm="{self.realm}", error="invalid_token", error_description="{exc.reason}"')
            )
            raise HTTPException(
                401,
                detail={
                    "reasons": [
                        {"rule": "auth", "field": "Authorization", "item_number": None, "message": exc.message}
                    ],
                    "reason": exc.reason,
                },
                headers={"WWW-Authenticate": challenge},
            ) from exc
