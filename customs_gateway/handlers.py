"""Thin handlers of the gateway: learn keys, verify scans offline, post commits."""

from __future__ import annotations

import json
import logging
from datetime import date
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.messages import CarnetStatusChanged, CustomsCommitPosted, Payload, SigningKeyPublished, TrustListPublished
from contracts.token import ClaimsError, DeclarationClaims
from contracts.topics import CUSTOMS_COMMITS
from customs_gateway import domain, repository as repo
from customs_gateway.domain import Blocked, CommitRefused, KeyWindow, Office
from runtime.consumer import Inbound
from runtime import trustlist
from runtime.cose import TokenError, public_key_from_jwk, verify_token
from runtime.metrics import LATENCY_BUCKETS
from runtime.outbox import emit
from runtime.service import Clock

log = logging.getLogger(__name__)
PRODUCER = "customs_gateway"


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.verifications = Counter("ata_token_verifications_total", "Token verifications by outcome.", ["outcome"],
                                     registry=registry).labels
        self.commits = Counter("ata_customs_commits_total", "Customs decisions posted, by kind, country and decision.",
                               ["kind", "country", "decision"], registry=registry).labels
        self.trust_lists = Counter("ata_trust_lists_total", "Trust lists received, by outcome.", ["outcome"],
                                   registry=registry).labels
        self.logins = Counter("ata_officer_logins", "Officer logins, by outcome.", ["outcome"], registry=registry).labels
        self.verify_seconds = Histogram("ata_token_verify_seconds", "Time to verify one token.", buckets=LATENCY_BUCKETS,
                                        registry=registry)


class KeyCache:
    """The trust keys in memory: verification never waits on the database or the core."""

    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[ec.EllipticCurvePublicKey, KeyWindow]] = {}

    def put(self, kid_hex: str, jwk: dict[str, str], window: KeyWindow) -> None:
        self._keys[bytes.fromhex(kid_hex)] = (public_key_from_jwk(jwk), window)

    def key(self, kid: bytes) -> ec.EllipticCurvePublicKey | None:
        entry = self._keys.get(kid)
        return entry[0] if entry else None

    def window(self, kid: bytes) -> KeyWindow | None:
        entry = self._keys.get(kid)
        return entry[1] if entry else None

    def __len__(self) -> int:
        return len(self._keys)

    def replace(self, entries: list[tuple[str, dict[str, str], KeyWindow]]) -> None:
        """Swap in a whole list at once: a verification never sees half of two lists."""
        self._keys = {bytes.fromhex(kid): (public_key_from_jwk(jwk), window) for kid, jwk, window in entries}


