"""Calendar arithmetic for the date rules of contracts.deadlines: periods, local days, instants.

Pure: standard library only, no I/O, no wall clock. Not rules themselves; the rules in
contracts.deadlines count through these, so every rule counts the same way.

Conventions (stated once, used by every rule)
=============================================

Days. Every rule counts calendar days in the local time zone of the customs office concerned.
A ``date`` argument is such a local calendar day. Where an instant matters (R2, R6, R12) the
function takes an aware ``datetime`` plus the office's ``ZoneInfo``; ``local_date`` turns an
instant into the office's calendar day.

Last days are inclusive. Every ``*_deadline`` / ``*_limit`` / ``*_date`` function returns the
LAST day on which the act is still in time; the act is late from the next day on. The
``*_in_time`` helpers compare with ``<=`` so callers never have to.

"From the day following X" (R20, R21, R22, R23, R24; the seed 004 wording, Taiwan 2004 Art. 7).
The day X of the event is not counted. The period begins on S = X + 1 day and covers whole
units counted from S:

* N days: the last day is S + N - 1 days, i.e. X + N days (R22: received 3 May, 14 days,
  last day 17 May).
* N months (a year is 12 months): the period ends at the end of the day before the day of the
  N-th following month that has the same number as S (S = 15 Jan, 6 months: last day 14 Jul).
  When that month has no day with that number (S on the 29th, 30th or 31st), the period ends
  on the last day of that month (S = 31 Aug, 6 months: last day 28/29 Feb).

This is the civil-law rule of the seed's jurisdiction (ROC Civil Code Arts. 120-121: the first
day is not counted; a period in months ends on the day before the corresponding day of the last
month, or on that month's last day when there is no corresponding day). In terms of
``add_months`` it is ``add_months(S, N) - 1 day`` whenever ``add_months`` does not clamp, and the
last day of the month when it does: the period is never cut short by clamping (the naive
``add_months(S, N) - 1 day`` would end S = 31 Aug + 6 months on 27 Feb, one day short). Compared
with the event day X it equals ``add_months(X, N)``, except that when X is the last day of a month
the period runs to the last day of the target month (X = 30 Apr, 1 month: S = 1 May, last day
31 May).

R2 counts the issue day as the first day ("12 full months from the date of issue"): the same
rule with S = the issue date.

All period arithmetic goes through ``period_last_day``; nothing else computes a period end.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = [
    "ONE_DAY",
    "DeadlineError",
    "add_months",
    "from_day_following",
    "local_date",
    "period_last_day",
    "require_aware",
    "start_of_local_day",
]

ONE_DAY = timedelta(days=1)


class DeadlineError(ValueError):
    """A date rule was asked something illegal or impossible (e.g. a final date after expiry)."""


def _days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _shift_month(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def add_months(d: date, months: int) -> date:
    """Same day number ``months`` calendar months later (or earlier when negative), clamped to
    the last day of the target month: 31 Jan + 1 month = 28 Feb (29 Feb in a leap year),
    29 Feb 2024 + 12 months = 28 Feb 2025. A plain calendar helper, not a period rule: the
    period rules use ``period_last_day`` (see the module docstring)."""
    try:
        year, month = _shift_month(d.year, d.month, months)
        return date(year, month, min(d.day, _days_in_month(year, month)))
    except (ValueError, OverflowError) as exc:
        raise DeadlineError(f"{d.isoformat()} + {months} months is outside the calendar") from exc


def period_last_day(first_day: date, *, months: int = 0, days: int = 0) -> date:
    """THE period rule: last day (inclusive) of a period that begins on ``first_day`` and lasts
    ``months`` calendar months and then ``days`` days (see the module docstring).

    Months: the day before the day of the target month numbered like ``first_day``; the target
    month's last day when it has no such day. Days: ``first_day + days - 1``.
    """
    if months < 0 or days < 0:
        raise DeadlineError(f"a period cannot be negative (months={months}, days={days})")
    if months == 0 and days == 0:
        raise DeadlineError("a period must last at least one day")
    try:
        if months:
            year, month = _shift_month(first_day.year, first_day.month, months)
            month_length = _days_in_month(year, month)
            if first_day.day <= month_length:
                last = date(year, month, first_day.day) - ONE_DAY
            else:  # no corresponding day in the target month: the period runs to its end
                last = date(year, month, month_length)
            return last + timedelta(days=days)
        return first_day + timedelta(days=days - 1)
    except (ValueError, OverflowError) as exc:
        raise DeadlineError(
            f"a period of {months} months and {days} days from {first_day.isoformat()} is outside the calendar"
        ) from exc


def from_day_following(event_day: date, *, months: int = 0, days: int = 0) -> date:
    """Last day of a period "from the day following" ``event_day``: it begins on event_day + 1."""
    try:
        first_day = event_day + ONE_DAY
    except OverflowError as exc:
        raise DeadlineError(f"no day follows {event_day.isoformat()}") from exc
    return period_last_day(first_day, months=months, days=days)


def require_aware(at: datetime, name: str = "at") -> None:
    """Refuse anything but an aware datetime: a naive one has no local day in any office."""
    if not isinstance(at, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(at).__name__}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise DeadlineError(f"{name} must be an aware datetime (with a time zone), got naive {at.isoformat()}")


def local_date(at: datetime, tz: tzinfo) -> date:
    """The calendar day of instant ``at`` (aware) in the customs office's time zone ``tz``.

    Use it to turn an instant (a commit, a notice sent) into the day the date rules count."""
    require_aware(at)
    return at.astimezone(tz).date()


def start_of_local_day(day: date, tz: tzinfo) -> datetime:
    """The first instant whose local date in ``tz`` is ``day`` (or later), as an aware datetime
    in ``tz`` with a wall time that exists.

    Usually local 00:00. When 00:00 falls in a daylight-saving gap (clocks jump over midnight,
    e.g. America/Havana in March) the day begins at the transition instant; when 00:00 occurs
    twice (clocks fall back across midnight) the day begins at its first occurrence.
    """
    wall = datetime.combine(day, time(0))
    first = wall.replace(tzinfo=tz, fold=0)  # in a gap: the offset before the transition
    second = wall.replace(tzinfo=tz, fold=1)  # in a gap: the offset after the transition
    late = first.astimezone(UTC)
    early = second.astimezone(UTC)
    if early < late:
        # 00:00 is in a gap: the day begins at the transition, somewhere in (early, late].
        # Local dates are monotone over this short window, so bisect on microseconds.
        low, high = early, late  # local date of `low` is before `day`, of `high` is `day` or later
        while high - low > timedelta(microseconds=1):
            mid = low + (high - low) / 2
            if mid.astimezone(tz).date() >= day:
                high = mid
            else:
                low = mid
        late = high
    return late.astimezone(tz)
