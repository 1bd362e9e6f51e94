"""Thin handlers of the gateway: learn keys, verify scans offline, post commits."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg
from cryptography.hazmat.primitives.asymmetric import ec

from contracts.messages import (
    CarnetIssued,
    CarnetStatusChanged,
    CustomsCommitPosted,
    DuplicateCarnetIssued,
    ItemLocationsChanged,
    Payload,
    ReplacementCarnetIssued,
    SigningKeyPublished,
    TrustListPublished,
)
from contracts.token import ClaimsError, DeclarationClaims
from contracts.topics import CUSTOMS_COMMITS
from contracts.txcode import TransactionCodeError, parse_transaction_code
from customs_gateway import account_repository as accounts_repo
from customs_gateway import domain
from customs_gateway import repository as repo
from customs_gateway.domain import (
    Blocked,
    CarnetOnFile,
    CommitRefused,
    Declared,
    RateLimited,
    KeyWindow,
    Office,
    Verification,
)
from customs_gateway.caches import CarnetCache, KeyCache
from customs_gateway.core_lookup import CoreDeclarations, Unavailable
from customs_gateway.metrics import GatewayMetrics
from tokens import trustlist
from runtime.consumer import Inbound
from tokens.cose import TokenError, verify_token
from runtime.outbox import emit
from runtime.clock import Clock

log = logging.getLogger(__name__)
PRODUCER = "customs_gateway"
#: Typed-code lookups per officer, in PostgreSQL so that every instance counts against the same window:
#: guessing codes stays slow even with a session, and with any number of gateways.
LOOKUPS_PER_MINUTE = 10
LOOKUP_WINDOW = timedelta(seconds=60)


class GatewayHandlers:
    def __init__(self, metrics: GatewayMetrics, clock: Clock, anchor: ec.EllipticCurvePublicKey,
                 core: CoreDeclarations) -> None:
        self.metrics = metrics
        #: Typed codes only: the declaration is asked of the core when an officer types its code.
        self.core = core
        self.anchor = anchor
        self.clock = clock
        self.keys = KeyCache()
        self.carnets = CarnetCache(metrics)
        #: Voided and closed carnets (R5, R7), in memory like the keys: scans never wait on a lookup.
        self.blocked: dict[str, Blocked] = {}
        #: R6: per carnet, items a replacement took over (item -> replacement), in memory for the same reason.
        self.transferred: dict[str, dict[int, str]] = {}

    async def load_trust(self, conn: asyncpg.Connection) -> None:
        """Fill the in-memory caches from the tables, whole: at start, and periodically, because with several
        gateway instances in one consumer group each message reaches only one of them."""
        self.keys.replace([(row["kid"], json.loads(row["jwk"]), KeyWindow(row["not_before"], row["not_after"]))
                           for row in await repo.keys(conn)])
        self.blocked = {row["carnet_number"]: Blocked(row["status"], row["rule"], row["successor"], row["reason"])
                        for row in await repo.blocked_carnets(conn)}
        transferred: dict[str, dict[int, str]] = {}
        for row in await repo.transfers(conn):
            transferred.setdefault(row["carnet_number"], {})[row["item_number"]] = row["successor"]
        self.transferred = transferred

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
        row = await repo.set_carnet_status(conn, s.carnet_number, s.status, s.rule, s.successor, s.reason, s.changed_at)
        if row["status"] == "active":
            self.blocked.pop(s.carnet_number, None)
        else:
            self.blocked[s.carnet_number] = Blocked(row["status"], row["rule"], row["successor"], row["reason"])

    async def _refresh_standing(self, conn: asyncpg.Connection, number: str) -> None:
        row = await repo.standing(conn, number)
        blocked = (Blocked(row["status"], row["rule"], row["successor"], row["reason"])
                   if row["status"] not in (None, "active") else None)
        moved = {int(item): successor for item, successor in json.loads(row["moved"]).items()}
        stale = blocked != self.blocked.get(number) or moved != self.transferred.get(number, {})
        self.metrics.cache("carnet_status", "stale" if stale else "fresh").inc()
        if blocked is None:
            self.blocked.pop(number, None)
        else:
            self.blocked[number] = blocked
        if moved:
            self.transferred[number] = moved

    async def items_moved(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        """R6: the items a replacement took over; the original's tokens for them are refused from now on."""
        p = inbound.payload
        if not isinstance(p, ItemLocationsChanged) or p.cause != "replacement" or p.successor is None:
            return
        items = [i.item_number for i in p.items]
        await repo.record_transfers(conn, p.carnet_number, items, p.successor, p.changed_at)
        self.transferred.setdefault(p.carnet_number, {}).update({n: p.successor for n in items})

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
        return self._verify(token)[0]

    def _verify(self, token: str) -> tuple[DeclarationClaims, str]:
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
            domain.check_carnet(claims, self.blocked.get(claims.carnet_number), self.transferred.get(claims.carnet_number))
        except CommitRefused as exc:
            self.metrics.verifications(exc.reason).inc()
            raise
        self.metrics.verifications("valid").inc()
        return claims, used[-1].hex()

    async def _verification(self, conn: asyncpg.Connection, d: Declared, office: Office,
                            kid: str | None = None) -> Verification:
        decided, carnet = await repo.decided_and_carnet(conn, d.token_id, d.transaction_code, d.carnet_number)
        self.carnets.put(carnet)
        return self._checks(d, office, carnet, replayed=decided, kid=kid)

    def _checks(self, d: Declared, office: Office, carnet: CarnetOnFile | None, *, replayed: bool,
                kid: str | None = None) -> Verification:
        return domain.verification(d, office, self.clock(), replayed=replayed, blocked=self.blocked.get(d.carnet_number),
                                   transferred=self.transferred.get(d.carnet_number), carnet=carnet, kid=kid)

    async def _carnet(self, conn: asyncpg.Connection, number: str) -> CarnetOnFile | None:
        carnet = self.carnets.get(number)
        if carnet is None:
            carnet = await repo.carnet_on_file(conn, number)
            self.carnets.put(carnet)
        return carnet

    async def scan(self, conn: asyncpg.Connection, officer_id: str, office: Office, token: str) -> Verification:
        """Verify offline; only the audit log records that this officer looked (R18).

        R18: an officer sees only declarations for their own country's customs; another country's
        carnet data is not shown (and the attempt is audited)."""
        try:
            claims, kid = self._verify(token)
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
        d = Declared.from_claims(claims)
        carnet = self.carnets.get(d.carnet_number)
        if carnet is None:  # two round trips: the carnet decides the mismatches the audit row lists
            v = await self._verification(conn, d, office, kid)
            await repo.audit(conn, self.clock(), "scan", "valid", officer_id=officer_id, office_id=office.office_id,
                             carnet_number=claims.carnet_number,
                             detail={**detail, "mismatches": [c.check for c in v.mismatches]})
            return v
        # Carnet known: the replay check and the audit row in one statement.
        v = self._checks(d, office, carnet, replayed=False, kid=kid)
        before, after = domain.mismatches_around_replay(v)
        if await repo.scan_audited(conn, claims.token_id, d.transaction_code, self.clock(), officer_id,
                                   office.office_id, d.carnet_number, detail, before, after):
            v = self._checks(d, office, carnet, replayed=True, kid=kid)
        return v

    async def take_lookup(self, conn: asyncpg.Connection, officer_id: str) -> float | None:
        """One typed code of the officer's window (None), or the seconds to wait: lookups and cancellations."""
        return await accounts_repo.take_lookup(conn, officer_id, self.clock(), LOOKUPS_PER_MINUTE, LOOKUP_WINDOW)

    def _parse_code(self, code: str) -> str:
        try:
            return parse_transaction_code(code)
        except TransactionCodeError as exc:
            self.metrics.code_lookups("bad_code").inc()
            raise CommitRefused("bad_code", str(exc)) from exc

    async def _declared_by_code(self, conn: asyncpg.Connection, officer_id: str, office: Office, code: str,
                                action: str) -> Declared:
        """Check character first (no lookup, no rate-limit use), then the officer's rate limit, then the lookup."""
        canonical = self._parse_code(code)
        wait = await self.take_lookup(conn, officer_id)
        if wait is not None:
            self.metrics.code_lookups("rate_limited").inc()
            await repo.audit(conn, self.clock(), action, "rate_limited", officer_id=officer_id, office_id=office.office_id,
                             detail={"transaction_code": canonical})
            raise RateLimited(wait)
        try:
            found = await self.core.by_code(canonical, officer_id)
        except Unavailable:
            self.metrics.code_lookups("core_unavailable").inc()
            await repo.audit(conn, self.clock(), action, "core_unavailable", officer_id=officer_id,
                             office_id=office.office_id, detail={"transaction_code": canonical})
            raise
        if found is None:
            self.metrics.code_lookups("unknown").inc()
            await repo.audit(conn, self.clock(), action, "unknown", officer_id=officer_id, office_id=office.office_id,
                             detail={"transaction_code": canonical})
            raise CommitRefused("unknown_code", "no declaration with this transaction code", 404)
        self.metrics.code_lookups("found").inc()
        carnet = await self._carnet(conn, found.carnet_number)
        return Declared(found.carnet_number, canonical, found.kind, found.country, found.items, found.sequence,
                        carnet.expiry_date if carnet else None, None, found.token_id, found.token_expires_at, False)

    async def lookup(self, conn: asyncpg.Connection, officer_id: str, office: Office, code: str) -> Verification:
        """The typed fallback: the declaration the core accepted under this code, with the same checks."""
        d = await self._declared_by_code(conn, officer_id, office, code, "code_lookup")
        detail = {"transaction_code": d.transaction_code, "kind": d.kind.value, "country": d.country}
        try:
            domain.check_scan(d, office)
        except CommitRefused as exc:
            await repo.audit(conn, self.clock(), "code_lookup", exc.reason, officer_id=officer_id,
                             office_id=office.office_id, carnet_number=d.carnet_number, detail=detail)
            raise
        v = await self._verification(conn, d, office)
        await repo.audit(conn, self.clock(), "code_lookup", "found", officer_id=officer_id, office_id=office.office_id,
                         carnet_number=d.carnet_number,
                         detail={**detail, "mismatches": [c.check for c in v.mismatches]})
        return v

    async def commit(self, conn: asyncpg.Connection, officer_id: str, office: Office, token: str | None, decision: str,
                     final_date: date | None, refusal_reason: str | None, *,
                     transaction_code: str | None = None) -> tuple[UUID, Verification]:
        """By token (verified offline) or by typed code (the declaration on file; its token must be known)."""
        action = "commit" if decision == "committed" else "refusal"
        d: Declared | None = None
        try:
            if token is not None:
                claims, kid = self._verify(token)
                d = Declared.from_claims(claims)
            else:
                kid = None
                d = await self._declared_by_code(conn, officer_id, office, transaction_code or "", action)
            # The caches follow what this instance consumed and reload every ATA_GATEWAY_CACHE_REFRESH_S; another
            # instance may have consumed a closure or replacement since. A commit reads the shared table first.
            await self._refresh_standing(conn, d.carnet_number)
            # Not decided yet as far as this request knows: the commit's own INSERT settles a replay
            # (token_id and transaction_code are both unique in the commit log) and its audit row says so.
            v = domain.decide_commit(d, office, self.clock(), decision=decision, final_date=final_date,
                                     blocked=self.blocked.get(d.carnet_number),
                                     transferred=self.transferred.get(d.carnet_number),
                                     carnet=await self._carnet(conn, d.carnet_number), kid=kid)
        except CommitRefused as exc:
            if exc.reason not in ("rate_limited", "unknown_code", "bad_code", "core_unavailable"):  # audited where they happen (or never)
                await repo.audit(conn, self.clock(), action, exc.reason, officer_id=officer_id,
                                 office_id=office.office_id, carnet_number=d.carnet_number if d else None,
                                 detail={"decision": decision, "message": str(exc)})
            raise
        assert d.token_id is not None
        commit_id, now = uuid4(), self.clock().astimezone(ZoneInfo(office.timezone))
        before, after = domain.mismatches_around_replay(v)
        async with conn.transaction():
            fresh = await repo.commit_audited(
                conn, commit_id=commit_id, token_id=d.token_id, transaction_code=d.transaction_code,
                carnet_number=d.carnet_number, kind=d.kind.value, country=d.country, items=list(d.items),
                office_id=office.office_id, officer_id=officer_id, decision=decision, final_date=final_date,
                refusal_reason=refusal_reason, decided_at=now, action=action,
                detail={"decision": decision, "kind": d.kind.value, "items": list(d.items),
                        "by": "token" if d.from_token else "code", "final_date": final_date,
                        "refusal_reason": refusal_reason},
                before=before, after=after)
            if fresh:
                await emit(conn, CUSTOMS_COMMITS.name, CustomsCommitPosted(
                    commit_id=commit_id, carnet_number=d.carnet_number, transaction_code=d.transaction_code,
                    token_id=d.token_id, kind=d.kind, country=d.country, items=list(d.items),
                    office_id=office.office_id, office_timezone=office.timezone, officer_id=officer_id, decision=decision,
                    final_date=final_date, refusal_reason=refusal_reason, decided_at=now,
                ), key=d.carnet_number, producer=PRODUCER)
        if not fresh:
            self.metrics.verifications("replayed").inc()
            log.warning("replayed token %s for carnet %s at office %s", d.token_id, d.carnet_number, office.office_id)
            raise CommitRefused("replayed", "this declaration was already decided", 409)
        self.metrics.commits(d.kind.value, d.country, decision).inc()
        return commit_id, v

    # --- carnets and declarations on file (issue 4) -------------------------------------------------------

    async def issuance_events(self, conn: asyncpg.Connection, batch: list[Inbound[Payload]]) -> None:
        """Bulk issuance: the batch's issued and replacement carnets filed in one statement, then the
        duplicates, in order (a duplicate copies its original, filed before it)."""
        await repo.insert_carnets_on_file(conn, [
            i.payload.replacement if isinstance(i.payload, ReplacementCarnetIssued) else i.payload  # type: ignore[misc]
            for i in batch if isinstance(i.payload, (CarnetIssued, ReplacementCarnetIssued))])
        for i in batch:
            if isinstance(i.payload, DuplicateCarnetIssued):
                await self.issuance_event(conn, i)

    async def issuance_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        p = inbound.payload
        if isinstance(p, CarnetIssued):
            await self._carnet_on_file(conn, p)
        elif isinstance(p, ReplacementCarnetIssued):
            await self._carnet_on_file(conn, p.replacement)
        elif isinstance(p, DuplicateCarnetIssued) and not await repo.copy_carnet_on_file(
                conn, p.original_number, p.duplicate_number):
            log.warning("duplicate %s of %s: the original is not on file", p.duplicate_number, p.original_number)
        # IssuanceRejected: nothing was issued

    async def _carnet_on_file(self, conn: asyncpg.Connection, c: CarnetIssued) -> None:
        await repo.insert_carnet_on_file(conn, c.carnet_number, c.nga, list(c.countries), c.issue_date, c.expiry_date,
                                         c.general_list_digest, [i.model_dump() for i in c.items])