class GatewayHandlers:
    def __init__(self, metrics: GatewayMetrics, clock: Clock, anchor: ec.EllipticCurvePublicKey) -> None:
        self.metrics = metrics
        self.anchor = anchor
        self.clock = clock
        self.keys = KeyCache()
        #: Voided and closed carnets (R5, R7), in memory like the keys: scans never wait on a lookup.
        self.blocked: dict[str, Blocked] = {}

    async def load_trust(self, conn: asyncpg.Connection) -> None:
        for row in await repo.keys(conn):
            self.keys.put(row["kid"], _json(row["jwk"]), KeyWindow(row["not_before"], row["not_after"]))
        for row in await repo.blocked_carnets(conn):
            self.blocked[row["carnet_number"]] = Blocked(row["status"], row["rule"], row["successor"], row["reason"])

    async def trust_list(self, conn: asyncpg.Connection, inbound: Inbound[TrustListPublished]) -> None:
        t = inbound.payload
        try:
            listed = trustlist.verify(t, self.anchor)
        except trustlist.TrustListError as exc:
            self.metrics.trust_lists("refused").inc()
            log.error("trust list %s (message %s) refused: %s", t.sequence, inbound.envelope.message_id, exc)
            return
        if t.sequence <= await repo.held_sequence(conn):
            self.metrics.trust_lists("stale").inc()
            return
        await repo.replace_trust_list(conn, t.sequence, t.issued_at, t.anchor_kid,
                                      [(k.kid, k.jwk, k.not_before, k.not_after, k.retire_at) for k in listed])
        self.keys.replace([(k.kid, k.jwk, KeyWindow(k.not_before, k.not_after)) for k in listed])
        self.metrics.trust_lists("applied").inc()
        log.info("trust list %s applied: keys %s", t.sequence, ", ".join(k.kid for k in listed))

    async def carnet_status(self, conn: asyncpg.Connection, inbound: Inbound[CarnetStatusChanged]) -> None:
        s = inbound.payload
        await repo.set_carnet_status(conn, s.carnet_number, s.status, s.rule, s.successor, s.reason, s.changed_at)
        row = await conn.fetchrow("SELECT status, rule, successor, reason FROM carnet_status WHERE carnet_number = $1",
                                  s.carnet_number)
        if row["status"] == "active":
            self.blocked.pop(s.carnet_number, None)
        else:
            self.blocked[s.carnet_number] = Blocked(row["status"], row["rule"], row["successor"], row["reason"])

    async def trust_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        if isinstance(inbound.payload, TrustListPublished):
            await self.trust_list(conn, inbound)  # type: ignore[arg-type]
        elif isinstance(inbound.payload, SigningKeyPublished):
            # Unsigned: anyone who can write to the topic could send one. Keys come in signed lists only.
            self.metrics.trust_lists("unsigned_ignored").inc()
            log.warning("unsigned key %s (message %s) ignored", inbound.payload.kid, inbound.envelope.message_id)
        else:
            await self.carnet_status(conn, inbound)  # type: ignore[arg-type]

    def verify(self, token: str) -> DeclarationClaims:
        """Signature, expiry and key validity, offline; raises CommitRefused with the reason."""
        used: list[bytes] = []

        def resolve(kid: bytes) -> ec.EllipticCurvePublicKey | None:
            used.append(kid)
            return self.keys.key(kid)

        with self.metrics.verify_seconds.time():
            try:
                claims = DeclarationClaims.from_cwt(verify_token(token.strip(), resolve, self.clock()))
            except TokenError as exc:
                self.metrics.verifications(exc.reason).inc()
                raise CommitRefused(exc.reason, f"token refused: {exc}") from exc
            except ClaimsError as exc:
                self.metrics.verifications("bad_claims").inc()
                raise CommitRefused("bad_claims", f"token refused: {exc}") from exc
        # The key must have been valid when the token was signed (rotation keeps old keys for old tokens).
        window = self.keys.window(used[-1])
        if window is not None and not window.covers(claims.issued_at):
            self.metrics.verifications("key_not_valid").inc()
            raise CommitRefused("key_not_valid", "token signed outside its key's validity period")
        try:
            domain.check_carnet(claims, self.blocked.get(claims.carnet_number))
        except CommitRefused as exc:
            self.metrics.verifications(exc.reason).inc()
            raise
        self.metrics.verifications("valid").inc()
        return claims

    async def scan(self, conn: asyncpg.Connection, officer_id: str, office: Office, token: str) -> DeclarationClaims:
        """Verify offline; only the audit log records that this officer looked (R18).

        R18: an officer sees only declarations for their own country's customs; another country's
        carnet data is not shown (and the attempt is audited)."""
        try:
            claims = self.verify(token)
        except CommitRefused as exc:
            await repo.audit(conn, self.clock(), "scan", exc.reason, officer_id=officer_id, office_id=office.office_id)
            raise
        detail = {"kind": claims.kind.value, "country": claims.country, "token_id": str(claims.token_id)}
        try:
            domain.check_scan(claims, office)
        except CommitRefused as exc:
            await repo.audit(conn, self.clock(), "scan", exc.reason, officer_id=officer_id, office_id=office.office_id,
                             carnet_number=claims.carnet_number, detail=detail)
            raise
        await repo.audit(conn, self.clock(), "scan", "valid", officer_id=officer_id, office_id=office.office_id,
                         carnet_number=claims.carnet_number, detail=detail)
        return claims

    async def commit(self, conn: asyncpg.Connection, officer_id: str, office: Office, token: str, decision: str,
                     final_date: date | None, refusal_reason: str | None) -> tuple[UUID, DeclarationClaims]:
        action = "commit" if decision == "committed" else "refusal"
        claims: DeclarationClaims | None = None
        try:
            claims = self.verify(token)
            domain.check_scan(claims, office)
            if decision == "committed":
                domain.check_entry(claims, office, self.clock())
                domain.check_final_date(claims, final_date)
        except CommitRefused as exc:
            await repo.audit(conn, self.clock(), action, exc.reason, officer_id=officer_id, office_id=office.office_id,
                             carnet_number=claims.carnet_number if claims else None,
                             detail={"decision": decision, "message": str(exc)})
            raise
        commit_id, now = uuid4(), self.clock().astimezone(ZoneInfo(office.timezone))
        async with conn.transaction():
            fresh = await repo.insert_commit(
                conn, commit_id=commit_id, token_id=claims.token_id, transaction_code=claims.transaction_code,
                carnet_number=claims.carnet_number, kind=claims.kind.value, country=claims.country, items=list(claims.items),
                office_id=office.office_id, officer_id=officer_id, decision=decision, final_date=final_date,
                refusal_reason=refusal_reason, decided_at=now,
            )
            if fresh:
                await emit(conn, CUSTOMS_COMMITS.name, CustomsCommitPosted(
                    commit_id=commit_id, carnet_number=claims.carnet_number, transaction_code=claims.transaction_code,
                    token_id=claims.token_id, kind=claims.kind, country=claims.country, items=list(claims.items),
                    office_id=office.office_id, office_timezone=office.timezone, officer_id=officer_id, decision=decision,
                    final_date=final_date, refusal_reason=refusal_reason, decided_at=now,
                ), key=claims.carnet_number, producer=PRODUCER)
            await repo.audit(conn, now, action, "posted" if fresh else "replayed", officer_id=officer_id,
                             office_id=office.office_id, carnet_number=claims.carnet_number,
                             detail={"decision": decision, "commit_id": str(commit_id) if fresh else None,
                                     "kind": claims.kind.value, "items": list(claims.items),
                                     "final_date": final_date, "refusal_reason": refusal_reason})
        if not fresh:
            self.metrics.verifications("replayed").inc()
            log.warning("replayed token %s for carnet %s at office %s", claims.token_id, claims.carnet_number, office.office_id)
            raise CommitRefused("replayed", "this declaration was already decided", 409)
        self.metrics.commits(claims.kind.value, claims.country, decision).inc()
        return commit_id, claims


def _json(value: object) -> dict[str, str]:
    return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[arg-type]
