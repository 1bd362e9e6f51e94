"""Every date rule of the carnet domain, in one pure package (DOMAIN.md R2, R6, R12, R13, R15, R16, R19-R24).

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

The rules live in one module per family, all re-exported here: ``validity`` (R2, R6), ``crossings``
(R12, R13, R15, R16) and ``claims`` (R19-R24 and their instants).
"""

from __future__ import annotations

from contracts.deadlines.claims import (
    lapses_at,
    r19_overdue_at,
    r19_reexport_deadline,
    r19_reexported_in_time,
    r19_reminders,
    r20_association_discharged,
    r20_discharged_at,
    r20_notice_in_time,
    r20_notice_limit,
    r21_evidence_deadline,
    r21_evidence_expires_at,
    r21_evidence_in_time,
    r22_payment_deadline,
    r22_payment_overdue,
    r22_payment_overdue_at,
    r23_refund_deadline,
    r23_refund_in_time,
    r23_refund_window_closes_at,
    r24_discrepancy_claim_in_time,
    r24_discrepancy_claim_limit,
    reminder_dates,
)
from contracts.deadlines.crossings import r12_entry_allowed, r13_final_date, r15_max_stay_last_day, r16_digital_required
from contracts.deadlines.validity import (
    r2_check_expiry,
    r2_is_valid_on,
    r2_max_expiry_date,
    r2_validity_ends_at,
    r6_replacement_in_time,
)
from contracts.periods import DeadlineError

__all__ = [
    "DeadlineError",
    "r2_max_expiry_date",
    "r2_check_expiry",
    "r2_validity_ends_at",
    "r2_is_valid_on",
    "r6_replacement_in_time",
    "r12_entry_allowed",
    "r13_final_date",
    "r15_max_stay_last_day",
    "r16_digital_required",
    "r19_reexport_deadline",
    "r19_reexported_in_time",
    "r19_overdue_at",
    "r19_reminders",
    "r20_notice_limit",
    "r20_notice_in_time",
    "r20_association_discharged",
    "r20_discharged_at",
    "r21_evidence_deadline",
    "r21_evidence_in_time",
    "r21_evidence_expires_at",
    "r22_payment_deadline",
    "r22_payment_overdue",
    "r22_payment_overdue_at",
    "r23_refund_deadline",
    "r23_refund_in_time",
    "r23_refund_window_closes_at",
    "r24_discrepancy_claim_limit",
    "r24_discrepancy_claim_in_time",
    "reminder_dates",
    "lapses_at",
]
