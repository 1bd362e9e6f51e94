"""contracts.deadlines: every date rule at its boundaries (DOMAIN.md R2, R6, R12, R13, R15, R16, R19-R25).

All dates and instants are injected; no test reads the wall clock.
"""

from __future__ import annotations

import ast
import inspect
import re
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import deadlines
from contracts.deadlines import (
    DeadlineError,
    _from_day_following,
    _period_last_day,
    add_months,
    local_date,
    r2_check_expiry,
    r2_is_valid_on,
    r2_max_expiry_date,
    r2_validity_ends_at,
    r6_replacement_in_time,
    r12_entry_allowed,
    r13_final_date,
    r15_max_stay_last_day,
    r16_digital_required,
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
    r25_liability_cap,
    reminder_dates,
)
from contracts.kinds import DeclarationKind

D = date.fromisoformat
UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
AUCKLAND = ZoneInfo("Pacific/Auckland")
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
HAVANA = ZoneInfo("America/Havana")  # DST changes at midnight
SANTIAGO = ZoneInfo("America/Santiago")  # DST starts at midnight
ONE_US = timedelta(microseconds=1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(text: str, tz: tzinfo, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold)


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
    assert _period_last_day(D(first_day), months=months, days=days) == D(expected)


@pytest.mark.parametrize(("months", "days"), [(0, 0), (-1, 0), (0, -1)])
def test_period_last_day_rejects_empty_or_negative_periods(months, days):
    with pytest.raises(DeadlineError):
        _period_last_day(D("2026-01-01"), months=months, days=days)


def _is_last_day_of_month(d: date) -> bool:
    return (d + timedelta(days=1)).day == 1


@settings(max_examples=300, deadline=None, database=None)
@given(event=st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)), months=st.integers(1, 36))
def test_period_rule_property_matches_civil_law_statement(event, months):
    """Counted from the day following X, N months end on add_months(X, N), except that when X is
    the last day of its month the period ends on the last day of the target month."""
    last = _from_day_following(event, months=months)
    if _is_last_day_of_month(event):
        target = add_months(event, months)
        assert _is_last_day_of_month(last)
        assert (last.year, last.month) == (target.year, target.month)
    else:
        assert last == add_months(event, months)
    # and it is never shorter than the naive "day before add_months(X + 1, N)"
    assert last >= add_months(event + timedelta(days=1), months) - timedelta(days=1)


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
# R2: validity
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("issue", "last_valid_day"),
    [
        ("2026-01-15", "2027-01-14"),
        ("2026-01-01", "2026-12-31"),  # whole calendar year
        ("2026-12-31", "2027-12-30"),  # year end
        ("2026-01-31", "2027-01-30"),
        ("2026-03-01", "2027-02-28"),
        ("2027-03-01", "2028-02-29"),  # ends on a leap day
        ("2024-02-28", "2025-02-27"),
        ("2024-02-29", "2025-02-28"),  # no 29 Feb 2025: the twelfth month ends with February
        ("2024-03-01", "2025-02-28"),
    ],
)
def test_r2_max_expiry_date_is_day_before_anniversary(issue, last_valid_day):
    assert r2_max_expiry_date(D(issue)) == D(last_valid_day)


@settings(max_examples=500, deadline=None, database=None)
@given(issue=st.dates(min_value=date(1900, 1, 1), max_value=date(2400, 12, 31)))
def test_r2_max_expiry_date_property_about_one_year(issue):
    last = r2_max_expiry_date(issue)
    assert issue + timedelta(days=360) < last < issue + timedelta(days=366)
    # 12 full months: the anniversary (when it exists) is the first day no longer valid
    if not (issue.month == 2 and issue.day == 29):
        assert last + timedelta(days=1) == add_months(issue, 12)


def test_r2_check_expiry_boundaries():
    issue = D("2026-01-15")
    r2_check_expiry(issue, D("2027-01-14"))  # the last allowed day
    r2_check_expiry(issue, issue)  # one day of validity
    with pytest.raises(DeadlineError, match="R2"):
        r2_check_expiry(issue, D("2027-01-15"))  # the day after
    with pytest.raises(DeadlineError, match="before issue"):
        r2_check_expiry(issue, D("2026-01-14"))


