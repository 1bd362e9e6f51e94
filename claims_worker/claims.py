"""The claim as a state machine (DOMAIN.md R19-R25, R27). Pure: no I/O, no clock; days are the
customs office's local days, computed by the caller with `contracts.periods.local_date`.

    overdue --notice--> noticed --evidence--> closed
       |                   |
       +--(limit passed)-> discharged
                           +--window expired--> evidence_expired --memo--> duty_memo --paid--> paid
                                                                              |               |
                                                                  payment_overdue --paid--> paid
    paid --refund requested--> refund_requested --decided--> refund_granted | refund_refused
    paid --refund window closed--> settled
    (customs action, after re-exportation) discrepancy --memo--> duty_memo ...   (R24)

Every step returns a `Step` (the new claim, the rule, the next deadline). A step the machine does
not have from the current state raises `IllegalTransition`; a step it has but the rules refuse
(late evidence, a late refund request, a refund above what was paid) raises `RuleRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from uuid import UUID

from contracts.claims import ClaimState as S
from contracts.deadlines import (
    r19_reexported_in_time,
    r20_association_discharged,
    r21_evidence_deadline,
    r21_evidence_in_time,
    r22_payment_deadline,
    r22_payment_overdue,
    r23_refund_deadline,
    r23_refund_in_time,
    r24_discrepancy_claim_in_time,
    r24_discrepancy_claim_limit,
)
from contracts.liability import r25_capped_claim, r25_liability_caps, r27_regularization_fee_due

Amounts = dict[str, Decimal]


class ClaimError(ValueError):
    """Base of the claim's typed errors; `rule` is None for an illegal step."""

    rule: str | None = None


class IllegalTransition(ClaimError):
    def __init__(self, state: S | None, action: str) -> None:
        super().__init__(f"{action} is not a step from state {state.value if state else 'none'}")
        self.state, self.action = state, action


class RuleRefused(ClaimError):
    def __init__(self, rule: str, reason: str) -> None:
        super().__init__(f"{reason} ({rule})")
        self.rule = rule


@dataclass(frozen=True)
class Claim:
    claim_id: UUID
    carnet_number: str
    country: str
    items: tuple[int, ...]
    office_timezone: str
    carnet_expiry: date
    reexport_deadline: date
    state: S
    notice_date: date | None = None
    evidence_deadline: date | None = None
    memo_date: date | None = None
    payment_deadline: date | None = None
    payment_date: date | None = None
    refund_deadline: date | None = None
    memo_amounts: Amounts = field(default_factory=dict)
    paid: Amounts = field(default_factory=dict)
    refund_requested: Amounts = field(default_factory=dict)

    @property
    def nga(self) -> str:
        """The guaranteeing association's country: the carnet number's prefix (R1)."""
        return self.carnet_number[:2]


@dataclass(frozen=True)
class Step:
    claim: Claim
    from_state: S | None
    rule: str
    on: date
    next_deadline: date | None = None
    amounts: Amounts | None = None
    reason: str | None = None
    fee_flag: bool = False  # R27

    @property
    def to_state(self) -> S:
        return self.claim.state


def _require(claim: Claim, action: str, *states: S) -> None:
    if claim.state not in states:
        raise IllegalTransition(claim.state, action)


def _move(claim: Claim, state: S, rule: str, on: date, **changes: object) -> Step:
    step_fields = {k: changes.pop(k) for k in ("next_deadline", "amounts", "reason", "fee_flag") if k in changes}
    return Step(replace(claim, state=state, **changes), claim.state, rule, on, **step_fields)  # type: ignore[arg-type]


def _lapse(
    claim: Claim, action: str, source: S, last_day: date | None, today: date, target: S, rule: str, reason: str
) -> Step:
    """A period ran out: from `source` to `target`, only once its last day is behind `today`."""
    _require(claim, action, source)
    assert last_day is not None
    if today <= last_day:
        raise RuleRefused(rule, f"{action}: the period runs until {last_day.isoformat()}")
    return _move(claim, target, rule, today, reason=reason)


def open_overdue(
    claim_id: UUID,
    carnet_number: str,
    country: str,
    items: tuple[int, ...],
    office_timezone: str,
    carnet_expiry: date,
    reexport_deadline: date,
    today: date,
) -> Step:
    """R19: goods still in the country after their (seizure-extended) final date."""
    if today <= reexport_deadline:
        raise RuleRefused("R19", f"not overdue before {reexport_deadline.isoformat()} has passed")
    claim = Claim(
        claim_id,
        carnet_number,
        country,
        tuple(sorted(items)),
        office_timezone,
        carnet_expiry,
        reexport_deadline,
        S.OVERDUE,
    )
    return Step(claim, None, "R19", today, reason=f"not re-exported by {reexport_deadline.isoformat()}")


