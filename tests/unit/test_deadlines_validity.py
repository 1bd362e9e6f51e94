"""contracts.deadlines, validity: R2 (expiry, 24:00 local time of the office) and R6 (replacement in time).

All dates and instants are injected; no test reads the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from contracts.deadlines import (
    DeadlineError,
    r2_check_expiry,
    r2_is_valid_on,
    r2_max_expiry_date,
    r2_validity_ends_at,
    r6_replacement_in_time,
)
from contracts.periods import add_months, local_date
from tests.support.dates import (
    AUCKLAND,
    HAVANA,
    KIRITIMATI,
    NEW_YORK,
    ONE_US,
    PAGO_PAGO,
    PARIS,
    SANTIAGO,
    UTC,
    D,
    local,
    utc,
)

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


def test_r6_replacement_in_time_until_24h00_of_original_expiry():
    expiry = D("2026-10-25")
    assert r6_replacement_in_time(expiry, local("2026-10-25T23:59:59", PARIS), PARIS)
    assert not r6_replacement_in_time(expiry, local("2026-10-26T00:00:00", PARIS), PARIS)
