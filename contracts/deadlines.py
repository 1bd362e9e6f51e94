"""Every date rule of the carnet domain, in one pure module (DOMAIN.md R2, R6, R12, R13, R15, R16, R19-R24).

Pure means: standard library only (and the pure contracts.periods), no I/O, and no wall clock.
Nothing here reads the current date or time; callers pass ``today`` (a ``date``) or ``at`` (an
aware ``datetime``).

How days are counted (local days of the office, inclusive last days, "from the day following")
is stated once in contracts.periods, whose ``period_last_day`` is the only place a period end is
computed. The money rules of the claims (R25, R27) are in contracts.liability.

Instants for a scheduler. A period whose last day is L (local, inclusive) has run out at the
first instant of L + 1 in the office's time zone (``lapses_at``, the same instant as R2's "24:00
local time"). The ``r19_overdue_at``, ``r20_discharged_at``, ``r21_evidence_expires_at``,
``r22_payment_overdue_at`` and ``r23_refund_window_closes_at`` functions return that instant in
UTC, so a deadline table ordered by it acts on every office's deadline at its own local midnight.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo

from contracts.periods import DeadlineError, from_day_following, period_last_day, require_aware, start_of_local_day

__all__ = [
    "DeadlineError",
    "r2_max_expiry_date", "r2_check_expiry", "r2_validity_ends_at", "r2_is_valid_on",
    "r6_replacement_in_time",
    "r12_entry_allowed", "r13_final_date", "r15_max_stay_last_day", "r16_digital_required",
    "r19_reexport_deadline", "r19_reexported_in_time", "r19_overdue_at", "r19_reminders",
    "r20_notice_limit", "r20_notice_in_time", "r20_association_discharged", "r20_discharged_at",
    "r21_evidence_deadline", "r21_evidence_in_time", "r21_evidence_expires_at",
    "r22_payment_deadline", "r22_payment_overdue", "r22_payment_overdue_at",
    "r23_refund_deadline", "r23_refund_in_time", "r23_refund_window_closes_at",
    "r24_discrepancy_claim_limit", "r24_discrepancy_claim_in_time",
    "reminder_dates",
    "lapses_at",
]

# Declaration kinds as strings (the values of contracts.kinds.DeclarationKind, a StrEnum, so
# its members match too). Kept as plain strings: this module is standard library only.
_ALL_KINDS = frozenset(
    {"exportation", "reimportation", "importation", "reexportation", "transit_entry", "transit_discharge"}
)
# R12: the kinds that enter a foreign country and therefore need a carnet still valid.
_R12_ENTRY_KINDS = frozenset({"importation", "transit_entry"})


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


# --- R12, R13, R15, R16: crossings ----------------------------------------------------------------


def r12_entry_allowed(kind: str, expiry_date: date, at: datetime, tz: tzinfo) -> bool:
    """R12: "An expired carnet cannot be used to enter a foreign country (importation, transit
    entry). Re-importation home is accepted even after expiry." (Seed 001: "The expiration date
    only limits entry into foreign countries.")

    Counting: an importation or transit entry at ``at`` needs ``r2_is_valid_on`` in the office's
    ``tz`` (valid through 24:00 local time of the expiry day). Every other kind (exportation,
    reimportation, reexportation, transit_discharge) is allowed after expiry: leaving late or
    coming home late is recorded, and lateness is a claims matter (R19-R24). An unknown kind
    raises ``DeadlineError``.
    """
    if kind not in _ALL_KINDS:
        raise DeadlineError(f"R12: unknown declaration kind {kind!r}")
    if kind in _R12_ENTRY_KINDS:
        return r2_is_valid_on(expiry_date, at, tz)
    require_aware(at)
    return True


def r13_final_date(expiry_date: date, restricted_to: date | None) -> date:
    """R13: "On importation, customs sets the final date for re-exportation for those items; it
    may be shorter than the carnet's validity, never later than the expiry date. Without a
    restriction it is the expiry date. Transit entry likewise gets a final date."

    Counting: the final date is the last day (inclusive) on which the goods may leave, ending at
    24:00 local time like the expiry date. ``restricted_to`` None -> the expiry date. A
    restriction after the expiry date raises ``DeadlineError`` instead of being clamped: customs
    asked for something the rule forbids, and silently changing an officer's date would hide it.
    """
    if restricted_to is None:
        return expiry_date
    if restricted_to > expiry_date:
        raise DeadlineError(
            f"R13: final date {restricted_to.isoformat()} is later than the expiry date {expiry_date.isoformat()}"
        )
    return restricted_to


def r15_max_stay_last_day(entry_date: date, expiry_date: date, *, months: int = 0, days: int = 0) -> date:
    """R15: a country's policy may set "a maximum stay shorter than the validity" (the seeds
    give no figures: policy is data). Returns the last day the goods may stay: the earlier of the
    expiry date and the end of the maximum stay.

    Counting: the stay counts the day of entry as its first day (like R2 counts the issue day),
    then ``months`` months and ``days`` days by the period rule (contracts.periods): entry 2026-01-15 with a
    6-month stay -> last day 2026-07-14; 90 days -> 2026-04-14. Pass the result as
    ``restricted_to`` to ``r13_final_date``.
    """
    return min(expiry_date, period_last_day(entry_date, months=months, days=days))


def r16_digital_required(digital_date: date | None, on: date) -> bool:
    """R16: "The digital date of a country is the day from which every carnet declaration there
    must be digital; before it, a country may take both."

    Counting: from the digital date itself (inclusive), local day of the office. None means the
    country has set no digital date: paper is still accepted.
    """
    return digital_date is not None and on >= digital_date


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