def give_notice(claim: Claim, today: date) -> Step:
    """R20: notify the association while the notice limit runs; after it, the association is discharged."""
    _require(claim, "notice", S.OVERDUE)
    if r20_association_discharged(claim.carnet_expiry, today):
        return _move(claim, S.DISCHARGED, "R20", today, reason="notice limit passed: the association is discharged")
    deadline = r21_evidence_deadline(today)
    return _move(claim, S.NOTICED, "R20", today, notice_date=today, evidence_deadline=deadline, next_deadline=deadline)


def open_discrepancy(
    claim_id: UUID,
    carnet_number: str,
    country: str,
    items: tuple[int, ...],
    office_timezone: str,
    carnet_expiry: date,
    today: date,
    description: str,
) -> Step:
    """R24 (seed 004 Art. 7): where "a discrepancy in the entries of the ATA Carnet, is found following
    the re-exportation of the goods, the Customs authorities may notify the guaranteeing association to
    pay the duties and taxes owing within one year from the day following the last day of the period
    of validity". In time (the office's local day, up to and including the limit) the claim opens in
    state discrepancy and waits for the duty assessment, as a claim without evidence does (R22, R25);
    after the limit it is refused naming R24 and the limit."""
    if not r24_discrepancy_claim_in_time(carnet_expiry, today):
        raise RuleRefused(
            "R24",
            f"a discrepancy claimed on {today.isoformat()} is too late: the last day was "
            f"{r24_discrepancy_claim_limit(carnet_expiry).isoformat()}",
        )
    claim = Claim(
        claim_id,
        carnet_number,
        country,
        tuple(sorted(items)),
        office_timezone,
        carnet_expiry,
        carnet_expiry,
        S.DISCREPANCY,
    )
    return Step(claim, None, "R24", today, reason=description)


def evidence(claim: Claim, day: date, *, departure_validated: bool, reexported_on: date | None = None) -> Step:
    """R21: evidence in time closes the claim; R27 flags a departure that was not validated.

    R26 (seed 004 Art. 8): "When goods imported under an ATA Carnet are re-exported within the period
    of validity, the Customs shall duly note such condition on the carnet and cancel the carnet. In the
    case that ... the note is not made on the ATA Carnet, the Customs may cancel the ATA Carnet according
    to the verification of the documentary evidence provided by the guaranteeing association." When the
    evidence gives the day the goods left and that day is on or before their (seizure-extended) final
    date, the claim closes under R26: the carnet is cancelled for those goods. Otherwise (no day given,
    or a day after the final date) it closes under R21 as before."""
    if claim.state in (S.EVIDENCE_EXPIRED, S.DUTY_MEMO, S.PAYMENT_OVERDUE):
        raise RuleRefused(
            "R21", f"the evidence window ended on {claim.evidence_deadline}; pay, then ask for a refund (R23)"
        )
    _require(claim, "evidence", S.NOTICED)
    assert claim.notice_date is not None
    if not r21_evidence_in_time(claim.notice_date, day):
        raise RuleRefused("R21", f"evidence on {day.isoformat()}, after the last day {claim.evidence_deadline}")
    fee = r27_regularization_fee_due(departure_validated, goods_left=True)
    if reexported_on is not None and reexported_on > day:
        raise RuleRefused(
            "R26", f"evidence of {day.isoformat()} cannot show a re-exportation on {reexported_on.isoformat()}"
        )
    if reexported_on is not None and r19_reexported_in_time(claim.reexport_deadline, [], reexported_on):
        return _move(
            claim,
            S.CLOSED,
            "R26",
            day,
            fee_flag=fee,
            reason=(
                f"re-exported on {reexported_on.isoformat()}, by the final date {claim.reexport_deadline.isoformat()}: "
                "carnet cancelled for these goods on the association's evidence"
            ),
        )
    return _move(claim, S.CLOSED, "R21", day, reason="evidence of re-exportation", fee_flag=fee)


def expire_evidence_window(claim: Claim, today: date) -> Step:
    """R21: six months passed without evidence."""
    return _lapse(
        claim,
        "evidence window expiry",
        S.NOTICED,
        claim.evidence_deadline,
        today,
        S.EVIDENCE_EXPIRED,
        "R21",
        "no evidence in time",
    )


