"""Validity of a carnet: R2 (at most 12 months, ending 24:00 local time of the office) and R6 (a replacement
approved before the original expires). Pure: see contracts.deadlines."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo

from contracts.periods import DeadlineError, period_last_day, require_aware, start_of_local_day

# --- R2: validity ---------------------------------------------------------------------------------


def r2_max_expiry_date(issue_date: date) -> date:
    """R2: "Validity is at most 12 months from the date of issue; the expiry date is the last
    valid day." Seed 002: "valid for 12 full months from the date of issue"; seed 004 Art. 4:
    "shall not exceed one year from the date of issuance".

    Counting: the issue day is the FIRST day of validity (not "from the day following"), and the
    carnet runs 12 full months from it, so the last valid day is the day before the same date
    12 months later: issued 2026-01-15 -> last valid day 2027-01-14 (365 days, both ends
    counted). Issued 29 Feb 2024: there is no 29 Feb 2025, so the twelfth month, and validity,
    end with the last day of February: 2025-02-28 (366 days including 29 Feb 2024 itself, the
    same as for an issue on 28 Feb 2024 -> 2025-02-27). Never later than issue + 365 days.
    """
    return period_last_day(issue_date, months=12)


def r2_check_expiry(issue_date: date, expiry_date: date) -> None:
    """R2: raise ``DeadlineError`` unless issue_date <= expiry_date <= r2_max_expiry_date(issue_date).

    An expiry on the issue day itself is legal (one day of validity)."""
    if expiry_date < issue_date:
        raise DeadlineError(f"R2: expiry {expiry_date.isoformat()} is before issue {issue_date.isoformat()}")
    latest = r2_max_expiry_date(issue_date)
    if expiry_date > latest:
        raise DeadlineError(
            f"R2: expiry {expiry_date.isoformat()} exceeds 12 months from issue {issue_date.isoformat()}"
            f" (last allowed {latest.isoformat()})"
        )


def r2_validity_ends_at(expiry_date: date, tz: tzinfo) -> datetime:
    """R2: "the expiry date is the last valid day, ending at 24:00 local time of the customs
    office." (Seed 004 Art. 6: in time when "prior to the day following the last day of the
    period of validity"; seed 001: "12:00 midnight of the expiration date", read as its end.)

    Counting: 24:00 of the expiry day is the first instant of the day after it in ``tz``. It is
    built from local midnight of expiry + 1 (not expiry + 24 hours), so days of 23 or 25 hours
    on daylight-saving changes end at the right instant. If 00:00 does not exist that day (clocks
    jump over midnight) validity ends at the jump; if it exists twice, at the first one.
    Returns an aware datetime in ``tz`` (for display). To compare or subtract, convert to UTC
    first (``.astimezone(timezone.utc)``), or use ``r2_is_valid_on``: Python compares datetimes
    that share a tzinfo by wall time, and a wall time that occurs twice never compares equal to
    a datetime of another zone (PEP 495).
    """
    try:
        next_day = expiry_date + timedelta(days=1)
    except OverflowError as exc:
        raise DeadlineError(f"no day follows {expiry_date.isoformat()}") from exc
    return start_of_local_day(next_day, tz)


def r2_is_valid_on(expiry_date: date, at: datetime, tz: tzinfo) -> bool:
    """R2: is the carnet still valid at instant ``at`` (aware) for a customs office in ``tz``?

    True strictly before 24:00 local time of the expiry day (``r2_validity_ends_at``); the
    instant 24:00 itself is already the day after. The local day is what counts: 23:30 on the
    expiry day in Pacific/Pago_Pago is valid although it is already the next day in UTC.
    """
    require_aware(at)
    return at.astimezone(UTC) < r2_validity_ends_at(expiry_date, tz).astimezone(UTC)


# --- R6: replacement carnets ----------------------------------------------------------------------


def r6_replacement_in_time(original_expiry: date, approved_at: datetime, tz: tzinfo) -> bool:
    """R6: a replacement carnet "must be applied for and approved before the original expires".

    Counting: the original expires at 24:00 local time of its expiry day (R2), so an approval
    at any instant of the expiry day is in time. Application precedes approval, so checking the
    approval instant is enough; ``tz`` is the time zone of the office that approves.
    """
    return r2_is_valid_on(original_expiry, approved_at, tz)
