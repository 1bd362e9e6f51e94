"""A crossing's payloads: the holder's declaration, its token or refusal, the customs commit and cancellation.

Part of contracts.messages, which re-exports every name (contracts/messages/__init__.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal
from uuid import UUID

from contracts.bounds import (
    CarnetNumber,
    Country,
    ItemNumbers,
    KeyId,
    OfficeId,
    OfficerId,
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

# --- declarations ------------------------------------------------------------------------


class DeclarationSubmitted(Payload):
    TYPE: ClassVar[str] = "DeclarationSubmitted"
    declaration_id: UUID = F("Id of the declaration.", "3f0c2b8a-0a4e-4a51-9c55-6f3e6c2a1d90")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    kind: DeclarationKind = F("Kind of crossing.", DeclarationKind.EXPORTATION)
    country: Country = F("Country of the crossing.", "FR")
    items: ItemNumbers = F("Item numbers that cross (R9).", [1, 2])
    sequence: VoucherNumber = F("Number of this set within its kind (R8).", 1)
    declared_by: WalletId = F("Wallet id of the holder or representative who signed.", "hld_7f3a9c")
    transaction_code: TransactionCode = F("Typed fallback code (Crockford Base32 with check).", "7K3M9QX2D4RA8")


class TokenIssued(Payload):
    TYPE: ClassVar[str] = "TokenIssued"
    declaration_id: UUID = F("Declaration the token is for.", "3f0c2b8a-0a4e-4a51-9c55-6f3e6c2a1d90")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    token_id: UUID = F("Token id (CWT cti).", "8c1b8d2e-3f4a-4b5c-8d6e-7f8091a2b3c4")
    kid: KeyId = F("Signing key id, hex.", "a1b2c3d4e5f60718")
    expires_at: datetime = F("When the token stops being accepted.", "2026-11-23T09:30:00+00:00")


class DeclarationRefused(Payload):
    TYPE: ClassVar[str] = "DeclarationRefused"
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    kind: DeclarationKind = F("Kind asked for.", DeclarationKind.IMPORTATION)
    country: Country = F("Country asked for.", "CH")
    items: ItemNumbers = F("Items asked for.", [1, 2])
    reasons: Reasons = F("Why the declaration was refused.", [{"rule": "R12", "message": "carnet expired"}])


# --- customs -----------------------------------------------------------------------------


class CustomsCommitPosted(Payload):
    """An officer committed or refused a scanned declaration (gateway -> core)."""

    TYPE: ClassVar[str] = "CustomsCommitPosted"
    commit_id: UUID = F("Id of the commit at the gateway.", "0e7c9d7e-2b1c-4f55-9a3b-1c2d3e4f5a6b")
    carnet_number: CarnetNumber = F("Carnet number from the verified token.", "FR2600000017")
    transaction_code: TransactionCode = F("Transaction code from the token.", "7K3M9QX2D4RA8")
    token_id: UUID = F("Token id (cti) that was scanned.", "8c1b8d2e-3f4a-4b5c-8d6e-7f8091a2b3c4")
    kind: DeclarationKind = F("Kind of crossing from the token.", DeclarationKind.EXPORTATION)
    country: Country = F("Country of the customs office.", "FR")
    items: ItemNumbers = F("Item numbers committed.", [1, 2])
    office_id: OfficeId = F("Customs office id.", "FR-CDG-FRET")
    office_timezone: TimeZone = F("IANA time zone of the office: deadlines count in it.", "Europe/Paris")
    officer_id: OfficerId = F("Individual officer account (R18).", "fr-officer-0042")
    decision: Literal["committed", "refused"] = F("The officer's decision.", "committed")
    final_date: date | None = F("R13: final date for re-exportation set by customs, if restricted.", None, default=None)
    refusal_reason: Prose | None = F("Why customs refused, when refused.", None, default=None)
    decided_at: datetime = F("When the officer decided.", "2026-11-22T09:31:00+01:00")


class CancellationPosted(Payload):
    """An officer cancels a committed transaction, with the holder's consent (gateway -> core).

    The holder's cancellation code is the consent: the core shows it only to the holder and
    representatives, and checks it before anything is undone."""

    TYPE: ClassVar[str] = "CancellationPosted"
    cancellation_id: UUID = F(
        "Id of the cancellation at the gateway; the core applies it once.", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a"
    )
    carnet_number: CarnetNumber = F("Carnet number of the committed transaction.", "FR2600000017")
    transaction_code: TransactionCode = F("Transaction code of the committed declaration.", "7K3M9QX2D4RA8")
    cancellation_code: TransactionCode = F(
        "The holder's cancellation code for that transaction, canonical form.", "0H4N8WQ2C3TZ5"
    )
    reason: Prose = F("Why the officer cancels.", "goods declared on the wrong voucher")
    country: Country = F(
        "Country of the customs office: only customs of the transaction's country may cancel it (R18).", "FR"
    )
    office_id: OfficeId = F("Customs office id.", "FR-CDG-FRET")
    office_timezone: TimeZone = F("IANA time zone of the office.", "Europe/Paris")
    officer_id: OfficerId = F("Individual officer account (R18).", "fr-officer-0042")
    posted_at: datetime = F("When the officer asked for the cancellation.", "2026-11-22T09:45:00+01:00")
