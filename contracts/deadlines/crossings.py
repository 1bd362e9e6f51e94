"""Crossings: R12 (entry needs a valid carnet), R13 (final date), R15 (maximum stay), R16 (digital date).
Pure: see contracts.deadlines."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from contracts.deadlines.validity import r2_is_valid_on
from contracts.periods import DeadlineError, period_last_day, require_aware

# Declaration kinds as strings (the values of contracts.kinds.DeclarationKind, a StrEnum, so
# its members match too). Kept as plain strings: this module is standard library only.
_ALL_KINDS = frozenset(
    {"exportation", "reimportation", "importation", "reexportation", "transit_entry", "transit_discharge"}
)
# R12: the kinds that enter a foreign country and therefore need a carnet still valid.
_R12_ENTRY_KINDS = frozenset({"importation", "transit_entry"})


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
