"""The core's ledger payloads: transactions recorded and cancelled, and the confirmations pushed to holders.

Part of contracts.messages, which re-exports every name (contracts/messages/__init__.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.bounds import (
    MAX_ITEMS,
    CarnetNumber,
    Counter32,
    Country,
    ItemNumber,
    ItemNumbers,
    OfficeId,
    OfficerId,
    Recipients,
    Sha256Hex,
    TimeZone,
    TransactionCode,
    VoucherNumber,
    WalletId,
)
from contracts.kinds import DeclarationKind
from contracts.messages.common import (
    F,
    Payload,
    Prose,
    Reasons,
)

# --- ledger --------------------------------------------------------------------------------


class ItemLocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    item_number: ItemNumber = F("Item number.", 1)
    location: Literal["home", "exported", "abroad", "in_transit", "accounted", "transferred"] = F(
        "Where the item is after the transaction (R11); 'transferred': taken over by a replacement (R6).", "exported"
    )
    country: Country | None = F("Country where it is, if abroad or in transit.", None, default=None)
    final_date: date | None = F("R13: last day to leave that country, if abroad or in transit.", None, default=None)


ItemLocations = Annotated[list[ItemLocation], Field(max_length=MAX_ITEMS)]


class TransactionRecorded(Payload):
    TYPE: ClassVar[str] = "TransactionRecorded"
    transaction_id: UUID = F("Id in the core's ledger.", "5b7e2c1d-9a8b-4c3d-8e2f-1a0b9c8d7e6f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    declaration_id: UUID = F("Declaration committed or refused.", "3f0c2b8a-0a4e-4a51-9c55-6f3e6c2a1d90")
    commit_id: UUID = F("The gateway's commit id.", "0e7c9d7e-2b1c-4f55-9a3b-1c2d3e4f5a6b")
    kind: DeclarationKind = F("Kind of crossing.", DeclarationKind.EXPORTATION)
    country: Country = F("Country of the crossing.", "FR")
    items: ItemNumbers = F("Item numbers of the declaration.", [1, 2])
    sequence: VoucherNumber = F("Set number within its kind.", 1)
    decision: Literal["committed", "refused"] = F("Outcome.", "committed")
    office_id: OfficeId = F("Customs office.", "FR-CDG-FRET")
    office_timezone: TimeZone = F("IANA time zone of the office.", "Europe/Paris")
    carnet_expiry: date = F("Last valid day of the carnet.", "2027-11-21")
    item_locations: ItemLocations = F(
        "Where each item of the declaration is now.", [{"item_number": 1, "location": "exported"}]
    )
    recorded_at: datetime = F("When the core recorded it.", "2026-11-22T09:31:01+01:00")
    history_head: Sha256Hex | None = F(
        "SHA-256 head of the carnet's history chain after this transaction, hex; kept by consumers, it exposes a "
        "rewritten or truncated history.",
        "5f0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
        default=None,
    )


class TransactionCancelled(Payload):
    """A committed transaction undone: its items are back where they were before it (R11)."""

    TYPE: ClassVar[str] = "TransactionCancelled"
    cancellation_id: UUID = F("The gateway's cancellation id.", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
    transaction_id: UUID = F("The transaction cancelled.", "5b7e2c1d-9a8b-4c3d-8e2f-1a0b9c8d7e6f")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    transaction_code: TransactionCode = F("Transaction code of the cancelled declaration.", "7K3M9QX2D4RA8")
    kind: DeclarationKind = F("Kind of the cancelled crossing.", DeclarationKind.EXPORTATION)
    country: Country = F("Country of the cancelled crossing.", "FR")
    items: ItemNumbers = F("Item numbers of the cancelled crossing.", [1, 2])
    sequence: VoucherNumber = F("Set number of the cancelled crossing; it stays used (R8).", 1)
    reason: Prose = F("The officer's reason.", "goods declared on the wrong voucher")
    office_id: OfficeId = F("Customs office that cancelled.", "FR-CDG-FRET")
    office_timezone: TimeZone = F("IANA time zone of that office.", "Europe/Paris")
    officer_id: OfficerId = F("Officer who cancelled (R18).", "fr-officer-0042")
    carnet_expiry: date = F("Last valid day of the carnet.", "2027-11-21")
    item_locations: ItemLocations = F(
        "Where each item is after the cancellation.", [{"item_number": 1, "location": "home"}]
    )
    cancelled_at: datetime = F("When the core recorded the cancellation.", "2026-11-22T09:45:01+01:00")
    history_head: Sha256Hex | None = F(
        "SHA-256 head of the carnet's history chain after the cancellation, hex.",
        "5f0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d",
        default=None,
    )


class CancellationRefused(Payload):
    """The core would not cancel: wrong code, already cancelled, or the goods have moved on since."""

    TYPE: ClassVar[str] = "CancellationRefused"
    cancellation_id: UUID = F("The gateway's cancellation id.", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
    carnet_number: CarnetNumber = F("Carnet number named by the request.", "FR2600000017")
    transaction_code: TransactionCode = F("Transaction code named by the request.", "7K3M9QX2D4RA8")
    reasons: Reasons = F(
        "Why.",
        [
            {
                "rule": "cancellation",
                "code": "wrong_cancellation_code",
                "message": "the cancellation code does not match",
            }
        ],
        min_length=1,
    )
    refused_at: datetime = F("When the core refused it.", "2026-11-22T09:45:01+01:00")


class ConfirmationRequested(Payload):
    """Ask the notifier to confirm a transaction to the holder and representatives."""

    TYPE: ClassVar[str] = "ConfirmationRequested"
    confirmation_id: UUID = F(
        "Id of the confirmation; deliveries are deduped on it.", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"
    )
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    recipient_ids: Recipients = F("Wallet ids to confirm to: the holder, then representatives.", ["hld_7f3a9c"])
    transaction_id: UUID = F("Transaction confirmed.", "5b7e2c1d-9a8b-4c3d-8e2f-1a0b9c8d7e6f")
    kind: DeclarationKind = F("Kind of crossing.", DeclarationKind.EXPORTATION)
    country: Country = F("Country of the crossing.", "FR")
    items: ItemNumbers = F("Item numbers.", [1, 2])
    decision: Literal["committed", "refused", "cancelled"] = F(
        "Outcome; 'cancelled': customs cancelled a committed transaction with the holder's cancellation code.",
        "committed",
    )
    recorded_at: datetime = F("When the core recorded the transaction.", "2026-11-22T09:31:01+01:00")
    history_position: int | None = F(
        "Position in the carnet's history chain this confirmation reflects: the entry the transaction or cancellation "
        "appended, or for a refusal (which appends none) the last entry then (0 before the first). A carnet's "
        "confirmations are sent in ledger order; a receiver orders and dedupes on it as well (README).",
        4,
        default=None,
        ge=0,
        le=2_147_483_647,
    )


class ConfirmationDelivered(Payload):
    TYPE: ClassVar[str] = "ConfirmationDelivered"
    confirmation_id: UUID = F("Confirmation delivered.", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    recipient_id: WalletId = F("Wallet id it was delivered to.", "hld_7f3a9c")
    channel: Literal["webhook", "webpush"] = F("Channel used.", "webhook")
    endpoint_id: UUID = F("Registered endpoint delivered to.", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
    attempts: Counter32 = F("Attempts it took.", 1)
    delivered_at: datetime = F("When the receiver acknowledged it.", "2026-11-22T09:31:02+01:00")