def issue_duty_memo(claim: Claim, today: date, duties: Amounts, claimed: Amounts) -> Step:
    """R22 with R25: the memo claims what customs claims, capped at the duties assessed plus 10%,
    per currency. The memo is delivered on the topic the day it is issued: R22 counts from it."""
    _require(claim, "duty memo", S.EVIDENCE_EXPIRED, S.DISCREPANCY)
    if not duties:
        raise RuleRefused("R25", "no duties assessed for the claim's items")
    amounts = r25_capped_claim(claimed, duties)
    deadline = r22_payment_deadline(today)
    return _move(
        claim,
        S.DUTY_MEMO,
        "R22",
        today,
        memo_date=today,
        payment_deadline=deadline,
        memo_amounts=amounts,
        next_deadline=deadline,
        amounts=amounts,
    )


def liability_caps(duties: Amounts) -> Amounts:
    """R25, for the memo's message."""
    return r25_liability_caps(duties)


def payment_overdue(claim: Claim, today: date) -> Step:
    """R22: the 14 days passed without payment."""
    return _lapse(
        claim,
        "payment overdue",
        S.DUTY_MEMO,
        claim.payment_deadline,
        today,
        S.PAYMENT_OVERDUE,
        "R22",
        "not paid in 14 days",
    )


def pay(claim: Claim, day: date, amounts: Amounts) -> Step:
    """R22: the memo is paid (late when after the deadline); the R23 refund window opens."""
    _require(claim, "payment", S.DUTY_MEMO, S.PAYMENT_OVERDUE)
    short = {c: a for c, a in claim.memo_amounts.items() if amounts.get(c, Decimal(0)) < a}
    if short or set(amounts) - set(claim.memo_amounts):
        raise RuleRefused("R22", f"payment {_fmt(amounts)} does not match the memo {_fmt(claim.memo_amounts)}")
    deadline = r23_refund_deadline(day)
    late = claim.memo_date is not None and r22_payment_overdue(claim.memo_date, day)
    return _move(
        claim,
        S.PAID,
        "R22",
        day,
        payment_date=day,
        paid=dict(amounts),
        refund_deadline=deadline,
        next_deadline=deadline,
        amounts=dict(amounts),
        reason="paid late" if late else "paid",
    )


def request_refund(claim: Claim, day: date, amounts: Amounts) -> Step:
    """R23: all or part of what was paid, within three months from the day after payment."""
    _require(claim, "refund request", S.PAID)
    assert claim.payment_date is not None
    if not r23_refund_in_time(claim.payment_date, day):
        raise RuleRefused("R23", f"refund asked on {day.isoformat()}, after the last day {claim.refund_deadline}")
    if any(a > claim.paid.get(c, Decimal(0)) for c, a in amounts.items()):
        raise RuleRefused("R23", f"refund {_fmt(amounts)} is more than was paid {_fmt(claim.paid)}")
    return _move(claim, S.REFUND_REQUESTED, "R23", day, refund_requested=dict(amounts), amounts=dict(amounts))


def decide_refund(claim: Claim, day: date, granted: Amounts, reason: str) -> Step:
    """R23: customs grant all or part of the request, or refuse it (nothing granted). A grant
    means the goods left without a validated departure: R27 flag."""
    _require(claim, "refund decision", S.REFUND_REQUESTED)
    if any(a > claim.refund_requested.get(c, Decimal(0)) for c, a in granted.items()):
        raise RuleRefused("R23", f"granted {_fmt(granted)} is more than was asked {_fmt(claim.refund_requested)}")
    if any(granted.values()):
        return _move(
            claim,
            S.REFUND_GRANTED,
            "R23",
            day,
            amounts=dict(granted),
            reason=reason,
            fee_flag=r27_regularization_fee_due(False, goods_left=True),
        )
    return _move(claim, S.REFUND_REFUSED, "R23", day, reason=reason)


def close_refund_window(claim: Claim, today: date) -> Step:
    """R23: three months passed after payment without a refund request: the claim is settled."""
    return _lapse(
        claim, "refund window close", S.PAID, claim.refund_deadline, today, S.SETTLED, "R23", "refund window closed"
    )


def _fmt(amounts: Amounts) -> str:
    return ", ".join(f"{a} {c}" for c, a in sorted(amounts.items())) or "nothing"
