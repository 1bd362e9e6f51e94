"""contracts.deadlines, claims counted in days: R19 (seizures extend the final date), R20/R24 (one year after
expiry), R21 (evidence), R22 (payment), R23 (refund), and the holder's reminders.

All dates and instants are injected; no test reads the wall clock.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from contracts.deadlines import (
    DeadlineError,
    r2_max_expiry_date,
    r19_reexport_deadline,
    r19_reexported_in_time,
    r20_association_discharged,
    r20_notice_in_time,
    r20_notice_limit,
    r21_evidence_deadline,
    r21_evidence_in_time,
    r22_payment_deadline,
    r22_payment_overdue,
    r23_refund_deadline,
    r23_refund_in_time,
    r24_discrepancy_claim_in_time,
    r24_discrepancy_claim_limit,
    reminder_dates,
)
from tests.support.dates import D


@settings(max_examples=300, deadline=None, database=None)
@given(
    a=st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)),
    b=st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)),
)
def test_period_rule_property_is_monotone(a, b):
    """A later event never gives an earlier deadline (R20, R21, R23 all counted the same way)."""
    a, b = min(a, b), max(a, b)
    for rule in (r20_notice_limit, r21_evidence_deadline, r23_refund_deadline, r22_payment_deadline):
        assert rule(a) <= rule(b)
        assert rule(a) > a


# ---------------------------------------------------------------------------------------------
# R19: seizures
# ---------------------------------------------------------------------------------------------


def test_r19_without_seizure_is_the_final_date():
    assert r19_reexport_deadline(D("2026-06-30"), []) == D("2026-06-30")


@pytest.mark.parametrize(
    ("final", "seizures", "expected"),
    [
        ("2026-06-30", [("2026-03-10", "2026-03-10")], "2026-07-01"),  # one day
        ("2026-06-30", [("2026-03-10", "2026-03-19")], "2026-07-10"),  # ten days, both ends counted
        ("2026-12-20", [("2026-12-01", "2026-12-31")], "2027-01-20"),  # across the year end
        ("2028-02-20", [("2028-02-01", "2028-02-29")], "2028-03-20"),  # 29 days in a leap February
        # overlapping seizures: 10-19 and 15-24 are one seizure of 15 days
        ("2026-06-30", [("2026-03-10", "2026-03-19"), ("2026-03-15", "2026-03-24")], "2026-07-15"),
        # one inside another, given twice and out of order
        (
            "2026-06-30",
            [("2026-03-15", "2026-03-16"), ("2026-03-10", "2026-03-19"), ("2026-03-15", "2026-03-16")],
            "2026-07-10",
        ),
        # touching seizures: 10-19 then 20-29, twenty days
        ("2026-06-30", [("2026-03-20", "2026-03-29"), ("2026-03-10", "2026-03-19")], "2026-07-20"),
        # separate seizures add up
        ("2026-06-30", [("2026-03-01", "2026-03-02"), ("2026-05-01", "2026-05-03")], "2026-07-05"),
        # seized on the last day: counts; the period runs on after release
        ("2026-06-30", [("2026-06-30", "2026-07-09")], "2026-07-10"),
        # seized the day after the last day: the goods were already late, no extension
        ("2026-06-30", [("2026-07-01", "2026-07-09")], "2026-06-30"),
        # a second seizure after the original final date but within the extended one counts
        ("2026-06-30", [("2026-06-21", "2026-06-30"), ("2026-07-10", "2026-07-11")], "2026-07-12"),
        # ... but not one after the extended final date
        ("2026-06-30", [("2026-06-21", "2026-06-30"), ("2026-07-11", "2026-07-12")], "2026-07-10"),
    ],
)
def test_r19_reexport_deadline_extended_by_seizures(final, seizures, expected):
    periods = [(D(a), D(b)) for a, b in seizures]
    assert r19_reexport_deadline(D(final), periods) == D(expected)


def test_r19_reexported_in_time_boundary():
    seizures = [(D("2026-03-10"), D("2026-03-19"))]
    assert r19_reexported_in_time(D("2026-06-30"), seizures, D("2026-07-10"))
    assert not r19_reexported_in_time(D("2026-06-30"), seizures, D("2026-07-11"))


def test_r19_seizure_ending_before_it_starts_is_refused():
    with pytest.raises(DeadlineError, match="R19"):
        r19_reexport_deadline(D("2026-06-30"), [(D("2026-03-19"), D("2026-03-10"))])


seizure_strategy = st.tuples(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 12, 31)), st.integers(0, 120)
).map(lambda t: (t[0], t[0] + timedelta(days=t[1])))


@settings(max_examples=300, deadline=None, database=None)
@given(
    final=st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 6, 1)),
    seizures=st.lists(seizure_strategy, max_size=6),
    data=st.data(),
)
def test_r19_property_never_earlier_than_final_date_and_no_day_counted_twice(final, seizures, data):
    deadline = r19_reexport_deadline(final, seizures)
    assert deadline >= final
    seized_days = {start + timedelta(days=i) for start, end in seizures for i in range((end - start).days + 1)}
    assert deadline <= final + timedelta(days=len(seized_days))  # each distinct day at most once
    shuffled = data.draw(st.permutations(seizures))
    assert r19_reexport_deadline(final, shuffled) == deadline  # order does not matter
    assert r19_reexport_deadline(final, seizures + seizures) == deadline  # duplicates do not count


@settings(max_examples=200, deadline=None, database=None)
@given(
    final=st.dates(min_value=date(2025, 6, 1), max_value=date(2027, 6, 1)),
    start_offset=st.integers(-200, 0),
    length=st.integers(1, 100),
)
def test_r19_property_one_seizure_before_the_deadline_adds_its_length(final, start_offset, length):
    start = final + timedelta(days=start_offset)
    seizure = (start, start + timedelta(days=length - 1))
    assert r19_reexport_deadline(final, [seizure]) == final + timedelta(days=length)


# ---------------------------------------------------------------------------------------------
# R20, R24: one year from the day following the last day of validity
# ---------------------------------------------------------------------------------------------

ONE_YEAR_AFTER_EXPIRY = [
    ("2027-01-14", "2028-01-14"),
    ("2026-12-31", "2027-12-31"),  # year end: the year 1 Jan - 31 Dec 2027
    ("2026-01-31", "2027-01-31"),
    ("2027-02-28", "2028-02-29"),  # the year 1 Mar 2027 - 29 Feb 2028
    ("2028-02-28", "2029-02-28"),  # the year 29 Feb 2028 - 28 Feb 2029 (no 29 Feb 2029)
    ("2028-02-29", "2029-02-28"),  # the year 1 Mar 2028 - 28 Feb 2029
    ("2025-02-28", "2026-02-28"),
]


@pytest.mark.parametrize(("expiry", "limit"), ONE_YEAR_AFTER_EXPIRY)
def test_r20_notice_limit(expiry, limit):
    assert r20_notice_limit(D(expiry)) == D(limit)


def test_r20_notice_in_time_and_discharge_boundaries():
    expiry = D("2027-01-14")
    assert r20_notice_in_time(expiry, D("2028-01-14"))  # the last day
    assert not r20_notice_in_time(expiry, D("2028-01-15"))  # the day after
    assert not r20_association_discharged(expiry, D("2027-01-15"))
    assert not r20_association_discharged(expiry, D("2028-01-14"))
    assert r20_association_discharged(expiry, D("2028-01-15"))


def test_r20_full_chain_from_issue_date():
    issue = D("2024-02-29")
    expiry = r2_max_expiry_date(issue)
    assert expiry == D("2025-02-28")
    assert r20_notice_limit(expiry) == D("2026-02-28")
    assert not r20_association_discharged(expiry, D("2026-02-28"))
    assert r20_association_discharged(expiry, D("2026-03-01"))


@pytest.mark.parametrize(("expiry", "limit"), ONE_YEAR_AFTER_EXPIRY)
def test_r24_discrepancy_claim_limit(expiry, limit):
    assert r24_discrepancy_claim_limit(D(expiry)) == D(limit)
    assert r24_discrepancy_claim_in_time(D(expiry), D(limit))
    assert not r24_discrepancy_claim_in_time(D(expiry), D(limit) + timedelta(days=1))


@settings(max_examples=200, deadline=None, database=None)
@given(expiry=st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)))
def test_r24_property_counts_like_r20(expiry):
    assert r24_discrepancy_claim_limit(expiry) == r20_notice_limit(expiry)
    assert expiry + timedelta(days=365) <= r20_notice_limit(expiry) <= expiry + timedelta(days=366)


# ---------------------------------------------------------------------------------------------
# R21: six months from the day following the notice
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("notice", "deadline"),
    [
        ("2027-03-10", "2027-09-10"),
        ("2027-06-30", "2027-12-31"),  # from 1 Jul: runs to the year end
        ("2027-12-31", "2028-06-30"),  # from 1 Jan
        ("2027-08-27", "2028-02-27"),
        ("2027-08-28", "2028-02-28"),  # from 29 Aug: 29 Feb 2028 exists
        ("2027-08-30", "2028-02-29"),  # from 31 Aug: no 31 Feb, end of February (leap)
        ("2026-08-30", "2027-02-28"),  # from 31 Aug: end of February (common year)
        ("2026-08-29", "2027-02-28"),  # from 30 Aug
        ("2026-08-28", "2027-02-28"),  # from 29 Aug: no 29 Feb 2027
        ("2026-08-27", "2027-02-27"),
        ("2027-08-31", "2028-02-29"),  # from 1 Sep: the day before 1 Mar
    ],
)
def test_r21_evidence_deadline(notice, deadline):
    assert r21_evidence_deadline(D(notice)) == D(deadline)
    assert r21_evidence_in_time(D(notice), D(deadline))
    assert not r21_evidence_in_time(D(notice), D(deadline) + timedelta(days=1))


# ---------------------------------------------------------------------------------------------
# R22: fourteen days from the day following receipt
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "deadline"),
    [
        ("2026-05-03", "2026-05-17"),
        ("2027-12-20", "2028-01-03"),  # year end
        ("2028-02-20", "2028-03-05"),  # through 29 Feb
        ("2027-02-20", "2027-03-06"),
        ("2026-01-31", "2026-02-14"),
    ],
)
def test_r22_payment_deadline(received, deadline):
    assert r22_payment_deadline(D(received)) == D(deadline)
    assert not r22_payment_overdue(D(received), D(deadline))  # the last day
    assert r22_payment_overdue(D(received), D(deadline) + timedelta(days=1))  # the day after


# ---------------------------------------------------------------------------------------------
# R23: three months from the day following payment
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "deadline"),
    [
        ("2027-04-10", "2027-07-10"),
        ("2027-10-31", "2028-01-31"),  # from 1 Nov, across the year end
        ("2027-11-30", "2028-02-29"),  # from 1 Dec: the day before 1 Mar (leap)
        ("2027-11-29", "2028-02-29"),  # from 30 Nov: no 30 Feb, end of February (the naive rule says 28 Feb)
        ("2026-11-28", "2027-02-28"),  # from 29 Nov: no 29 Feb 2027
        ("2026-11-27", "2027-02-27"),  # from 28 Nov
        ("2027-01-31", "2027-04-30"),  # from 1 Feb: the day before 1 May
    ],
)
def test_r23_refund_deadline(paid, deadline):
    assert r23_refund_deadline(D(paid)) == D(deadline)
    assert r23_refund_in_time(D(paid), D(deadline))
    assert not r23_refund_in_time(D(paid), D(deadline) + timedelta(days=1))


# ---------------------------------------------------------------------------------------------
# Reminders
# ---------------------------------------------------------------------------------------------


def test_reminder_dates_default_30_7_1_days_before():
    assert reminder_dates(D("2027-01-14")) == [D("2026-12-15"), D("2027-01-07"), D("2027-01-13")]


def test_reminder_dates_sorted_unique_and_across_february():
    assert reminder_dates(D("2028-03-01"), (1, 30, 1, 0)) == [D("2028-01-31"), D("2028-02-29"), D("2028-03-01")]
    assert reminder_dates(D("2028-03-01"), ()) == []
    with pytest.raises(DeadlineError):
        reminder_dates(D("2028-03-01"), (7, -1))
