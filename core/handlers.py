"""Thin handlers of the core: carnets in, declarations out as tokens, commits into the ledger."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from contracts.kinds import DeclarationKind
from contracts.messages import (
    CancellationPosted, CancellationRefused, CarnetIssued, CarnetStatusChanged, CarnetSuccessionDecided,
    ConfirmationRequested, CustomsCommitPosted, DeclarationRefused,
    DeclarationSubmitted, DuplicateCarnetIssued, ItemLocation, ItemLocationsChanged, ItemsAccountedFor, Payload, Reason,
    ReplacementCarnetIssued, TokenIssued, TransactionCancelled, TransactionRecorded, TrustedKey,
)
from contracts.token import DeclarationClaims
from contracts.topics import (
    CARNET_STATUS, DECLARATIONS, ISSUANCE_OUTCOMES, NOTIFICATION_REQUESTS, SIGNING_KEYS, TRANSACTIONS,
)
from contracts.txcode import new_transaction_code
from core import domain, history, history_store, repository as repo
from core.domain import Crossing, LifecycleRefused, PolicyBook
from core.domain.cancellation import cancel
from runtime.consumer import Inbound
from runtime import trustlist
from runtime.cose import SigningKey, public_jwk, sign_token
from runtime.outbox import add_many, emit, envelope_for
from runtime.clock import Clock

PolicySource = Callable[[], PolicyBook]

log = logging.getLogger(__name__)
PRODUCER = "core"
#: Seconds: a minute at the desk up to the token's 72 hours at the border.
DECISION_BUCKETS = (10, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600, 72 * 3600)


class CoreMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.carnets = Counter("ata_core_carnets_recorded_total", "Issued carnets taken into the ledger.", registry=registry)
        self.declarations = Counter("ata_declarations_total", "Declarations by kind, country and outcome.",
                                    ["kind", "country", "outcome"], registry=registry).labels
        self.transactions = Counter("ata_transactions_recorded_total", "Customs decisions recorded, by kind, country and decision.",
                                    ["kind", "country", "decision"], registry=registry).labels
        self.number_collisions = Counter("ata_carnet_number_collisions_total",
                                         "Issued carnets whose number was already used by another request (R1).",
                                         registry=registry)
        self.ignored_commits = Counter("ata_commits_ignored_total", "Commits for declarations already decided.", registry=registry)
        self.signing_key_retired = Gauge("ata_core_signing_key_retired",
                                         "1 while this instance signs with a key another instance retired.",
                                         registry=registry)
        self.cancellations = Counter("ata_cancellations_total",
                                     "Cancellations of committed transactions, by outcome (cancelled or the refusal code).",
                                     ["outcome"], registry=registry).labels
        # From the holder's declaration (token issued) to the customs decision recorded in the ledger: how long
        # goods wait between declaring and crossing; hours are normal (the token lives ATA_TOKEN_TTL_HOURS).
        self.declaration_to_decision = Histogram(
            "ata_declaration_to_decision_seconds", "Time from a declaration's submission to the customs decision recorded.",
            ["kind", "decision"], buckets=DECISION_BUCKETS, registry=registry).labels
        # R6: an NGA's replacement whose times the ledger's clock contradicts (an NGA clock or a replay): alerted on.
        self.r6_timestamps_refused = Counter("ata_r6_timestamps_refused_total",
                                             "Replacements refused because their times contradict the ledger's clock.",
                                             ["code"], registry=registry).labels
        self.lifecycle = Counter("ata_carnet_lifecycle_total", "Duplicates, replacements, duty receipts and closures, by outcome.",
                                 ["event", "outcome"], registry=registry).labels


class DeclarationRefusedError(Exception):
    def __init__(self, reasons: list[Reason], status: int = 422) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons
        self.status = status


@dataclass(frozen=True)
class DeclarationCreated:
    declaration_id: UUID
    carnet_number: str
    kind: DeclarationKind
    country: str
    items: list[int]
    sequence: int
    transaction_code: str
    token: str
    token_expires_at: datetime


class CoreHandlers:
    def __init__(self, metrics: CoreMetrics, clock: Clock, token_ttl: timedelta, policy: PolicySource,
                 anchor: Callable[[], SigningKey]) -> None:
        self.metrics = metrics
        self.anchor = anchor
        self.clock = clock
        self.token_ttl = token_ttl
        self.policy = policy
        self.signing_key: SigningKey | None = None

    # --- keys ------------------------------------------------------------------------------

    async def publish_signing_key(self, conn: asyncpg.Connection, key: SigningKey) -> None:
        """Sign with `key` from now on and publish the signed trust list (at every start, so a
        gateway with an empty cache learns it too). A new key rotates the old ones out: they stop
        signing now and stay listed until every token they signed has expired."""
        self.signing_key = key
        kid = key.kid.hex()
        # Whole seconds, as tokens' issued_at: a token signed in the key's first second stays inside its window.
        now = self.clock().replace(microsecond=0)
        async with conn.transaction():
            # One list at a time, so sequences and rotations never interleave between instances.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('core-trust-list'))")
            await repo.upsert_signing_key(conn, kid, public_jwk(key.public_key), now)
            await repo.retire_other_keys(conn, kid, now, now + self.token_ttl)
            listed = [TrustedKey(kid=r["kid"], jwk=json.loads(r["jwk"]), not_before=r["not_before"], not_after=r["not_after"],
                                 retire_at=r["retire_at"]) for r in await repo.trusted_keys(conn, now)]
            sequence = await repo.record_trust_list(conn, now, [k.kid for k in listed])
            await emit(conn, SIGNING_KEYS.name, trustlist.sign(sequence, now, listed, self.anchor()),
                       key="trust-list", producer=PRODUCER)

    async def follow_signing_key(self, conn: asyncpg.Connection, load: Callable[[], SigningKey]) -> None:
        """Several core instances share one key file. When another instance rotated to a new key, this one
        must stop signing with the retired key, or the tokens it signs are refused at the border: it adopts
        the key file's new key once the file has it (a Secret updated in place), or publishes a key the ledger
        does not know yet. While the file still holds the retired key, it says so loudly (log and gauge)."""
        current = self.signing_key
        if current is None or await repo.key_state(conn, current.kid.hex()) != "retired":
            self.metrics.signing_key_retired.set(0)
            return
        fresh = load()
        state = await repo.key_state(conn, fresh.kid.hex())
        if state == "signing":
            self.signing_key = fresh
            self.metrics.signing_key_retired.set(0)
            log.info("signing key %s was rotated by another instance: now signing with %s", current.kid.hex(),
                     fresh.kid.hex())
        elif state == "unknown":
            await self.publish_signing_key(conn, fresh)
            self.metrics.signing_key_retired.set(0)
        else:
            self.metrics.signing_key_retired.set(1)
            log.error("signing key %s was retired by another instance and the key file has no newer key: tokens "
                      "signed now will be refused; update this instance's key file", current.kid.hex())

    # --- consumed messages -----------------------------------------------------------------

    async def issuance_events(self, conn: asyncpg.Connection, batch: list[Inbound[Payload]]) -> None:
        """Bulk issuance: a batch's new carnets in two statements, then the rest one by one, in order
        (a duplicate or replacement always follows its original, which is then on file)."""
        first: dict[str, Inbound[Payload]] = {}
        again: list[Inbound[Payload]] = []  # a number twice in one batch: the second is compared, as later ones are
        for i in batch:
            if isinstance(i.payload, CarnetIssued) and i.payload.carnet_number in first:
                again.append(i)
            elif isinstance(i.payload, CarnetIssued):
                first[i.payload.carnet_number] = i
        created = await repo.insert_carnets(conn, [i.payload for i in first.values()])  # type: ignore[misc]
        self.metrics.carnets.inc(len(created))
        for number, i in first.items():
            if number not in created:
                await self._known_number(conn, i)  # type: ignore[arg-type]
        for i in again:
            await self._known_number(conn, i)  # type: ignore[arg-type]
        for i in batch:
            if not isinstance(i.payload, CarnetIssued):
                await self.issuance_event(conn, i)

    async def _known_number(self, conn: asyncpg.Connection, inbound: Inbound[CarnetIssued]) -> None:
        p = inbound.payload
        if await repo.carnet_identity(conn, p.carnet_number) != (p.holder_id, p.general_list_digest):
            # R1: numbers are unique worldwide; a different carnet under a known number is an issuer
            # fault. The first one stands; this one is refused loudly, never merged.
            self.metrics.number_collisions.inc()
            log.error("carnet number collision on %s (message %s, request %s): a different carnet already has "
                      "this number; ignored", p.carnet_number, inbound.envelope.message_id, p.request_id)

    async def issuance_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        p = inbound.payload
        if isinstance(p, CarnetIssued):
            if await repo.insert_carnet(conn, p):
                self.metrics.carnets.inc()
            else:
                await self._known_number(conn, inbound)  # type: ignore[arg-type]
        elif isinstance(p, DuplicateCarnetIssued):
            await self._duplicate(conn, inbound, p)
        elif isinstance(p, ReplacementCarnetIssued):
            await self._replacement(conn, inbound, p)
        # IssuanceRejected shares the topic; the ledger has nothing to record for it.

    async def customs_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        if isinstance(inbound.payload, ItemsAccountedFor):
            await self._accounted(conn, inbound, inbound.payload)
        elif isinstance(inbound.payload, CancellationPosted):
            await self._cancellation(conn, inbound, inbound.payload)
        else:
            await self.customs_commit(conn, inbound)  # type: ignore[arg-type]

    async def customs_commit(self, conn: asyncpg.Connection, inbound: Inbound[CustomsCommitPosted]) -> None:
        c = inbound.payload
        found = await repo.declaration_by_token(conn, c.token_id, lock=True)
        if found is None:
            raise LookupError(f"commit {c.commit_id} names token {c.token_id}, which the core never issued")
        if found["status"] != "pending":
            self.metrics.ignored_commits.inc()
            log.warning("commit %s for carnet %s (message %s): declaration %s already %s; ignored",
                        c.commit_id, c.carnet_number, inbound.envelope.message_id, found["declaration_id"], found["status"])
            return
        carnet, _ = await repo.load_carnet(conn, found["carnet_number"], lock=True)  # type: ignore[misc]
        kind = DeclarationKind(found["kind"])
        items = list(found["items"])
        crossing = Crossing.of(kind, found["country"], items, closes=found["closes"], intended_use=found["intended_use"])
        reasons = _mismatches(c, found)
        decision = c.decision
        tz = _zone(c.office_timezone)
        book = self.policy()
        policy = book.for_country(c.country)
        if decision == "refused":
            reasons.append(Reason(rule="customs", code="refused_by_customs", message=c.refusal_reason or "refused by customs"))
        else:
            # The ledger is re-checked at the moment and in the time zone of the office (R12).
            reasons += domain.check_declaration(carnet, crossing, c.decided_at, policy, book.label(c.country), tz)
            reasons += domain.check_final_date(carnet, c.final_date)
            if reasons:
                decision = "refused"
                log.warning("commit %s for carnet %s (message %s) refused by the ledger: %s", c.commit_id,
                            c.carnet_number, inbound.envelope.message_id, "; ".join(r.message for r in reasons))
        undo = None
        if decision == "committed":
            final = domain.final_date_for(carnet, kind, c.final_date, c.decided_at, tz, policy)
            loaded, before, active_before = carnet, {n: carnet.items[n] for n in items}, carnet.active
            carnet = domain.apply_crossing(carnet, crossing, found["sequence"], final)
            await repo.save_carnet_state(conn, carnet, items, before=loaded)
            # The holder's consent code for cancelling this crossing, and what undoing it restores.
            undo = repo.Undo(new_transaction_code(), before, {n: carnet.items[n] for n in items}, active_before)
        await repo.set_declaration_status(conn, found["declaration_id"], decision)
        transaction_id, now = uuid4(), self.clock()
        await repo.insert_transaction(
            conn, transaction_id=transaction_id, carnet_number=carnet.number, declaration_id=found["declaration_id"],
            commit_id=c.commit_id, kind=kind.value, country=c.country, items=items, sequence=found["sequence"],
            decision=decision, reasons=reasons, office_id=c.office_id, officer_id=c.officer_id, decided_at=c.decided_at,
            recorded_at=now, undo=undo,
        )
        recorded = TransactionRecorded(
            transaction_id=transaction_id, carnet_number=carnet.number, declaration_id=found["declaration_id"],
            commit_id=c.commit_id, kind=kind, country=c.country, items=items, sequence=found["sequence"], decision=decision,
            office_id=c.office_id, office_timezone=c.office_timezone, carnet_expiry=carnet.expiry_date,
            item_locations=[ItemLocation(item_number=n, location=carnet.items[n].location, country=carnet.items[n].country,
                                         final_date=carnet.items[n].final_date) for n in items],
            recorded_at=now,
        )
        if decision == "committed":
            appended = await history_store.append_entry(conn, carnet.number, history.CROSSING,
                                                        history.crossing_record(recorded, officer_id=c.officer_id,
                                                                                decided_at=c.decided_at), now)
            recorded = recorded.model_copy(update={"history_head": appended.head})
            position = appended.position
        else:  # a refusal changes no history: it was judged against the newest entry
            position = await history_store.last_position(conn, carnet.number)
        confirm = ConfirmationRequested(
            confirmation_id=uuid4(), carnet_number=carnet.number,
            recipient_ids=[carnet.holder_id, *carnet.representative_ids], transaction_id=transaction_id, kind=kind,
            country=c.country, items=items, decision=decision, recorded_at=now, history_position=position,
        )
        env = envelope_for(recorded, key=carnet.number, producer=PRODUCER, cause=inbound.envelope)
        await add_many(conn, [(TRANSACTIONS.name, carnet.number, env, recorded), (NOTIFICATION_REQUESTS.name, carnet.number,
                              envelope_for(confirm, key=carnet.number, producer=PRODUCER, cause=env), confirm)])
        self.metrics.transactions(kind.value, c.country, decision).inc()
        self.metrics.declaration_to_decision(kind.value, decision).observe(max((now - found["created_at"]).total_seconds(), 0.0))

    # --- holder API use cases ------------------------------------------------------------------

    async def declare(self, conn: asyncpg.Connection, carnet_number: str, kind: DeclarationKind, country: str,
                      items: list[int], declared_by: str, *, intended_use: str | None = None,
                      closes: int | None = None) -> DeclarationCreated:
        """R9: a declaration lists the items that cross; it becomes a signed token (ARCHITECTURE: Tokens)."""
        if self.signing_key is None:
            raise RuntimeError("the core has no signing key yet")
        async with conn.transaction():
            loaded = await repo.load_carnet(conn, carnet_number, lock=True)
            if loaded is None:
                raise DeclarationRefusedError([Reason(rule="R1", message=f"unknown carnet {carnet_number}")], status=404)
            carnet, row = loaded
            if not carnet.may_declare(declared_by):
                raise DeclarationRefusedError(
                    [Reason(rule="R9", field="declared_by", message="only the holder or a representative may declare")], status=403)
            now = self.clock()
            crossing = Crossing.of(kind, country, items, closes=closes, intended_use=intended_use)
            book = self.policy()
            refused = domain.check_declaration(carnet, crossing, now, book.for_country(country), book.label(country))
            if refused:
                # Kept for the audit trail although the holder gets an error: commit first, raise after.
                await emit(conn, DECLARATIONS.name, DeclarationRefused(
                    carnet_number=carnet_number, kind=kind, country=country, items=sorted(set(items)), reasons=refused,
                ), key=carnet_number, producer=PRODUCER)
            else:
                created = await self._sign_and_store(conn, carnet, row["general_list_digest"], crossing, declared_by, now)
        if refused:
            self.metrics.declarations(kind.value, country, "refused").inc()
            raise DeclarationRefusedError(refused)
        self.metrics.declarations(kind.value, country, "token_issued").inc()
        return created

    async def _sign_and_store(self, conn: asyncpg.Connection, carnet: domain.Carnet, digest: str, crossing: Crossing,
                              declared_by: str, now: datetime) -> DeclarationCreated:
        assert self.signing_key is not None
        kind, country, items = crossing.kind, crossing.country, list(crossing.items)
        sequence = domain.next_sequence(await repo.used_sequences(conn, carnet.number, kind.value))
        claims = DeclarationClaims(
            carnet_number=carnet.number, transaction_code=new_transaction_code(), kind=kind, country=country,
            items=tuple(sorted(set(items))), general_list_digest=digest[:32], sequence=sequence,
            carnet_expiry=carnet.expiry_date, token_id=uuid4(), issued_at=now.replace(microsecond=0),
            expires_at=(now + self.token_ttl).replace(microsecond=0),
        )
        token = sign_token(claims.to_cwt(), self.signing_key)
        declaration_id = uuid4()
        await repo.insert_declaration(
            conn, declaration_id=declaration_id, carnet_number=carnet.number, kind=kind.value, country=country,
            items=list(claims.items), sequence=sequence, transaction_code=claims.transaction_code,
            token_id=claims.token_id, token=token, token_expires_at=claims.expires_at, declared_by=declared_by,
            closes=domain.closed_reference(carnet, crossing), intended_use=crossing.intended_use,
            created_at=now,  # the service's clock, as for the transaction's recorded_at (submitted -> decided)
        )
        submitted = DeclarationSubmitted(
            declaration_id=declaration_id, carnet_number=carnet.number, kind=kind, country=country,
            items=list(claims.items), sequence=sequence, declared_by=declared_by, transaction_code=claims.transaction_code,
        )
        issued = TokenIssued(declaration_id=declaration_id, carnet_number=carnet.number, token_id=claims.token_id,
                             kid=self.signing_key.kid.hex(), expires_at=claims.expires_at)
        env = envelope_for(submitted, key=carnet.number, producer=PRODUCER)
        # Both in one round trip, in this order (the gateway files the declaration, then its token).
        await add_many(conn, [(DECLARATIONS.name, carnet.number, env, submitted), (DECLARATIONS.name, carnet.number,
                              envelope_for(issued, key=carnet.number, producer=PRODUCER, cause=env), issued)])
        return DeclarationCreated(declaration_id, carnet.number, kind, country, list(claims.items), sequence,
                                  claims.transaction_code, token, claims.expires_at)


    # --- life cycle (R5, R6, R7, R17) ------------------------------------------------------------

    async def _status(self, conn: asyncpg.Connection, cause: Inbound[Payload] | None, number: str, status: str, rule: str,
                      successor: str | None, reason: str) -> None:
        await emit(conn, CARNET_STATUS.name, CarnetStatusChanged(
            carnet_number=number, status=status, rule=rule, successor=successor, reason=reason, changed_at=self.clock(),
        ), key=number, producer=PRODUCER, cause=cause.envelope if cause else None)

    async def _moved(self, conn: asyncpg.Connection, cause: Inbound[Payload], carnet_number: str, why: str, rule: str,
                     items: list[domain.Item], successor: domain.Carnet | None = None) -> None:
        """Tell watchers of goods abroad (the claims worker) what a non-crossing event did to them."""
        if not items:
            return
        await emit(conn, TRANSACTIONS.name, ItemLocationsChanged(
            carnet_number=carnet_number, cause=why, rule=rule,
            items=[ItemLocation(item_number=i.number, location=i.location, country=i.country, final_date=i.final_date)
                   for i in items],
            successor=successor.number if successor else None,
            successor_expiry=successor.expiry_date if successor else None, changed_at=self.clock(),
        ), key=carnet_number, producer=PRODUCER, cause=cause.envelope)

    def _refused(self, event: str, number: str, inbound: Inbound[Payload] | None, exc: LifecycleRefused) -> None:
        self.metrics.lifecycle(event, "refused").inc()
        log.warning("%s for carnet %s refused (message %s): %s", event, number,
                    inbound.envelope.message_id if inbound else "-", exc)

    async def _decided(self, conn: asyncpg.Connection, inbound: Inbound[Payload], request_id: str, kind: str,
                       original: str, successor: str, refused: LifecycleRefused | None = None) -> None:
        """Tell the issuer (and through it the NGA that asked) whether the ledger took the successor."""
        await emit(conn, ISSUANCE_OUTCOMES.name, CarnetSuccessionDecided(
            request_id=request_id, kind=kind, original_number=original, successor_number=successor,
            outcome="refused" if refused else "applied", reasons=refused.reasons if refused else [],
            decided_at=self.clock(),
        ), key=original, producer=PRODUCER, cause=inbound.envelope)

    async def _unknown_original(self, conn: asyncpg.Connection, inbound: Inbound[Payload], request_id: str, kind: str,
                                original: str, successor: str) -> None:
        """The NGA gets a refusal rather than silence (a dead letter would answer nobody)."""
        rule = "R5" if kind == "duplicate" else "R6"
        log.warning("%s %s names unknown carnet %s (message %s): refused", kind, successor, original,
                    inbound.envelope.message_id)
        self.metrics.lifecycle(kind, "refused").inc()
        await self._decided(conn, inbound, request_id, kind, original, successor, LifecycleRefused([Reason(
            rule=rule, code="unknown_original", message=f"the ledger knows no carnet {original}")]))

    async def _duplicate(self, conn: asyncpg.Connection, inbound: Inbound[Payload], d: DuplicateCarnetIssued) -> None:
        loaded = await repo.load_carnet(conn, d.original_number, lock=True)
        if loaded is None:
            # Same key as the original's CarnetIssued, so it cannot be still on its way: truly unknown.
            return await self._unknown_original(conn, inbound, d.request_id, "duplicate", d.original_number,
                                                d.duplicate_number)
        original, row = loaded
        try:
            voided, copy = domain.duplicate(original, d.duplicate_number)
        except LifecycleRefused as exc:
            await self._decided(conn, inbound, d.request_id, "duplicate", d.original_number, d.duplicate_number, exc)
            return self._refused("duplicate", d.original_number, inbound, exc)
        await repo.save_carnet_state(conn, voided, [])
        await repo.insert_successor(conn, copy, row)
        now = self.clock()
        # Both chains say it: the original where it ends, the duplicate where it begins.
        await history_store.append(conn, original.number, history.DUPLICATE, d.model_dump(), now)
        await history_store.append(conn, copy.number, history.DUPLICATE, d.model_dump(), now)
        await self._status(conn, inbound, original.number, "voided", "R5", copy.number,
                           f"replaced by duplicate {copy.number} ({d.reason})")
        await self._moved(conn, inbound, original.number, "duplicate", "R5", copy.left_home(), copy)
        await self._decided(conn, inbound, d.request_id, "duplicate", original.number, copy.number)
        self.metrics.lifecycle("duplicate", "applied").inc()

    async def _replacement(self, conn: asyncpg.Connection, inbound: Inbound[Payload], r: ReplacementCarnetIssued) -> None:
        loaded = await repo.load_carnet(conn, r.original_number, lock=True)
        if loaded is None:
            return await self._unknown_original(conn, inbound, r.request_id, "replacement", r.original_number,
                                                r.replacement.carnet_number)
        original, row = loaded
        new = r.replacement
        fresh = domain.Carnet(number=new.carnet_number, home_country=new.nga, countries=tuple(new.countries),
                              expiry_date=new.expiry_date, holder_id=new.holder_id,
                              representative_ids=tuple(new.representative_ids),
                              items={i.item_number: domain.Item(i.item_number) for i in new.items})
        book = self.policy()
        try:
            kept, taken_over, moved = domain.replacement(original, fresh, r.requested_at, r.approved_at, book.for_country,
                                                             now=self.clock())
        except LifecycleRefused as exc:
            await self._decided(conn, inbound, r.request_id, "replacement", r.original_number, new.carnet_number, exc)
            for code in {x.code for x in exc.reasons} & domain.R6_CLOCK_CODES:
                self.metrics.r6_timestamps_refused(code).inc()
            return self._refused("replacement", r.original_number, inbound, exc)
        await repo.save_carnet_state(conn, kept, moved)
        await repo.insert_successor(conn, taken_over, row, issued=new)
        record = {"request_id": r.request_id, "original_number": original.number, "replacement_number": new.carnet_number,
                  "requested_at": r.requested_at, "approved_at": r.approved_at, "items_transferred": sorted(moved)}
        for number in (original.number, new.carnet_number):
            await history_store.append(conn, number, history.REPLACEMENT, record, self.clock())
        await self._moved(conn, inbound, original.number, "replacement", "R6", [taken_over.items[n] for n in moved],
                          taken_over)
        await self._decided(conn, inbound, r.request_id, "replacement", original.number, new.carnet_number)
        self.metrics.lifecycle("replacement", "applied").inc()

    async def _accounted(self, conn: asyncpg.Connection, inbound: Inbound[Payload], a: ItemsAccountedFor) -> None:
        loaded = await repo.load_carnet(conn, a.carnet_number, lock=True)
        if loaded is None:
            raise LookupError(f"duty receipt {a.duty_receipt} names unknown carnet {a.carnet_number}")
        try:
            carnet = domain.account_for(loaded[0], a.items, a.country, a.duty_receipt)
        except LifecycleRefused as exc:
            return self._refused("duty_receipt", a.carnet_number, inbound, exc)
        await repo.save_carnet_state(conn, carnet, sorted(set(a.items)))
        await history_store.append(conn, a.carnet_number, history.DUTY_RECEIPT, a.model_dump(), self.clock())
        await self._moved(conn, inbound, a.carnet_number, "duty_receipt", "R17",
                          [carnet.items[n] for n in sorted(set(a.items))])
        self.metrics.lifecycle("duty_receipt", "applied").inc()

    async def _cancellation(self, conn: asyncpg.Connection, inbound: Inbound[Payload], c: CancellationPosted) -> None:
        """Undo a committed crossing with the holder's cancellation code and the officer's reason."""
        if await repo.cancellation_decided(conn, c.cancellation_id):
            return
        now = self.clock()
        found = await repo.committed_by_code(conn, c.transaction_code, lock=True)
        loaded = await repo.load_carnet(conn, found["carnet_number"], lock=True) if found else None
        try:
            if found is None or loaded is None or found["carnet_number"] != c.carnet_number:
                raise LifecycleRefused([Reason(rule="cancellation", code="not_committed", message=(
                    f"no committed transaction of carnet {c.carnet_number} has transaction code {c.transaction_code}"))])
            committed = repo.committed_of(found)
            carnet = cancel(loaded[0], committed, c.cancellation_code, c.country)
        except LifecycleRefused as exc:
            await repo.record_cancellation_request(conn, c.cancellation_id, c.carnet_number, c.transaction_code,
                                                   c.officer_id, "refused", exc.reasons, now)
            await emit(conn, TRANSACTIONS.name, CancellationRefused(
                cancellation_id=c.cancellation_id, carnet_number=c.carnet_number, transaction_code=c.transaction_code,
                reasons=exc.reasons, refused_at=now,
            ), key=c.carnet_number, producer=PRODUCER, cause=inbound.envelope)
            self.metrics.cancellations(exc.reasons[0].code or "refused").inc()
            log.warning("cancellation %s of %s on carnet %s refused (message %s): %s", c.cancellation_id,
                        c.transaction_code, c.carnet_number, inbound.envelope.message_id, exc)
            return
        items = sorted(committed.items_after)
        await repo.save_carnet_state(conn, carnet, items)
        await repo.mark_cancelled(conn, found["transaction_id"], found["declaration_id"], c.cancellation_id, now,
                                  c.officer_id, c.reason)
        await repo.record_cancellation_request(conn, c.cancellation_id, c.carnet_number, c.transaction_code,
                                               c.officer_id, "cancelled", [], now)
        locations = [ItemLocation(item_number=n, location=carnet.items[n].location, country=carnet.items[n].country,
                                  final_date=carnet.items[n].final_date) for n in items]
        record = {"cancellation_id": c.cancellation_id, "transaction_id": found["transaction_id"],
                  "transaction_code": c.transaction_code, "kind": committed.kind.value, "sequence": committed.sequence,
                  "reason": c.reason, "office_id": c.office_id, "officer_id": c.officer_id, "posted_at": c.posted_at,
                  "item_locations": [loc.model_dump() for loc in locations]}
        appended = await history_store.append_entry(conn, carnet.number, history.CANCELLATION, record, now)
        cancelled = await emit(conn, TRANSACTIONS.name, TransactionCancelled(
            cancellation_id=c.cancellation_id, transaction_id=found["transaction_id"], carnet_number=carnet.number,
            transaction_code=c.transaction_code, kind=committed.kind, country=committed.country, items=items,
            sequence=committed.sequence, reason=c.reason, office_id=c.office_id, office_timezone=c.office_timezone,
            officer_id=c.officer_id, carnet_expiry=carnet.expiry_date, item_locations=locations, cancelled_at=now,
            history_head=appended.head,
        ), key=carnet.number, producer=PRODUCER, cause=inbound.envelope)
        await emit(conn, NOTIFICATION_REQUESTS.name, ConfirmationRequested(
            confirmation_id=uuid4(), carnet_number=carnet.number,
            recipient_ids=[carnet.holder_id, *carnet.representative_ids], transaction_id=found["transaction_id"],
            kind=committed.kind, country=committed.country, items=items, decision="cancelled", recorded_at=now,
            history_position=appended.position,
        ), key=carnet.number, producer=PRODUCER, cause=cancelled)
        self.metrics.cancellations("cancelled").inc()

    async def close(self, conn: asyncpg.Connection, carnet_number: str, party: str) -> domain.Closing:
        """R7: the holder returns a discharged carnet; raises LifecycleRefused otherwise."""
        async with conn.transaction():
            loaded = await repo.load_carnet(conn, carnet_number, lock=True)
            if loaded is None or loaded[0].holder_id != party:
                raise LookupError(carnet_number)
            try:
                closed, closing = domain.close(loaded[0], party)
            except LifecycleRefused as exc:
                self._refused("closure", carnet_number, None, exc)
                raise
            now = self.clock()
            await repo.close_carnet(conn, carnet_number, now, closing.reason)
            await history_store.append(conn, carnet_number, history.CLOSURE, {
                "party": party, "reason": closing.reason, "home": closing.home, "accounted": closing.accounted,
                "transferred": closing.transferred, "closed_at": now}, now)
            await self._status(conn, None, carnet_number, "closed", "R7", closed.successor, closing.reason)
        self.metrics.lifecycle("closure", "applied").inc()
        return closing


def _mismatches(c: CustomsCommitPosted, declaration: asyncpg.Record) -> list[Reason]:
    """The commit must be for exactly what was declared and signed."""
    out = []
    if c.carnet_number != declaration["carnet_number"] or c.transaction_code != declaration["transaction_code"]:
        out.append(Reason(rule="R9", message="the commit does not match the declaration's carnet or transaction code"))
    if c.kind.value != declaration["kind"] or sorted(c.items) != list(declaration["items"]) or c.country != declaration["country"]:
        out.append(Reason(rule="R9", message="the commit's kind, country or items differ from the declaration"))
    return out


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return domain.LATEST_ZONE
