"""Version-1 payloads of the claims procedure (DOMAIN.md R19-R27), registered in MESSAGE_TYPES (contracts/catalogue.py).

Kept apart from contracts/messages/ so the claims contract can grow without touching the rest
of the wire format. Instants are aware datetimes; the claims worker turns them into the local day
of the customs office that counts (every claims rule counts calendar days there). Money is
Decimal per ISO 4217 currency, serialised as a string, never a float.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from contracts import bounds
from contracts.bounds import (
    MAX_CURRENCIES,
    MAX_ITEMS,
    CarnetNumber,
    Country,
    Currency,
    Days,
    ItemNumber,
    ItemNumbers,
    MessageType,
    OfficeId,
    Recipients,
    Reference,
    RuleId,
    Text,
    TimeZone,
)
from contracts.messages import F, Payload

CURRENCY = bounds.CURRENCY


def _money(value: Decimal) -> Decimal:
    if not value.is_finite() or value < 0:
        raise ValueError("an amount is a finite, non-negative decimal")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError("an amount has at most two decimals (cents)")
    return value


#: An amount as the claims worker stores it: numeric(18, 2), never a float.
Money = Annotated[bounds.Money, AfterValidator(_money)]


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone") from exc
    return name


#: An IANA time zone name the worker can load (its days are the office's local days).
OfficeZone = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+/-]*$"), AfterValidator(_zone)
]
Amounts = Annotated[dict[Currency, Money], Field(max_length=MAX_CURRENCIES)]
Items = Annotated[ItemNumbers, Field(min_length=1)]


class ClaimState(StrEnum):
    """Where a claim stands; `ClaimStateChanged` moves it from one to the next."""

    OVERDUE = "overdue"  # R19: not re-exported by the (seizure-extended) final date
    NOTICED = "noticed"  # R20: the guaranteeing association was notified; R21 evidence window open
    DISCHARGED = "discharged"  # R20: the notice limit passed first; the association is free
    CLOSED = "closed"  # R21: evidence produced in time
    EVIDENCE_EXPIRED = "evidence_expired"  # R21: six months passed without evidence
    DUTY_MEMO = "duty_memo"  # R22: duty memo issued, 14 days to pay
    PAYMENT_OVERDUE = "payment_overdue"  # R22: not paid in the 14 days
    PAID = "paid"  # R22: paid; R23 refund window open
    REFUND_REQUESTED = "refund_requested"  # R23: asked for in time, customs decides
    REFUND_GRANTED = "refund_granted"
    REFUND_REFUSED = "refund_refused"
    SETTLED = "settled"  # R23: refund window closed without a request
    DISCREPANCY = "discrepancy"  # R24: misuse found after re-exportation, claimed in time; a duty memo follows


# --- customs actions (ata.claims.customs-actions.v1) -----------------------------------------


class SeizureStarted(Payload):
    """R19: customs detained or seized goods; unless for a personal lawsuit, the days count extra."""

    TYPE: ClassVar[str] = "SeizureStarted"
    seizure_id: Reference = F("Customs' id of the seizure; the end names it.", "CH-GVA-SZ-2027-0042")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    country: Country = F("Country whose customs seized the goods.", "CH")
    items: Items = F("Item numbers seized.", [1])
    personal_lawsuit: bool = F("True when seized for a personal lawsuit: R19 gives no extension then.", False)
    office_timezone: TimeZone = F(
        "IANA time zone of the office; the seizure's days are its local days.", "Europe/Zurich"
    )
    started_at: AwareDatetime = F("When the seizure began.", "2027-03-01T10:00:00+01:00")


class DiscrepancyFound(Payload):
    """R24: customs found a misuse after re-exportation (a discrepancy in the carnet's entries) and claim
    the duties from the guaranteeing association; refused after one year from the day after expiry."""

    TYPE: ClassVar[str] = "DiscrepancyFound"
    discrepancy_id: UUID = F(
        "Id of the finding; the claim it opens has this id.", "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"
    )
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    country: Country = F("Country whose customs found it.", "CH")
    items: Items = F("Item numbers concerned.", [1])
    office_timezone: OfficeZone = F("IANA time zone of the office; R24 counts its local days.", "Europe/Zurich")
    description: Text = F("What differs from the carnet's entries.", "serial numbers differ from the general list")
    found_at: AwareDatetime = F(
        "When customs claim it; its local day is judged against R24.", "2028-03-01T10:00:00+01:00"
    )


class SeizureEnded(Payload):
    TYPE: ClassVar[str] = "SeizureEnded"
    seizure_id: Reference = F("The seizure that ended.", "CH-GVA-SZ-2027-0042")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    ended_at: AwareDatetime = F(
        "When the goods were released; that local day is the last day of the seizure.", "2027-03-10T16:00:00+01:00"
    )


class ItemDuty(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    item_number: ItemNumber = F("Item number.", 1)
    currency: Currency = F("ISO 4217 currency of the amounts.", "CHF")
    duties: Money = F("Import duties and taxes assessed at importation (the R25 base).", "1000.00")
    claimed: Money | None = F(
        "What customs claims for the item (duties, taxes, penalties); default: the duties. Capped by R25.",
        "1200.00",
        default=None,
    )


class DutyAssessed(Payload):
    """Customs' assessment of the duties on items, per item (R17, R22, R25); a newer one replaces it."""

    TYPE: ClassVar[str] = "DutyAssessed"
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    country: Country = F("Country of the assessing customs.", "CH")
    assessments: Annotated[list[ItemDuty], Field(min_length=1, max_length=2 * MAX_ITEMS)] = F(
        "One row per item and currency.", [{"item_number": 1, "currency": "CHF", "duties": "1000.00"}]
    )
    office_id: OfficeId = F("Customs office.", "CH-GVA-AIR")
    assessed_at: AwareDatetime = F("When customs assessed them.", "2027-03-01T10:00:00+01:00")


class RefundDecided(Payload):
    """R23: customs' decision on a refund request, all, part or nothing."""

    TYPE: ClassVar[str] = "RefundDecided"
    claim_id: UUID = F("The claim.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    granted: Amounts = F("Amounts refunded per currency; empty: refused.", {"CHF": "1100.00"})
    reason: Text = F("Why, in customs' words.", "re-exportation proven by the exit record")
    decided_at: AwareDatetime = F("When customs decided.", "2028-05-02T10:00:00+02:00")


# --- NGA responses (ata.claims.nga-responses.v1) ---------------------------------------------


class EvidenceSubmitted(Payload):
    """R21: the guaranteeing association produces evidence of re-exportation (or other accepted documents)."""

    TYPE: ClassVar[str] = "EvidenceSubmitted"
    claim_id: UUID = F("The claim.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    reference: Reference = F("The association's reference of the evidence.", "FR-NGA-EV-2027-0007")
    departure_validated: bool = F(
        "True when the evidence is a departure customs validated on the carnet; "
        "False when the goods left without it (R27).",
        False,
        default=False,
    )
    reexported_on: date | None = F(
        "R26: the day the evidence shows the goods left; in time, customs cancel the carnet for them.",
        "2027-03-30",
        default=None,
    )
    submitted_at: AwareDatetime = F("When the association submitted it.", "2027-06-01T10:00:00+02:00")


class PaymentMade(Payload):
    """R22: the association paid the duty memo."""

    TYPE: ClassVar[str] = "PaymentMade"
    claim_id: UUID = F("The claim.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    amounts: Amounts = F("Amounts paid per currency.", {"CHF": "1100.00"}, min_length=1)
    reference: Reference = F("Payment reference.", "FR-NGA-PAY-2027-0012")
    paid_at: AwareDatetime = F("When the payment was made.", "2027-10-01T10:00:00+02:00")


class RefundRequested(Payload):
    """R23: evidence turned up after payment; the association asks for all or part back."""

    TYPE: ClassVar[str] = "RefundRequested"
    claim_id: UUID = F("The claim.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    amounts: Amounts = F("Amounts asked back per currency.", {"CHF": "1100.00"}, min_length=1)
    evidence_reference: Reference = F("The evidence found after payment.", "FR-NGA-EV-2027-0031")
    requested_at: AwareDatetime = F("When the association asked.", "2027-11-15T10:00:00+01:00")


# --- the claims worker's events (ata.claims.events.v1) ---------------------------------------


class ClaimStateChanged(Payload):
    """One transition of a claim; the topic is the claim's full history, keyed by carnet number."""

    TYPE: ClassVar[str] = "ClaimStateChanged"
    claim_id: UUID = F("The claim.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    country: Country = F("Country whose customs claims.", "CH")
    items: Items = F("Item numbers the claim is about.", [1, 2])
    from_state: ClaimState | None = F("State before; none when the claim opens.", None)
    to_state: ClaimState = F("State after.", ClaimState.OVERDUE)
    rule: RuleId = F("Rule applied.", "R19")
    on: date = F("Local day of the customs office on which it happened.", "2027-04-01")
    at: AwareDatetime = F("Instant it happened (the act's own time, or the scheduler's).", "2027-03-31T22:00:00+00:00")
    next_deadline: date | None = F("Last day of the period that now runs, if any (R21, R22, R23).", None, default=None)
    amounts: Amounts | None = F("Money concerned (memo, payment, refund), per currency.", None, default=None)
    reason: Text | None = F("Why, in words.", None, default=None)


class ClaimActionRefused(Payload):
    """An input the rules refuse (late evidence, a refund asked too late, an illegal step): recorded, not lost."""

    TYPE: ClassVar[str] = "ClaimActionRefused"
    claim_id: UUID | None = F("The claim, if one was named and found.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    action: MessageType = F("Message type refused.", "EvidenceSubmitted")
    rule: RuleId | None = F("Rule that refuses it; none for an illegal step of the state machine.", "R21")
    reason: Text = F("Why.", "evidence after the last day 2027-09-10 (R21)")
    refused_message_id: UUID = F("Message id of the refused input.", "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
    at: AwareDatetime = F("When the worker refused it.", "2027-09-11T08:00:00+00:00")


class RegularizationFeeFlagged(Payload):
    """R27: the goods left without a validated departure; customs may charge a regularization fee."""

    TYPE: ClassVar[str] = "RegularizationFeeFlagged"
    claim_id: UUID | None = F(
        "The claim the evidence closed; empty when no claim followed (R27).",
        "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
        default=None,
    )
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    country: Country = F("Country whose customs may charge it.", "CH")
    items: Items = F("Item numbers.", [1])
    reason: Text = F("Why.", "re-exportation shown by evidence, departure not validated")
    flagged_at: AwareDatetime = F("When.", "2027-06-01T08:00:00+00:00")


# --- to the guaranteeing association (ata.claims.nga-notices.v1) -----------------------------


class ClaimNoticeIssued(Payload):
    """R20: customs notify the guaranteeing association of goods not re-exported; R21 evidence window."""

    TYPE: ClassVar[str] = "ClaimNoticeIssued"
    claim_id: UUID = F("The claim; the association's answers name it.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    nga: Country = F("Guaranteeing association's country (the carnet number's prefix).", "FR")
    country: Country = F("Country whose customs claims.", "CH")
    items: Items = F("Item numbers not re-exported.", [1, 2])
    reexport_deadline: date = F("R19: the last day they could leave (final date plus seizures).", "2027-03-31")
    carnet_expiry: date = F("Last day of validity (R20 counts from the day after).", "2027-11-21")
    notice_date: date = F("Local day of the notice.", "2027-04-01")
    evidence_deadline: date = F("R21: last day to produce evidence.", "2027-10-01")
    issued_at: AwareDatetime = F("When it was issued.", "2027-03-31T22:00:00+00:00")


class DutyMemoIssued(Payload):
    """R22: no evidence in time; the association must pay within 14 days from the day after receipt."""

    TYPE: ClassVar[str] = "DutyMemoIssued"
    claim_id: UUID = F("The claim.", "9d1c6c1e-3a4b-4c5d-8e6f-7a8b9c0d1e2f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    nga: Country = F("Guaranteeing association's country.", "FR")
    country: Country = F("Country whose customs claims.", "CH")
    items: Items = F("Item numbers.", [1, 2])
    duties_assessed: Amounts = F("Duties and taxes assessed at importation, per currency.", {"CHF": "1000.00"})
    liability_caps: Amounts = F("R25: duties plus 10%, per currency.", {"CHF": "1100.00"})
    amounts: Amounts = F("Amounts due per currency, never above the cap.", {"CHF": "1100.00"})
    memo_date: date = F("Local day the memo is issued and delivered (R22 counts from the day after).", "2027-10-02")
    payment_deadline: date = F("R22: last day to pay.", "2027-10-16")
    issued_at: AwareDatetime = F("When it was issued.", "2027-10-01T22:00:00+00:00")


# --- to the holder through the notifier (ata.notifications.requests.v1) ----------------------


class ReminderRequested(Payload):
    """Remind the holder and representatives that goods must leave a country by their final date (R13, R19)."""

    TYPE: ClassVar[str] = "ReminderRequested"
    reminder_id: UUID = F("Id of the reminder; deliveries are deduped on it.", "7b6a5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    recipient_ids: Recipients = F("Wallet ids: the holder, then representatives.", ["hld_7f3a9c"])
    country: Country = F("Country the goods must leave.", "CH")
    items: Items = F("Item numbers still there.", [1, 2])
    final_date: date = F("R19: last day to re-export (final date plus seizures).", "2027-03-31")
    days_before: Days = F("Days left before the final date.", 7)
    requested_at: AwareDatetime = F("When the reminder fell due.", "2027-03-23T23:00:00+00:00")


CLAIMS_MESSAGES: tuple[type[Payload], ...] = (
    SeizureStarted,
    SeizureEnded,
    DutyAssessed,
    RefundDecided,
    DiscrepancyFound,
    EvidenceSubmitted,
    PaymentMade,
    RefundRequested,
    ClaimStateChanged,
    ClaimActionRefused,
    RegularizationFeeFlagged,
    ClaimNoticeIssued,
    DutyMemoIssued,
    ReminderRequested,
)