@pytest.mark.parametrize(
    ("tz", "expiry", "ends_utc", "hours_in_expiry_day"),
    [
        # Europe/Paris: summer time starts Sun 29 Mar 2026 02:00 -> 03:00, ends Sun 25 Oct 2026 03:00 -> 02:00
        (PARIS, "2026-03-28", "2026-03-28T23:00:00", 24),  # ends at 00:00 CET of the change day
        (PARIS, "2026-03-29", "2026-03-29T22:00:00", 23),  # the 23-hour day, ends 00:00 CEST
        (PARIS, "2026-10-24", "2026-10-24T22:00:00", 24),
        (PARIS, "2026-10-25", "2026-10-25T23:00:00", 25),  # the 25-hour day
        (PARIS, "2026-12-31", "2026-12-31T23:00:00", 24),  # year end
        # America/New_York: DST starts Sun 8 Mar 2026, ends Sun 1 Nov 2026
        (NEW_YORK, "2026-03-07", "2026-03-08T05:00:00", 24),
        (NEW_YORK, "2026-03-08", "2026-03-09T04:00:00", 23),
        (NEW_YORK, "2026-10-31", "2026-11-01T04:00:00", 24),
        (NEW_YORK, "2026-11-01", "2026-11-02T05:00:00", 25),
        # far from UTC
        (AUCKLAND, "2027-01-14", "2027-01-14T11:00:00", 24),  # NZDT, UTC+13
        (KIRITIMATI, "2027-01-14", "2027-01-14T10:00:00", 24),  # UTC+14: ends while UTC is still on the 14th
        (PAGO_PAGO, "2027-01-14", "2027-01-15T11:00:00", 24),  # UTC-11: ends when UTC is already on the 15th
    ],
)
def test_r2_validity_ends_at_local_midnight_after_expiry(tz, expiry, ends_utc, hours_in_expiry_day):
    ends = r2_validity_ends_at(D(expiry), tz)
    assert ends.astimezone(UTC) == utc(ends_utc)
    assert ends.tzinfo is tz
    assert (ends.date(), ends.hour, ends.minute) == (D(expiry) + timedelta(days=1), 0, 0)
    # Compare instants in UTC: Python subtracts same-zone datetimes by wall time.
    day_length = ends.astimezone(UTC) - r2_validity_ends_at(D(expiry) - timedelta(days=1), tz).astimezone(UTC)
    assert day_length == timedelta(hours=hours_in_expiry_day)


def test_r2_validity_ends_at_when_midnight_does_not_exist_havana():
    # Havana jumps 00:00 -> 01:00 on Sun 9 Mar 2025: the day after expiry begins at the jump.
    ends = r2_validity_ends_at(D("2025-03-08"), HAVANA)
    assert ends.astimezone(UTC) == utc("2025-03-09T05:00:00")
    assert (ends.hour, ends.utcoffset()) == (1, timedelta(hours=-4))  # a wall time that exists
    assert r2_is_valid_on(D("2025-03-08"), utc("2025-03-09T04:59:59.999999"), HAVANA)
    assert not r2_is_valid_on(D("2025-03-08"), utc("2025-03-09T05:00:00"), HAVANA)


def test_r2_validity_ends_at_when_midnight_does_not_exist_santiago():
    # Santiago jumps 00:00 -> 01:00 on Sun 6 Sep 2026.
    assert r2_validity_ends_at(D("2026-09-05"), SANTIAGO).astimezone(UTC) == utc("2026-09-06T04:00:00")


def test_r2_validity_ends_at_first_of_two_midnights_havana():
    # Havana falls back 01:00 -> 00:00 on Sun 2 Nov 2025: 00:00 happens twice; the first ends the day.
    ends = r2_validity_ends_at(D("2025-11-01"), HAVANA)
    # (an ambiguous wall time never compares equal to another zone's datetime: PEP 495)
    assert ends.astimezone(UTC) == utc("2025-11-02T04:00:00")
    assert not r2_is_valid_on(D("2025-11-01"), local("2025-11-02T00:30:00", HAVANA, fold=1), HAVANA)


def test_r2_validity_ends_at_on_a_skipped_day_kiritimati():
    # Kiritimati skipped 31 Dec 1994 (UTC-10 -> UTC+14): 30 Dec ended at 00:00 of 1 Jan 1995.
    ends = r2_validity_ends_at(D("1994-12-30"), KIRITIMATI)
    assert ends.astimezone(UTC) == utc("1994-12-31T10:00:00")
    assert ends.date() == D("1995-01-01")


