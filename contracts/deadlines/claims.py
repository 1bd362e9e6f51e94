"""Claims: R19 (seizures extend the final date), R20/R24 (one year after validity), R21 (six months for
evidence), R22 (14 days to pay), R23 (three months for a refund), the holder's reminders, and the instants
at which each period runs out, for the claims scheduler. Pure: see contracts.deadlines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from contracts.deadlines.validity import r2_validity_ends_at
from contracts.periods import DeadlineError, from_day_following, start_of_local_day

# --- R19-R24: claims ------------------------------------------------------------------------------


def _merge_seizures(seizures: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    ordered = []
    for start, end in seizures:
        if end < start:
            raise DeadlineError(f"R19: seizure ends {end.isoformat()} before it starts {start.isoformat()}")
        ordered.append((start, end))
    ordered.sort()
    merged: list[tuple[date, date]] = []
    for start, end in ordered:
        if merged and start <= merged[-1][1] + timedelta(days=1):  # overlapping or touching: one seizure
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def r19_reexport_deadline(final_date: date, seizures: Sequence[tuple[date, date]]) -> date:
    """R19: "Goods imported under a carnet must be re-exported by their final date (R13) and
    within the carnet's validity. A seizure (other than for a personal lawsuit) extends that
    period by the length of the seizure." (Seed 004 Art. 7.)

    Counting: a seizure from d1 to d2 (both days included) lasts (d2 - d1).days + 1 days and
    pushes the last day later by that many days. Overlapping or touching seizures are merged
    first, so no day is counted twice. A seizure that begins after the (already extended) last
    day does not extend it: the goods were already late, and a period that has ended cannot be
    extended. The caller leaves out seizures for a personal lawsuit. Returns the last day
    (inclusive) for re-exportation; never earlier than ``final_date``.
    """
    deadline = final_date
    for start, end in _merge_seizures(seizures):
        if start > deadline:
            break  # sorted by start, and the deadline only grows: all later ones start later too
        deadline += timedelta(days=(end - start).days + 1)
    return deadline


def r19_reexported_in_time(final_date: date, seizures: Sequence[tuple[date, date]], reexport_date: date) -> bool:
    """R19: was a re-exportation on local day ``reexport_date`` in time (on or before the
    seizure-extended final date)?"""
    return reexport_date <= r19_reexport_deadline(final_date, seizures)


def r20_notice_limit(expiry_date: date) -> date:
    """R20: "The notice must be given within one year from the day after the last day of
    validity; after that the association is discharged." (Seed 004 Art. 7: "within the period of
    one year from the day following the last day of the period of validity".)

    Counting: the year begins on expiry + 1 and lasts 12 months (the period rule); returns its last
    day, the last day a notice is still in time: expiry 2027-01-14 -> 2028-01-14; expiry
    2027-02-28 -> 2028-02-29 (the year 1 Mar 2027 - 29 Feb 2028). Pass the carnet's expiry date
    (the last day of validity).
    """
    return from_day_following(expiry_date, months=12)


def r20_notice_in_time(expiry_date: date, notice_date: date) -> bool:
    """R20: was a notice given on local day ``notice_date`` in time (on or before ``r20_notice_limit``)?"""
    return notice_date <= r20_notice_limit(expiry_date)


def r20_association_discharged(expiry_date: date, today: date) -> bool:
    """R20: "after that the association is discharged." True from the day after
    ``r20_notice_limit`` on; on the limit day itself a notice is still possible (False).

    This only looks at the calendar: a notice already given in time (``r20_notice_in_time``)
    keeps the claim alive, and the caller must check that first.
    """
    return not r20_notice_in_time(expiry_date, today)


def r21_evidence_deadline(notice_date: date) -> date:
    """R21: "The association has six months from the day after the notice to produce evidence
    of re-exportation (or other accepted documents)." (Seed 004 Art. 7: "within six months from
    the day following the date of such notification".)

    Counting: the period begins on notice + 1 and lasts 6 months (the period rule); returns its last
    day: notice 2027-03-10 -> 2027-09-10; notice 2027-08-30 (period from 31 Aug) -> 2028-02-29.
    """
    return from_day_following(notice_date, months=6)


def r21_evidence_in_time(notice_date: date, evidence_date: date) -> bool:
    """R21: was evidence produced on local day ``evidence_date`` in time?"""
    return evidence_date <= r21_evidence_deadline(notice_date)


def r22_payment_deadline(duty_memo_received: date) -> date:
    """R22: "customs issues a duty memo; the association pays within 14 days from the day after
    receiving it." (Seed 004 Art. 7: "within fourteen days from the day following the date of
    receiving the duty memo".)

    Counting: the 14 days begin on received + 1; the last day to pay is received + 14 days
    (received 2027-12-20 -> 2028-01-03).
    """
    return from_day_following(duty_memo_received, days=14)


def r22_payment_overdue(duty_memo_received: date, today: date) -> bool:
    """R22: is the payment late on local day ``today`` (after ``r22_payment_deadline``)?"""
    return today > r22_payment_deadline(duty_memo_received)


def r23_refund_deadline(payment_date: date) -> date:
    """R23: "If evidence turns up after payment, the association may ask for a refund of all or
    part within three months from the day after payment." (Seed 004 Art. 7: "within the period
    of three months from the day following the date of payment".)

    Counting: the period begins on payment + 1 and lasts 3 months (the period rule); returns its
    last day: paid 2027-04-10 -> 2027-07-10; paid 2027-11-30 (period from 1 Dec) -> 2028-02-29.
    """
    return from_day_following(payment_date, months=3)


def r23_refund_in_time(payment_date: date, request_date: date) -> bool:
    """R23: was a refund asked for on local day ``request_date`` in time?"""
    return request_date <= r23_refund_deadline(payment_date)


def r24_discrepancy_claim_limit(expiry_date: date) -> date:
    """R24: "A misuse found after re-exportation (a discrepancy in the carnet's entries) may be
    claimed within one year from the day after the last day of validity." (Seed 004 Art. 7.)

    Counting: exactly as R20 (``r20_notice_limit``): the year begins on expiry + 1; returns its
    last day.
    """
    return from_day_following(expiry_date, months=12)


def r24_discrepancy_claim_in_time(expiry_date: date, claim_date: date) -> bool:
    """R24: was a discrepancy claimed on local day ``claim_date`` in time?"""
    return claim_date <= r24_discrepancy_claim_limit(expiry_date)


def reminder_dates(final_date: date, days_before: Sequence[int] = (30, 7, 1)) -> list[date]:
    """Holder reminders before a final re-export date (R13/R19): one per entry of
    ``days_before``, on final_date - n days (0 = on the final day itself).

    Returned sorted, earliest first, without duplicates. Dates already past are kept: the caller
    knows ``today`` and drops them. A negative ``n`` raises ``DeadlineError``.
    """
    reminders = set()
    for n in days_before:
        if n < 0:
            raise DeadlineError(f"reminders come before the final date, got {n} days before")
        try:
            reminders.add(final_date - timedelta(days=n))
        except OverflowError as exc:
            raise DeadlineError(f"{n} days before {final_date.isoformat()} is outside the calendar") from exc
    return sorted(reminders)


# --- Instants for the claims scheduler (R19-R23) --------------------------------------------------


def lapses_at(last_day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) at which a period whose last local day is ``last_day`` has run out: the
    first instant of the next day in the office's time zone ``tz`` (24:00 local of ``last_day``,
    as R2 ends validity). An act at any instant before it is on or before the last day."""
    return r2_validity_ends_at(last_day, tz).astimezone(UTC)


