"""The claim state machine (claims_worker/claims.py): every step from every state, R19-R25, R27.

Legal steps move the claim; steps the machine lacks raise IllegalTransition; steps the rules
refuse raise RuleRefused with the rule id. Days are injected; no clock.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from claims_worker import claims as m
from claims_worker.claims import IllegalTransition, RuleRefused
from contracts.claims import ClaimState as S

D = date.fromisoformat
CHF = {"CHF": Decimal("1650.00")}
ID = UUID(int=7)


def opened() -> m.Claim:
    return m.open_overdue(
        ID, "FR2600000010", "CH", (2, 1), "Europe/Zurich", D("2027-11-21"), D("2027-03-31"), D("2027-04-01")
    ).claim


def walk(to: S) -> m.Claim:
    c = opened()
    path = {
        S.NOTICED: lambda c: m.give_notice(c, D("2027-04-01")),
        S.EVIDENCE_EXPIRED: lambda c: m.expire_evidence_window(c, D("2027-10-02")),
        S.DUTY_MEMO: lambda c: m.issue_duty_memo(
            c, D("2027-10-02"), {"CHF": Decimal("1500")}, {"CHF": Decimal("1800")}
        ),
        S.PAID: lambda c: m.pay(c, D("2027-10-16"), CHF),
        S.REFUND_REQUESTED: lambda c: m.request_refund(c, D("2028-01-16"), {"CHF": Decimal("100")}),
    }
    for step in path.values():
        if c.state is to:
            return c
        c = step(c).claim
    assert c.state is to
    return c


def test_r19_not_overdue_on_the_final_date_itself():
    with pytest.raises(RuleRefused) as err:
        m.open_overdue(
            ID, "FR2600000010", "CH", (1,), "Europe/Zurich", D("2027-11-21"), D("2027-03-31"), D("2027-03-31")
        )
    assert err.value.rule == "R19"
    assert opened().items == (1, 2) and opened().nga == "FR"


@pytest.mark.parametrize(
    ("today", "state"), [("2028-11-20", S.NOTICED), ("2028-11-21", S.NOTICED), ("2028-11-22", S.DISCHARGED)]
)
def test_r20_notice_or_discharge_around_the_limit(today, state):
    step = m.give_notice(opened(), D(today))
    assert (step.to_state, step.rule, step.from_state) == (state, "R20", S.OVERDUE)


@pytest.mark.parametrize(("day", "closed"), [("2027-09-30", True), ("2027-10-01", True), ("2027-10-02", False)])
def test_r21_evidence_day_before_day_of_day_after(day, closed):
    c = walk(S.NOTICED)
    if closed:
        step = m.evidence(c, D(day), departure_validated=False)
        assert (step.to_state, step.fee_flag) == (S.CLOSED, True)  # R27
        assert m.evidence(c, D(day), departure_validated=True).fee_flag is False
    else:
        with pytest.raises(RuleRefused, match="R21"):
            m.evidence(c, D(day), departure_validated=False)
        assert m.expire_evidence_window(c, D(day)).to_state is S.EVIDENCE_EXPIRED
    if day != "2027-10-02":
        with pytest.raises(RuleRefused, match="R21"):
            m.expire_evidence_window(c, D(day))


def test_r22_r25_memo_is_capped_and_payment_must_cover_it():
    c = walk(S.DUTY_MEMO)
    assert (c.memo_amounts, c.payment_deadline) == (CHF, D("2027-10-16"))
    with pytest.raises(RuleRefused, match="R22"):
        m.payment_overdue(c, D("2027-10-16"))
    assert m.payment_overdue(c, D("2027-10-17")).to_state is S.PAYMENT_OVERDUE
    with pytest.raises(RuleRefused, match="R22"):
        m.pay(c, D("2027-10-10"), {"CHF": Decimal("1649.99")})
    with pytest.raises(RuleRefused, match="R22"):
        m.pay(c, D("2027-10-10"), {**CHF, "EUR": Decimal("1")})
    with pytest.raises(RuleRefused, match="R25"):
        m.issue_duty_memo(walk(S.EVIDENCE_EXPIRED), D("2027-10-02"), {}, {})


@pytest.mark.parametrize(("day", "ok"), [("2028-01-15", True), ("2028-01-16", True), ("2028-01-17", False)])
def test_r23_refund_request_day_before_day_of_day_after(day, ok):
    c = walk(S.PAID)
    if ok:
        assert m.request_refund(c, D(day), CHF).to_state is S.REFUND_REQUESTED
    else:
        with pytest.raises(RuleRefused, match="R23"):
            m.request_refund(c, D(day), CHF)
        assert m.close_refund_window(c, D(day)).to_state is S.SETTLED


def test_r23_refund_decision_all_part_or_nothing():
    c = walk(S.REFUND_REQUESTED)
    assert m.decide_refund(c, D("2028-02-01"), {"CHF": Decimal("100")}, "ok").fee_flag is True
    assert m.decide_refund(c, D("2028-02-01"), {}, "no").to_state is S.REFUND_REFUSED
    with pytest.raises(RuleRefused, match="R23"):
        m.decide_refund(c, D("2028-02-01"), {"CHF": Decimal("100.01")}, "too much")


STEPS = {
    "notice": lambda c: m.give_notice(c, D("2027-04-01")),
    "expire": lambda c: m.expire_evidence_window(c, D("2028-01-01")),
    "memo": lambda c: m.issue_duty_memo(c, D("2028-01-01"), {"CHF": Decimal(1)}, {"CHF": Decimal(1)}),
    "overdue": lambda c: m.payment_overdue(c, D("2028-12-01")),
    "pay": lambda c: m.pay(c, D("2027-10-10"), CHF),
    "refund": lambda c: m.request_refund(c, D("2027-10-20"), CHF),
    "decide": lambda c: m.decide_refund(c, D("2027-10-20"), {}, "no"),
    "settle": lambda c: m.close_refund_window(c, D("2029-01-01")),
}
LEGAL = {
    S.OVERDUE: {"notice"},
    S.NOTICED: {"expire"},
    S.EVIDENCE_EXPIRED: {"memo"},
    S.DUTY_MEMO: {"overdue", "pay"},
    S.PAID: {"refund", "settle"},
    S.REFUND_REQUESTED: {"decide"},
}


@pytest.mark.parametrize("state", list(LEGAL))
@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_the_machine_lacks_raises_illegal_transition(state, step):
    c = walk(state)
    if step in LEGAL[state]:
        assert STEPS[step](c).from_state is state
    else:
        with pytest.raises(IllegalTransition) as err:
            STEPS[step](c)
        assert err.value.state is state and err.value.rule is None
