"""The keys scans are verified with: the core's signed trust list, and the offline verification of a token."""

from __future__ import annotations

import json
import logging

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ec

from contracts.messages import TrustListPublished
from contracts.token import ClaimsError, DeclarationClaims
from customs_gateway import domain, repository as repo, trust_list_repository as trust_repo
from customs_gateway.domain import Blocked, CommitRefused, KeyWindow
from customs_gateway.usecases.context import Gateway
from runtime.consumer import Inbound
from tokens import trustlist
from tokens.cose import TokenError, verify_token

log = logging.getLogger(__name__)


async def load_trust(gw: Gateway, conn: asyncpg.Connection) -> None:
    """Fill the in-memory caches from the tables, whole: at start, and periodically, because with several
    gateway instances in one consumer group each message reaches only one of them."""
    gw.keys.replace(
        [
            (row["kid"], json.loads(row["jwk"]), KeyWindow(row["not_before"], row["not_after"]))
            for row in await trust_repo.keys(conn)
        ]
    )
    gw.blocked = {
        row["carnet_number"]: Blocked(row["status"], row["rule"], row["successor"], row["reason"])
        for row in await repo.blocked_carnets(conn)
    }
    transferred: dict[str, dict[int, str]] = {}
    for row in await repo.transfers(conn):
        transferred.setdefault(row["carnet_number"], {})[row["item_number"]] = row["successor"]
    gw.transferred = transferred


async def trust_list(gw: Gateway, conn: asyncpg.Connection, inbound: Inbound[TrustListPublished]) -> None:
    t = inbound.payload
    try:
        listed = trustlist.verify(t, gw.anchor)
    except trustlist.TrustListError as exc:
        gw.metrics.trust_lists("refused").inc()
        log.error("trust list %s (message %s) refused: %s", t.sequence, inbound.envelope.message_id, exc)
        return
    if t.sequence <= await trust_repo.held_sequence(conn):
        gw.metrics.trust_lists("stale").inc()
        return
    await trust_repo.replace_trust_list(
        conn,
        t.sequence,
        t.issued_at,
        t.anchor_kid,
        [(k.kid, k.jwk, k.not_before, k.not_after, k.retire_at) for k in listed],
    )
    gw.keys.replace([(k.kid, k.jwk, KeyWindow(k.not_before, k.not_after)) for k in listed])
    gw.metrics.trust_lists("applied").inc()
    log.info("trust list %s applied: keys %s", t.sequence, ", ".join(k.kid for k in listed))


def verify(gw: Gateway, token: str) -> tuple[DeclarationClaims, str]:
    """Signature, expiry, key validity and carnet standing, offline: the claims and the key's id (hex); raises
    CommitRefused with the reason."""
    used: list[bytes] = []

    def resolve(kid: bytes) -> ec.EllipticCurvePublicKey | None:
        used.append(kid)
        return gw.keys.key(kid)

    with gw.metrics.verify_seconds.time():
        try:
            claims = DeclarationClaims.from_cwt(verify_token(token.strip(), resolve, gw.clock()))
        except TokenError as exc:
            gw.metrics.verifications(exc.reason).inc()
            raise CommitRefused(exc.reason, f"token refused: {exc}") from exc
        except ClaimsError as exc:
            gw.metrics.verifications("bad_claims").inc()
            raise CommitRefused("bad_claims", f"token refused: {exc}") from exc
    # The key must have been valid when the token was signed (rotation keeps old keys for old tokens).
    window = gw.keys.window(used[-1])
    if window is not None and not window.covers(claims.issued_at):
        gw.metrics.verifications("key_not_valid").inc()
        raise CommitRefused("key_not_valid", "token signed outside its key's validity period")
    try:
        domain.check_carnet(claims, gw.blocked.get(claims.carnet_number), gw.transferred.get(claims.carnet_number))
    except CommitRefused as exc:
        gw.metrics.verifications(exc.reason).inc()
        raise
    gw.metrics.verifications("valid").inc()
    return claims, used[-1].hex()