class _OneJump(tzinfo):
    """A zone with one transition at `at` (UTC) from offset `before` to `after` (hours)."""

    def __init__(self, at: datetime, before: float, after: float):
        self.at = at.replace(tzinfo=None)
        self.before = timedelta(hours=before)
        self.after = timedelta(hours=after)

    def utcoffset(self, dt):
        wall = dt.replace(tzinfo=None)
        old_ok = wall - self.before < self.at
        new_ok = wall - self.after >= self.at
        if old_ok != new_ok:
            return self.before if old_ok else self.after
        return self.before if dt.fold == 0 else self.after  # gap or repeated wall time

    def dst(self, dt):
        return None

    def tzname(self, dt):
        return None

    def fromutc(self, dt):
        when = dt.replace(tzinfo=None)
        if when < self.at:
            return (when + self.before).replace(tzinfo=self)
        wall = when + self.after
        second = wall - self.before < self.at  # the wall time also happened before the jump
        return wall.replace(tzinfo=self, fold=1 if second else 0)


def test_r2_validity_ends_at_when_a_gap_straddles_midnight():
    # Clocks jump 23:30 -> 00:30: local 00:00 never exists, 1 May begins at the jump (23:30 UTC).
    zone = _OneJump(datetime(2026, 4, 30, 23, 30), before=0, after=1)
    ends = r2_validity_ends_at(D("2026-04-30"), zone)
    assert ends.astimezone(UTC) == utc("2026-04-30T23:30:00")
    assert r2_is_valid_on(D("2026-04-30"), utc("2026-04-30T23:29:59.999999"), zone)
    assert not r2_is_valid_on(D("2026-04-30"), utc("2026-04-30T23:30:00"), zone)


def test_r2_validity_ends_at_when_midnight_repeats_across_days():
    # Clocks fall back 00:30 -> 23:30: 24:00 of 30 Apr first happens at 00:00 UTC; that ends it.
    zone = _OneJump(datetime(2026, 5, 1, 0, 30), before=0, after=-1)
    assert r2_validity_ends_at(D("2026-04-30"), zone).astimezone(UTC) == utc("2026-05-01T00:00:00")
    assert not r2_is_valid_on(D("2026-04-30"), utc("2026-05-01T00:45:00"), zone)  # 23:45 of 30 Apr again


@pytest.mark.parametrize(
    ("tz", "last_valid", "first_invalid"),
    [
        (PARIS, "2026-03-29T21:59:59.999999", "2026-03-29T22:00:00"),
        (NEW_YORK, "2026-11-02T04:59:59.999999", "2026-11-02T05:00:00"),
    ],
)
def test_r2_is_valid_on_last_instant_and_24h00(tz, last_valid, first_invalid):
    expiry = local_date(utc(last_valid), tz)
    assert r2_is_valid_on(expiry, utc(last_valid), tz)
    assert not r2_is_valid_on(expiry, utc(first_invalid), tz)


def test_r2_is_valid_on_local_day_counts_not_utc_day_pago_pago():
    expiry = D("2027-01-14")
    at = utc("2027-01-15T10:30:00")  # already the 15th in UTC, 23:30 on the 14th in Pago Pago
    assert r2_is_valid_on(expiry, at, PAGO_PAGO)
    assert not r2_is_valid_on(expiry, at, PARIS)  # 11:30 on the 15th in Paris
    assert not r2_is_valid_on(expiry, utc("2027-01-15T11:00:00"), PAGO_PAGO)


def test_r2_is_valid_on_local_day_counts_not_utc_day_kiritimati_and_auckland():
    expiry = D("2027-01-14")
    at = utc("2027-01-14T10:30:00")  # still the 14th in UTC, already 00:30 on the 15th in Kiritimati
    assert not r2_is_valid_on(expiry, at, KIRITIMATI)
    assert r2_is_valid_on(expiry, at, AUCKLAND)  # 23:30 on the 14th (UTC+13)
    assert r2_is_valid_on(expiry, utc("2027-01-14T09:59:59"), KIRITIMATI)
    assert not r2_is_valid_on(expiry, utc("2027-01-14T11:00:00"), AUCKLAND)


def test_r2_is_valid_on_accepts_instants_in_any_zone_and_refuses_naive():
    expiry = D("2026-03-29")
    assert r2_is_valid_on(expiry, local("2026-03-29T23:59:59", PARIS), PARIS)
    assert r2_is_valid_on(expiry, local("2026-03-29T17:59:59", NEW_YORK), PARIS)  # same instant
    assert not r2_is_valid_on(expiry, local("2026-03-30T00:00:00", PARIS), PARIS)
    with pytest.raises(DeadlineError, match="aware"):
        r2_is_valid_on(expiry, datetime(2026, 3, 29, 12), PARIS)


