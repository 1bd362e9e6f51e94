"""Thin handlers of the claims worker: the watch list follows the ledger, customs actions and the
associations' answers move claims, and every step is written with its events in one transaction."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge

from claims_worker import claims as machine, domain, repository as repo, watch_repository as watch_repo
from claims_worker.claims import Claim, ClaimError, Step
from contracts import claims as c
from contracts.claims import ClaimState as S
from contracts.deadlines import (
    r21_evidence_expires_at,
    r22_payment_overdue_at,
    r23_refund_window_closes_at,
)
from contracts.envelope import Envelope
from contracts.kinds import DeclarationKind
from contracts.messages import (
    ConfirmationRequested,
    ItemLocationsChanged,
    Payload,
    TransactionCancelled,
    TransactionRecorded,
)
from contracts.periods import local_date
from contracts.topics import CLAIMS_EVENTS, CLAIMS_NGA_NOTICES
from runtime.clock import Clock
from runtime.commit_hooks import once_committed
from runtime.consumer import Inbound
from runtime.outbox import Queued, emit, envelope_for

log = logging.getLogger(__name__)
PRODUCER = "claims_worker"


class ClaimsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transactions = Counter("ata_claims_transactions_seen_total", "Transactions taken into the watch list.",
                                    ["decision"], registry=registry).labels
        self.watch_changes = Counter("ata_claims_watch_changes_total", "Items added to or released from the watch list.",
                                     ["change"], registry=registry).labels
        self.transitions = Counter("ata_claims_transitions_total", "Claim transitions, by state reached and rule.",
                                   ["to_state", "rule"], registry=registry).labels
        self.by_state = Gauge("ata_claims_by_state", "Claims in each state (refreshed by the scheduler).", ["state"],
                              registry=registry).labels
        self.refused = Counter("ata_claims_inputs_refused_total", "Customs or association inputs the rules refused.",
                               ["action", "rule"], registry=registry).labels
        self.deadlines_acted = Counter("ata_claims_deadlines_acted_total", "Deadlines acted on, by kind and outcome.",
                                       ["kind", "outcome"], registry=registry).labels
        self.deadlines_failed = Counter("ata_claims_deadline_failures_total", "Failed attempts to act on a deadline.",
                                        ["kind"], registry=registry).labels
        self.deadlines_due = Gauge("ata_claims_deadlines_due", "Deadlines due and not yet acted on.", registry=registry)
        # Alerted on (deploy/prometheus): a deadline close with nobody having acted yet is the last chance to act.
        self.deadlines_soon = Gauge("ata_claims_deadlines_within_7d",
                                    "Pending deadlines (final re-export date, evidence, payment, refund window) lapsing "
                                    "within 7 days, by kind.", ["kind"], registry=registry).labels
        self.fee_flags = Counter("ata_claims_regularization_fee_flags_total",
                                 "R27 regularization fees flagged, by what showed the departure was not validated.",
                                 ["source"], registry=registry).labels
        self.lag = Gauge("ata_claims_scheduler_lag_seconds", "Age of the oldest due deadline not yet acted on.",
                         registry=registry)


class ClaimsHandlers:
    def __init__(self, metrics: ClaimsMetrics, clock: Clock) -> None:
        self.metrics = metrics
        self.clock = clock

    # --- the ledger (ata.transactions.v1) and whom to remind (ata.notifications.requests.v1) ----

    async def ledger_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        if isinstance(inbound.payload, ItemLocationsChanged):
            await self.locations_changed(conn, inbound)  # type: ignore[arg-type]
        elif isinstance(inbound.payload, TransactionRecorded | TransactionCancelled):
            await self.transaction_recorded(conn, inbound)  # type: ignore[arg-type]
        # CancellationRefused: nothing moved.

    async def locations_changed(self, conn: asyncpg.Connection, inbound: Inbound[ItemLocationsChanged]) -> None:
        ch = inbound.payload
        moves, released = domain.changes(ch)
        if ch.successor and ch.successor_expiry:
            await repo.set_expiry(conn, ch.successor, ch.successor_expiry, self.clock())
        for m in moves:
            await watch_repo.move_watch(conn, ch.carnet_number, m, ch.successor_expiry, self.clock())
        if released:
            await watch_repo.release(conn, ch.carnet_number, released)
        await self.replan(conn, ch.carnet_number)
        if ch.successor:
            await self.replan(conn, ch.successor)
        self.metrics.watch_changes("moved").inc(len(moves))
        self.metrics.watch_changes("released").inc(len(released))

    async def transaction_recorded(self, conn: asyncpg.Connection,
                                   inbound: Inbound[TransactionRecorded | TransactionCancelled]) -> None:
        t, now = inbound.payload, self.clock()
        watch, done = domain.watches(t)
        if watch or done:
            # At most two statements, whatever the items: the writes with the plan's inputs as they leave them, then
            # the plan if it changed.
            home = isinstance(t, TransactionRecorded) and t.decision == "committed" and t.kind is DeclarationKind.REIMPORTATION
            inputs, abroad, pending = await watch_repo.record_transaction(
                conn, carnet_number=t.carnet_number, carnet_expiry=t.carnet_expiry, office_timezone=t.office_timezone,
                transaction_id=t.transaction_id, now=now, watch=watch, done=done, abroad_of=done if home else [])
            await self.replace_plan(conn, t.carnet_number, inputs, self.home_without_departure(inbound, abroad), pending)
        else:
            await repo.set_expiry(conn, t.carnet_number, t.carnet_expiry, now)
        decided, watched, released = t.decision if isinstance(t, TransactionRecorded) else "cancelled", len(watch), len(done)

        def count() -> None:
            self.metrics.transactions(decided).inc()
            self.metrics.watch_changes("watched").inc(watched)
            self.metrics.watch_changes("released").inc(released)

        once_committed(count)

    def home_without_departure(self, inbound: Inbound[Payload], abroad: dict[str, list[int]]) -> list[Queued]:
        """R27 (seed 001): goods re-imported home while the watch list still had them abroad or in transit
        (`abroad`, per country): their departure from that country was never validated. Flag the regularization
        fee that country's customs may charge "even if a claim does not occur"."""
        t = inbound.payload
        flags: list[Queued] = []
        for country, numbers in abroad.items():
            log.warning("claims: carnet %s items %s came home without a validated departure from %s (message %s): "
                        "R27 fee flagged", t.carnet_number, numbers, country, inbound.envelope.message_id)  # type: ignore[attr-defined]
            flag = c.RegularizationFeeFlagged(
                claim_id=None, carnet_number=t.carnet_number, country=country, items=numbers,  # type: ignore[attr-defined]
                reason=f"re-imported home without a validated departure from {country}", flagged_at=self.clock())
            envelope = envelope_for(flag, key=t.carnet_number, producer=PRODUCER, cause=inbound.envelope)  # type: ignore[attr-defined]
            flags.append((CLAIMS_EVENTS.name, t.carnet_number, envelope, flag))  # type: ignore[attr-defined]
            once_committed(self.metrics.fee_flags("reimportation").inc)
        return flags

    async def notification_request(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        """The holder and representatives a crossing was confirmed to are the ones to remind (R19)."""
        p = inbound.payload
        if isinstance(p, ConfirmationRequested):
            await repo.set_recipients(conn, p.carnet_number, p.recipient_ids, self.clock())
        # ReminderRequested is ours: nothing to learn from it.

    async def replan(self, conn: asyncpg.Connection, carnet_number: str) -> None:
        await self.replace_plan(conn, carnet_number, await watch_repo.plan_inputs(conn, carnet_number), [])

    async def replace_plan(self, conn: asyncpg.Connection, carnet_number: str, inputs: watch_repo.PlanInputs,
                           queued: list[Queued], pending: set[tuple[Any, ...]] | None = None) -> None:
        """R19: recompute the carnet's reminders and overdue checks from the watch list and seizures;
        items already under a claim are chased by the claim, not planned again. `queued` goes with it.
        `pending`: the carnet's pending ones (watch_repo.plan_rows), when known: the same plan again writes nothing."""
        claimed, watching, seized = inputs
        watched = [w for w in watching if (w.country, w.item_number) not in claimed]
        planned = domain.plan(watched, seized)
        if queued or pending is None or watch_repo.plan_rows(planned) != pending:
            await watch_repo.replace_planned(conn, carnet_number, planned, self.clock(), queued)

    # --- customs actions (ata.claims.customs-actions.v1) -------------------------------------

    async def customs_action(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        p = inbound.payload
        if isinstance(p, c.SeizureStarted):
            start = local_date(p.started_at, ZoneInfo(p.office_timezone))
            await repo.add_seizure(conn, p.seizure_id, p.carnet_number, p.country, p.items, p.personal_lawsuit,
                                   p.office_timezone, start)
            await self.replan(conn, p.carnet_number)
        elif isinstance(p, c.SeizureEnded):
            row = await repo.seizure(conn, p.seizure_id, p.carnet_number)
            if row is None:
                return await self.refuse(conn, inbound, None, "R19", f"unknown seizure {p.seizure_id}")
            end = local_date(p.ended_at, ZoneInfo(row["office_timezone"]))
            if end < row["start_date"]:
                return await self.refuse(conn, inbound, None, "R19", f"seizure ends {end} before it began {row['start_date']}")
            await repo.end_seizure(conn, p.seizure_id, end)
            await self.replan(conn, p.carnet_number)
        elif isinstance(p, c.DutyAssessed):
            await repo.set_duties(conn, p.carnet_number, [(a.item_number, a.currency, a.duties,
                                                           a.claimed if a.claimed is not None else a.duties)
                                                          for a in p.assessments], p.assessed_at)
            for claim in await repo.claims_awaiting_memo(conn, p.carnet_number):
                await self.issue_memo(conn, claim, self.clock(), inbound.envelope)
        elif isinstance(p, c.DiscrepancyFound):
            await self.discrepancy(conn, inbound, p)
        elif isinstance(p, c.RefundDecided):
            await self.on_claim(conn, inbound, p.claim_id, p.decided_at,
                                lambda cl, day: machine.decide_refund(cl, day, dict(p.granted), p.reason))

    async def discrepancy(self, conn: asyncpg.Connection, inbound: Inbound[Payload], p: c.DiscrepancyFound) -> None:
        """R24: a misuse found after re-exportation opens a claim if customs claim in time; a memo follows
        at once when the duties are already assessed, else when customs assess them (R22, R25)."""
        expiry = await repo.expiry(conn, p.carnet_number)
        if expiry is None:
            return await self.refuse(conn, inbound, None, "R24", f"no transaction of carnet {p.carnet_number} was "
                                     "recorded: its validity, which R24 counts from, is unknown")
        try:
            step = machine.open_discrepancy(p.discrepancy_id, p.carnet_number, p.country, tuple(p.items),
                                            p.office_timezone, expiry, local_date(p.found_at, ZoneInfo(p.office_timezone)),
                                            p.description)
        except ClaimError as exc:
            return await self.refuse(conn, inbound, p.discrepancy_id, exc.rule, str(exc))
        await self.apply(conn, step, p.found_at, inbound.envelope)
        await self.issue_memo(conn, step.claim, self.clock(), inbound.envelope)

    # --- the associations' answers (ata.claims.nga-responses.v1) -----------------------------

    async def nga_response(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        p = inbound.payload
        if isinstance(p, c.EvidenceSubmitted):
            await self.on_claim(conn, inbound, p.claim_id, p.submitted_at,
                                lambda cl, day: machine.evidence(cl, day, departure_validated=p.departure_validated,
                                                                 reexported_on=p.reexported_on))
        elif isinstance(p, c.PaymentMade):
            await self.on_claim(conn, inbound, p.claim_id, p.paid_at, lambda cl, day: machine.pay(cl, day, dict(p.amounts)))
        elif isinstance(p, c.RefundRequested):
            await self.on_claim(conn, inbound, p.claim_id, p.requested_at,
                                lambda cl, day: machine.request_refund(cl, day, dict(p.amounts)))

    async def on_claim(self, conn: asyncpg.Connection, inbound: Inbound[Payload], claim_id, at: datetime, step_fn) -> None:  # type: ignore[no-untyped-def]
        """Apply one step on the day the act happened, in the claim's office time zone."""
        claim = await repo.claim_for_update(conn, claim_id)
        carnet = inbound.payload.carnet_number  # type: ignore[attr-defined]
        if claim is None or claim.carnet_number != carnet:
            return await self.refuse(conn, inbound, None, None, f"no claim {claim_id} on carnet {carnet}")
        try:
            step = step_fn(claim, local_date(at, ZoneInfo(claim.office_timezone)))
        except ClaimError as exc:
            return await self.refuse(conn, inbound, claim.claim_id, exc.rule, str(exc))
        await self.apply(conn, step, at, inbound.envelope)

    async def refuse(self, conn: asyncpg.Connection, inbound: Inbound[Payload], claim_id, rule: str | None,  # type: ignore[no-untyped-def]
                     reason: str) -> None:
        """The input is well-formed but the rules refuse it: say so on the claims topic, lose nothing."""
        carnet = inbound.payload.carnet_number  # type: ignore[attr-defined]
        log.warning("claims: refused %s message %s for carnet %s: %s", inbound.envelope.type,
                    inbound.envelope.message_id, carnet, reason)
        once_committed(self.metrics.refused(inbound.envelope.type, rule or "illegal").inc)
        await emit(conn, CLAIMS_EVENTS.name, c.ClaimActionRefused(
            claim_id=claim_id, carnet_number=carnet, action=inbound.envelope.type, rule=rule, reason=reason[:500],
            refused_message_id=inbound.envelope.message_id, at=self.clock()), key=carnet, producer=PRODUCER,
            cause=inbound.envelope)

    # --- steps, shared with the scheduler ------------------------------------------------------

    async def issue_memo(self, conn: asyncpg.Connection, claim: Claim, now: datetime, cause: Envelope | None) -> bool:
        """R22/R25: a memo once the evidence window expired and customs assessed the duties."""
        duties, claimed = await repo.duties(conn, claim.carnet_number, claim.items)
        if not duties:
            log.info("claims: claim %s of carnet %s waits for a duty assessment", claim.claim_id, claim.carnet_number)
            return False
        step = machine.issue_duty_memo(claim, local_date(now, ZoneInfo(claim.office_timezone)), duties, claimed)
        await self.apply(conn, step, now, cause)
        s = step.claim
        assert s.memo_date and s.payment_deadline
        await emit(conn, CLAIMS_NGA_NOTICES.name, c.DutyMemoIssued(
            claim_id=s.claim_id, carnet_number=s.carnet_number, nga=s.nga, country=s.country, items=list(s.items),
            duties_assessed=duties, liability_caps=machine.liability_caps(duties), amounts=s.memo_amounts,
            memo_date=s.memo_date, payment_deadline=s.payment_deadline, issued_at=now),
            key=s.carnet_number, producer=PRODUCER, cause=cause)
        return True

    async def apply(self, conn: asyncpg.Connection, step: Step, at: datetime, cause: Envelope | None) -> None:
        """Save the claim, swap its pending deadline for the next one, and announce the step."""
        s, now = step.claim, self.clock()
        await repo.save_claim(conn, s, now)
        await repo.cancel_for_claim(conn, s.claim_id)
        tz = ZoneInfo(s.office_timezone)
        if s.state is S.NOTICED and s.notice_date and s.evidence_deadline:
            await repo.schedule_for_claim(conn, s, "evidence_window", r21_evidence_expires_at(s.notice_date, tz),
                                          s.evidence_deadline, now)
        elif s.state is S.DUTY_MEMO and s.memo_date and s.payment_deadline:
            await repo.schedule_for_claim(conn, s, "payment", r22_payment_overdue_at(s.memo_date, tz), s.payment_deadline, now)
        elif s.state is S.PAID and s.payment_date and s.refund_deadline:
            await repo.schedule_for_claim(conn, s, "refund_window", r23_refund_window_closes_at(s.payment_date, tz),
                                          s.refund_deadline, now)
        await emit(conn, CLAIMS_EVENTS.name, c.ClaimStateChanged(
            claim_id=s.claim_id, carnet_number=s.carnet_number, country=s.country, items=list(s.items),
            from_state=step.from_state, to_state=s.state, rule=step.rule, on=step.on, at=at,
            next_deadline=step.next_deadline, amounts=step.amounts, reason=step.reason),
            key=s.carnet_number, producer=PRODUCER, cause=cause)
        if step.fee_flag:
            once_committed(self.metrics.fee_flags("evidence" if step.rule in ("R21", "R26") else "refund").inc)
            await emit(conn, CLAIMS_EVENTS.name, c.RegularizationFeeFlagged(
                claim_id=s.claim_id, carnet_number=s.carnet_number, country=s.country, items=list(s.items),
                reason="the goods left without a validated departure (evidence of re-exportation)", flagged_at=at),
                key=s.carnet_number, producer=PRODUCER, cause=cause)
        once_committed(self.metrics.transitions(s.state.value, step.rule).inc)
