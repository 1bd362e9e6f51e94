"""Thin handlers of the claims worker: customs actions and the associations' answers move claims, and every step
is written with its events in one transaction; the watch list's handlers are inherited (watch_handlers.py)."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from claims_worker import claims as machine, repository as repo
from claims_worker.claims import Claim, ClaimError, Step
from claims_worker.watch_handlers import WatchListHandlers
from contracts import claims as c
from contracts.claims import ClaimState as S
from contracts.deadlines import (
    r21_evidence_expires_at,
    r22_payment_overdue_at,
    r23_refund_window_closes_at,
)
from contracts.envelope import Envelope
from contracts.messages import (
    Payload,
)
from contracts.periods import local_date
from contracts.topics import CLAIMS_EVENTS, CLAIMS_NGA_NOTICES
from runtime.commit_hooks import once_committed
from runtime.consumer import Inbound
from runtime.outbox import emit

log = logging.getLogger(__name__)
PRODUCER = "claims_worker"


class ClaimsHandlers(WatchListHandlers):
    # --- customs actions (ata.claims.customs-actions.v1) -------------------------------------

    async def customs_action(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        p = inbound.payload
        if isinstance(p, c.SeizureStarted):
            start = local_date(p.started_at, ZoneInfo(p.office_timezone))
            await repo.add_seizure(
                conn, p.seizure_id, p.carnet_number, p.country, p.items, p.personal_lawsuit, p.office_timezone, start
            )
            await self.replan(conn, p.carnet_number)
        elif isinstance(p, c.SeizureEnded):
            row = await repo.seizure(conn, p.seizure_id, p.carnet_number)
            if row is None:
                return await self.refuse(conn, inbound, None, "R19", f"unknown seizure {p.seizure_id}")
            end = local_date(p.ended_at, ZoneInfo(row["office_timezone"]))
            if end < row["start_date"]:
                return await self.refuse(
                    conn, inbound, None, "R19", f"seizure ends {end} before it began {row['start_date']}"
                )
            await repo.end_seizure(conn, p.seizure_id, end)
            await self.replan(conn, p.carnet_number)
        elif isinstance(p, c.DutyAssessed):
            await repo.set_duties(
                conn,
                p.carnet_number,
                [
                    (a.item_number, a.currency, a.duties, a.claimed if a.claimed is not None else a.duties)
                    for a in p.assessments
                ],
                p.assessed_at,
            )
            for claim in await repo.claims_awaiting_memo(conn, p.carnet_number):
                await self.issue_memo(conn, claim, self.clock(), inbound.envelope)
        elif isinstance(p, c.DiscrepancyFound):
            await self.discrepancy(conn, inbound, p)
        elif isinstance(p, c.RefundDecided):
            await self.on_claim(
                conn,
                inbound,
                p.claim_id,
                p.decided_at,
                lambda cl, day: machine.decide_refund(cl, day, dict(p.granted), p.reason),
            )

    async def discrepancy(self, conn: asyncpg.Connection, inbound: Inbound[Payload], p: c.DiscrepancyFound) -> None:
        """R24: a misuse found after re-exportation opens a claim if customs claim in time; a memo follows
        at once when the duties are already assessed, else when customs assess them (R22, R25)."""
        expiry = await repo.expiry(conn, p.carnet_number)
        if expiry is None:
            return await self.refuse(
                conn,
                inbound,
                None,
                "R24",
                f"no transaction of carnet {p.carnet_number} was "
                "recorded: its validity, which R24 counts from, is unknown",
            )
        try:
            step = machine.open_discrepancy(
                p.discrepancy_id,
                p.carnet_number,
                p.country,
                tuple(p.items),
                p.office_timezone,
                expiry,
                local_date(p.found_at, ZoneInfo(p.office_timezone)),
                p.description,
            )
        except ClaimError as exc:
            return await self.refuse(conn, inbound, p.discrepancy_id, exc.rule, str(exc))
        await self.apply(conn, step, p.found_at, inbound.envelope)
        await self.issue_memo(conn, step.claim, self.clock(), inbound.envelope)

    # --- the associations' answers (ata.claims.nga-responses.v1) -----------------------------

    async def nga_response(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        p = inbound.payload
        if isinstance(p, c.EvidenceSubmitted):
            await self.on_claim(
                conn,
                inbound,
                p.claim_id,
                p.submitted_at,
                lambda cl, day: machine.evidence(
                    cl, day, departure_validated=p.departure_validated, reexported_on=p.reexported_on
                ),
            )
        elif isinstance(p, c.PaymentMade):
            await self.on_claim(
                conn, inbound, p.claim_id, p.paid_at, lambda cl, day: machine.pay(cl, day, dict(p.amounts))
            )
        elif isinstance(p, c.RefundRequested):
            await self.on_claim(
                conn,
                inbound,
                p.claim_id,
                p.requested_at,
                lambda cl, day: machine.request_refund(cl, day, dict(p.amounts)),
            )

    async def on_claim(
        self, conn: asyncpg.Connection, inbound: Inbound[Payload], claim_id, at: datetime, step_fn
    ) -> None:  # type: ignore[no-untyped-def]
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

    async def refuse(
        self,
        conn: asyncpg.Connection,
        inbound: Inbound[Payload],
        claim_id,
        rule: str | None,  # type: ignore[no-untyped-def]
        reason: str,
    ) -> None:
        """The input is well-formed but the rules refuse it: say so on the claims topic, lose nothing."""
        carnet = inbound.payload.carnet_number  # type: ignore[attr-defined]
        log.warning(
            "claims: refused %s message %s for carnet %s: %s",
            inbound.envelope.type,
            inbound.envelope.message_id,
            carnet,
            reason,
        )
        once_committed(self.metrics.refused(inbound.envelope.type, rule or "illegal").inc)
        await emit(
            conn,
            CLAIMS_EVENTS.name,
            c.ClaimActionRefused(
                claim_id=claim_id,
                carnet_number=carnet,
                action=inbound.envelope.type,
                rule=rule,
                reason=reason[:500],
                refused_message_id=inbound.envelope.message_id,
                at=self.clock(),
            ),
            key=carnet,
            producer=PRODUCER,
            cause=inbound.envelope,
        )

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
        await emit(
            conn,
            CLAIMS_NGA_NOTICES.name,
            c.DutyMemoIssued(
                claim_id=s.claim_id,
                carnet_number=s.carnet_number,
                nga=s.nga,
                country=s.country,
                items=list(s.items),
                duties_assessed=duties,
                liability_caps=machine.liability_caps(duties),
                amounts=s.memo_amounts,
                memo_date=s.memo_date,
                payment_deadline=s.payment_deadline,
                issued_at=now,
            ),
            key=s.carnet_number,
            producer=PRODUCER,
            cause=cause,
        )
        return True

    async def apply(self, conn: asyncpg.Connection, step: Step, at: datetime, cause: Envelope | None) -> None:
        """Save the claim, swap its pending deadline for the next one, and announce the step."""
        s, now = step.claim, self.clock()
        await repo.save_claim(conn, s, now)
        await repo.cancel_for_claim(conn, s.claim_id)
        tz = ZoneInfo(s.office_timezone)
        if s.state is S.NOTICED and s.notice_date and s.evidence_deadline:
            await repo.schedule_for_claim(
                conn, s, "evidence_window", r21_evidence_expires_at(s.notice_date, tz), s.evidence_deadline, now
            )
        elif s.state is S.DUTY_MEMO and s.memo_date and s.payment_deadline:
            await repo.schedule_for_claim(
                conn, s, "payment", r22_payment_overdue_at(s.memo_date, tz), s.payment_deadline, now
            )
        elif s.state is S.PAID and s.payment_date and s.refund_deadline:
            await repo.schedule_for_claim(
                conn, s, "refund_window", r23_refund_window_closes_at(s.payment_date, tz), s.refund_deadline, now
            )
        await emit(
            conn,
            CLAIMS_EVENTS.name,
            c.ClaimStateChanged(
                claim_id=s.claim_id,
                carnet_number=s.carnet_number,
                country=s.country,
                items=list(s.items),
                from_state=step.from_state,
                to_state=s.state,
                rule=step.rule,
                on=step.on,
                at=at,
                next_deadline=step.next_deadline,
                amounts=step.amounts,
                reason=step.reason,
            ),
            key=s.carnet_number,
            producer=PRODUCER,
            cause=cause,
        )
        if step.fee_flag:
            once_committed(self.metrics.fee_flags("evidence" if step.rule in ("R21", "R26") else "refund").inc)
            await emit(
                conn,
                CLAIMS_EVENTS.name,
                c.RegularizationFeeFlagged(
                    claim_id=s.claim_id,
                    carnet_number=s.carnet_number,
                    country=s.country,
                    items=list(s.items),
                    reason="the goods left without a validated departure (evidence of re-exportation)",
                    flagged_at=at,
                ),
                key=s.carnet_number,
                producer=PRODUCER,
                cause=cause,
            )
        once_committed(self.metrics.transitions(s.state.value, step.rule).inc)