def r19_overdue_at(final_date: date, seizures: Sequence[tuple[date, date]], tz: tzinfo) -> datetime:
    """R19: the instant (UTC) goods not yet re-exported become overdue: 24:00 local time of the
    seizure-extended final date (``r19_reexport_deadline``). Customs may find them overdue, and
    the claim begins, from that instant on."""
    return lapses_at(r19_reexport_deadline(final_date, seizures), tz)


def r19_reminders(
    final_date: date, seizures: Sequence[tuple[date, date]], tz: tzinfo, days_before: Sequence[int] = (30, 7, 1)
) -> list[tuple[int, date, datetime]]:
    """R19: the holder's reminders before the seizure-extended final date, as
    (days before, local reminder day, instant in UTC of the start of that local day), earliest
    first. "7 days before" a last day of 31 March is 24 March: counted on the calendar of the
    office, not as 7 x 24 hours."""
    deadline = r19_reexport_deadline(final_date, seizures)
    out = []
    for n in sorted(set(days_before), reverse=True):
        (day,) = reminder_dates(deadline, (n,))
        out.append((n, day, start_of_local_day(day, tz).astimezone(UTC)))
    return out


def r20_discharged_at(expiry_date: date, tz: tzinfo) -> datetime:
    """R20: the instant (UTC) from which the association is discharged when no notice was given:
    24:00 local time of ``r20_notice_limit``. A notice given before it is in time."""
    return lapses_at(r20_notice_limit(expiry_date), tz)


def r21_evidence_expires_at(notice_date: date, tz: tzinfo) -> datetime:
    """R21: the instant (UTC) the six months for evidence have run out: 24:00 local time of
    ``r21_evidence_deadline``."""
    return lapses_at(r21_evidence_deadline(notice_date), tz)


def r22_payment_overdue_at(duty_memo_received: date, tz: tzinfo) -> datetime:
    """R22: the instant (UTC) an unpaid duty memo becomes overdue: 24:00 local time of
    ``r22_payment_deadline``."""
    return lapses_at(r22_payment_deadline(duty_memo_received), tz)


def r23_refund_window_closes_at(payment_date: date, tz: tzinfo) -> datetime:
    """R23: the instant (UTC) the three months for a refund request have run out: 24:00 local
    time of ``r23_refund_deadline``."""
    return lapses_at(r23_refund_deadline(payment_date), tz)
