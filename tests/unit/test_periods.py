"""contracts.periods: the calendar arithmetic every date rule counts through (add_months, the one
period rule "from the day following", local days).

All dates and instants are injected; no test reads the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from contracts.periods import DeadlineError, add_months, from_day_following, local_date, period_last_day
from tests.support.dates import AUCKLAND, PAGO_PAGO, D, utc

# ---------------------------------------------------------------------------------------------
# add_months
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-15", 1, "2026-02-15"),
        ("2026-01-31", 1, "2026-02-28"),  # clamped, common year
        ("2028-01-31", 1, "2028-02-29"),  # clamped, leap year
        ("2026-03-31", 1, "2026-04-30"),
        ("2024-02-29", 12, "2025-02-28"),  # no 29 Feb 2025
        ("2024-02-29", 48, "2028-02-29"),
        ("2026-12-15", 1, "2027-01-15"),  # year end
        ("2026-12-31", 2, "2027-02-28"),
        ("2026-01-31", 13, "2027-02-28"),
        ("2026-03-31", -1, "2026-02-28"),  # backwards
        ("2026-01-15", -1, "2025-12-15"),
        ("2026-05-17", 0, "2026-05-17"),
    ],
)
def test_add_months_clamps_to_month_end(start, months, expected):
    assert add_months(D(start), months) == D(expected)


def test_add_months_outside_calendar_raises():
    with pytest.raises(DeadlineError):
        add_months(date(9999, 12, 1), 1)


# ---------------------------------------------------------------------------------------------
# The one period rule ("from the day following")
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_day", "months", "days", "expected"),
    [
        ("2026-01-15", 6, 0, "2026-07-14"),
        ("2026-08-31", 6, 0, "2027-02-28"),  # no 31 Feb: the month's last day, not 27 Feb
        ("2027-08-31", 6, 0, "2028-02-29"),
        ("2026-05-01", 1, 0, "2026-05-31"),
        ("2026-01-01", 12, 0, "2026-12-31"),
        ("2026-05-04", 0, 14, "2026-05-17"),
        ("2026-05-04", 0, 1, "2026-05-04"),  # a one-day period is its first day
        ("2026-01-15", 1, 3, "2026-02-17"),
    ],
)
def test_period_last_day_examples(first_day, months, days, expected):
    assert period_last_day(D(first_day), months=months, days=days) == D(expected)


@pytest.mark.parametrize(("months", "days"), [(0, 0), (-1, 0), (0, -1)])
def test_period_last_day_rejects_empty_or_negative_periods(months, days):
    with pytest.raises(DeadlineError):
        period_last_day(D("2026-01-01"), months=months, days=days)


def _is_last_day_of_month(d: date) -> bool:
    return (d + timedelta(days=1)).day == 1


@settings(max_examples=300, deadline=None, database=None)
@given(event=st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)), months=st.integers(1, 36))
def test_period_rule_property_matches_civil_law_statement(event, months):
    """Counted from the day following X, N months end on add_months(X, N), except that when X is
    the last day of its month the period ends on the last day of the target month."""
    last = from_day_following(event, months=months)
    if _is_last_day_of_month(event):
        target = add_months(event, months)
        assert _is_last_day_of_month(last)
        assert (last.year, last.month) == (target.year, target.month)
    else:
        assert last == add_months(event, months)
    # and it is never shorter than the naive "day before add_months(X + 1, N)"
    assert last >= add_months(event + timedelta(days=1), months) - timedelta(days=1)


def test_local_date_uses_the_office_zone():
    at = utc("2027-01-14T12:00:00")
    assert local_date(at, AUCKLAND) == D("2027-01-15")
    assert local_date(at, PAGO_PAGO) == D("2027-01-14")
    with pytest.raises(DeadlineError):
        local_date(datetime(2027, 1, 14, 12), AUCKLAND)