ZONES = [PARIS, NEW_YORK, AUCKLAND, KIRITIMATI, PAGO_PAGO, HAVANA, SANTIAGO, ZoneInfo("Australia/Lord_Howe")]


@settings(max_examples=400, deadline=None, database=None)
@given(
    expiry=st.dates(min_value=date(1971, 1, 1), max_value=date(2037, 12, 31)),
    tz=st.sampled_from(ZONES),
    seconds=st.integers(-2 * 86400, 2 * 86400),
)
def test_r2_is_valid_on_property_equals_local_day_comparison(expiry, tz, seconds):
    """Around the end of validity, valid exactly when the office's local day is <= expiry."""
    ends = r2_validity_ends_at(expiry, tz)
    # the first local day after expiry (== expiry + 1 except on a skipped day, Kiritimati 31 Dec 1994)
    assert ends.astimezone(tz).date() >= expiry + timedelta(days=1)
    assert (ends.astimezone(UTC) - ONE_US).astimezone(tz).date() <= expiry
    at = ends.astimezone(UTC) + timedelta(seconds=seconds)
    assert r2_is_valid_on(expiry, at, tz) == (local_date(at, tz) <= expiry)


def test_local_date_uses_the_office_zone():
    at = utc("2027-01-14T12:00:00")
    assert local_date(at, AUCKLAND) == D("2027-01-15")
    assert local_date(at, PAGO_PAGO) == D("2027-01-14")
    with pytest.raises(DeadlineError):
        local_date(datetime(2027, 1, 14, 12), AUCKLAND)


# ---------------------------------------------------------------------------------------------
# R6, R12, R13, R15, R16
# ---------------------------------------------------------------------------------------------


def test_r6_replacement_in_time_until_24h00_of_original_expiry():
    expiry = D("2026-10-25")
    assert r6_replacement_in_time(expiry, local("2026-10-25T23:59:59", PARIS), PARIS)
    assert not r6_replacement_in_time(expiry, local("2026-10-26T00:00:00", PARIS), PARIS)


ENTRY_KINDS = ["importation", "transit_entry"]
OTHER_KINDS = ["exportation", "reimportation", "reexportation", "transit_discharge"]


@pytest.mark.parametrize("kind", ENTRY_KINDS)
def test_r12_entry_needs_a_valid_carnet(kind):
    expiry = D("2027-01-14")
    assert r12_entry_allowed(kind, expiry, local("2027-01-14T23:59:59.999999", AUCKLAND), AUCKLAND)
    assert not r12_entry_allowed(kind, expiry, local("2027-01-15T00:00:00", AUCKLAND), AUCKLAND)
    assert not r12_entry_allowed(kind, expiry, local("2028-06-01T12:00:00", AUCKLAND), AUCKLAND)


@pytest.mark.parametrize("kind", OTHER_KINDS)
def test_r12_other_kinds_allowed_after_expiry(kind):
    expiry = D("2027-01-14")
    assert r12_entry_allowed(kind, expiry, local("2027-01-14T12:00:00", NEW_YORK), NEW_YORK)
    assert r12_entry_allowed(kind, expiry, local("2027-01-15T00:00:00", NEW_YORK), NEW_YORK)
    assert r12_entry_allowed(kind, expiry, local("2030-01-01T00:00:00", NEW_YORK), NEW_YORK)


def test_r12_reimportation_home_after_expiry_but_not_importation_abroad():
    expiry, at = D("2026-03-07"), utc("2026-03-08T05:00:00")  # 00:00 EST on 8 Mar: just expired
    assert r12_entry_allowed(DeclarationKind.REIMPORTATION, expiry, at, NEW_YORK)
    assert not r12_entry_allowed(DeclarationKind.IMPORTATION, expiry, at, NEW_YORK)
    assert r12_entry_allowed(DeclarationKind.IMPORTATION, expiry, at - ONE_US, NEW_YORK)


def test_r12_accepts_every_declaration_kind_and_rejects_unknown():
    at = utc("2026-01-01T00:00:00")
    for kind in DeclarationKind:
        assert r12_entry_allowed(kind, D("2026-12-31"), at, PARIS)
    with pytest.raises(DeadlineError, match="unknown declaration kind"):
        r12_entry_allowed("smuggling", D("2026-12-31"), at, PARIS)
    with pytest.raises(DeadlineError, match="aware"):
        r12_entry_allowed("reimportation", D("2026-12-31"), datetime(2026, 1, 1), PARIS)


def test_r13_final_date_defaults_to_expiry():
    assert r13_final_date(D("2027-01-14"), None) == D("2027-01-14")


def test_r13_final_date_restriction_up_to_expiry():
    expiry = D("2027-01-14")
    assert r13_final_date(expiry, D("2026-06-30")) == D("2026-06-30")
    assert r13_final_date(expiry, expiry) == expiry  # the last allowed day


def test_r13_final_date_after_expiry_is_refused_not_clamped():
    with pytest.raises(DeadlineError, match="later than the expiry date 2027-01-14"):
        r13_final_date(D("2027-01-14"), D("2027-01-15"))  # the day after


@pytest.mark.parametrize(
    ("entry", "expiry", "months", "days", "expected"),
    [
        ("2026-01-15", "2027-01-14", 6, 0, "2026-07-14"),
        ("2026-01-15", "2027-01-14", 0, 90, "2026-04-14"),
        ("2026-08-31", "2027-08-30", 6, 0, "2027-02-28"),  # no 31 Feb: end of February
        ("2026-12-01", "2027-01-14", 3, 0, "2027-01-14"),  # capped by the expiry date
        ("2026-12-01", "2027-02-28", 3, 0, "2027-02-28"),  # stay end == expiry
    ],
)
def test_r15_max_stay_last_day(entry, expiry, months, days, expected):
    assert r15_max_stay_last_day(D(entry), D(expiry), months=months, days=days) == D(expected)
    assert r13_final_date(D(expiry), D(expected)) == D(expected)  # always a legal R13 restriction


def test_r16_digital_required_from_the_digital_date():
    digital = D("2026-07-01")
    assert not r16_digital_required(None, D("2030-01-01"))
    assert not r16_digital_required(digital, D("2026-06-30"))
    assert r16_digital_required(digital, D("2026-07-01"))
    assert r16_digital_required(digital, D("2026-07-02"))


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
# R25: liability cap
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duties", "cap"),
    [
        ("100", "110.00"),
        ("0", "0.00"),
        ("0.05", "0.06"),  # 0.055 rounds half up
        ("0.15", "0.17"),  # 0.165
        ("1.234", "1.36"),  # 1.3574
        ("12345.67", "13580.24"),  # 13580.237
        ("999999999.99", "1099999999.99"),  # 1099999999.989
    ],
)
def test_r25_liability_cap(duties, cap):
    result = r25_liability_cap(Decimal(duties))
    assert result == Decimal(cap)
    assert result.as_tuple().exponent == -2  # always cents


def test_r25_liability_cap_accepts_int_and_refuses_bad_amounts():
    assert r25_liability_cap(250) == Decimal("275.00")
    with pytest.raises(DeadlineError, match="negative"):
        r25_liability_cap(Decimal("-0.01"))
    for bad in (Decimal("NaN"), Decimal("Infinity")):
        with pytest.raises(DeadlineError, match="finite"):
            r25_liability_cap(bad)
    with pytest.raises(TypeError):
        r25_liability_cap(10.5)  # type: ignore[arg-type]


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


# ---------------------------------------------------------------------------------------------
# The module itself: pure, and every rule named and documented
# ---------------------------------------------------------------------------------------------

SOURCE = Path(inspect.getfile(deadlines)).read_text(encoding="utf-8")
STDLIB_ALLOWED = {"__future__", "calendar", "collections", "dataclasses", "datetime", "decimal", "zoneinfo"}


def test_module_imports_only_the_standard_library():
    for node in ast.walk(ast.parse(SOURCE)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        for name in names:
            assert name.split(".")[0] in STDLIB_ALLOWED, name


def test_module_never_reads_the_wall_clock():
    forbidden = {"now", "today", "utcnow", "time", "time_ns", "monotonic", "localtime", "gmtime"}
    for node in ast.walk(ast.parse(SOURCE)):
        if isinstance(node, ast.Attribute):  # date.today(), datetime.now(), time.time() ...
            assert node.attr not in forbidden, f"wall clock: .{node.attr} on line {node.lineno}"


def test_every_rule_function_is_named_and_documented_with_its_rule_id():
    rule_functions = [name for name in deadlines.__all__ if re.match(r"r\d+_", name)]
    assert len(rule_functions) >= 20
    for name in rule_functions:
        rule = name.split("_")[0].upper()
        doc = inspect.getdoc(getattr(deadlines, name)) or ""
        assert re.search(rf"\b{rule}\b", doc), f"{name}: docstring must name {rule}"
    for name in deadlines.__all__:
        assert inspect.getdoc(getattr(deadlines, name)), f"{name} has no docstring"
