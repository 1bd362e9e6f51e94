"""Issuance payloads: the NGA's request (plain, sealed, duplicate, replacement), the carnet issued, the refusal.

Part of contracts.messages, which re-exports every name (contracts/messages/__init__.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.bounds import (
    BASE64URL,
    MAX_ITEMS,
    MAX_RECIPIENTS,
    AssociationId,
    CarnetNumber,
    Countries,
    Country,
    ItemNumber,
    Quantity,
    Representatives,
    RequestId,
    Sha256Hex,
    ShortText,
    TariffCode,
    Text,
    WalletId,
)
from contracts.messages.common import (
    MAX_DOCUMENT_CHARS,
    CarnetItems,
    F,
    GoodsCategory,
    GoodsList,
    Holder,
    Payload,
    Reasons,
)

# --- issuance -------------------------------------------------------------------------


class IssuanceRequested(Payload):
    """An NGA asks for a carnet to be issued (sent by the NGA's national issuing system)."""

    TYPE: ClassVar[str] = "IssuanceRequested"
    request_id: RequestId = F(
        "The NGA's own request id; responses echo it, repeats are answered once.", "FR-REQ-2026-000042"
    )
    nga: Country = F("Country of the guaranteeing NGA.", "FR")
    issuing_association: AssociationId = F("Id of the issuing association under the NGA.", "FR-CCI-PARIS")
    holder: Holder = F(
        "The holder.", {"holder_id": "hld_7f3a9c", "name": "Acme", "address": "Paris", "person": "legal"}
    )
    representative_ids: Representatives = F(
        "Wallet ids of representatives the carnet is shared with.", ["rep_19be"], default_factory=list
    )
    intended_use: Text = F("Intended use of the goods.", "Professional equipment for a film shoot")
    countries: Countries = F("Countries where the carnet may be used.", ["CH", "GB"])
    issue_date: date = F("Date of issue.", "2026-11-22")
    expiry_date: date = F("Last valid day (R2).", "2027-11-21")
    goods: GoodsList = F("The general list (R3).", [])
    transport: ShortText | None = F("Means of transport, where given.", "air freight", default=None)


# --- sealed issuance (the carnet document travels encrypted for the holder) ---------------------


class SealedKey(BaseModel):
    """The document's data key sealed for one wallet with HPKE (RFC 9180), see `nga_client.sealing`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    recipient_id: WalletId = F("Wallet id of the holder or representative who can open the document.", "hld_7f3a9c")
    sealed_key: str = F(
        "HPKE base-mode single-shot output enc || ciphertext (32 + 48 bytes), base64url without padding.",
        "x" * 107,
        pattern=r"^[A-Za-z0-9_-]{107}$",
    )


class SealedDocument(BaseModel):
    """The full carnet (holder, addresses, goods with descriptions and values), AES-256-GCM under a random key."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    scheme: Literal["ATA-DOC-2", "ATA-DOC-1"] = F(
        "Construction version, documented in nga_client/sealing.py (ATA-DOC-2: RFC 8785; ATA-DOC-1: the one before).",
        "ATA-DOC-2",
    )
    nonce: str = F(
        "AES-GCM nonce, 12 bytes, base64url without padding.", "AAECAwQFBgcICQoL", pattern=r"^[A-Za-z0-9_-]{16}$"
    )
    ciphertext: str = F(
        "AES-256-GCM ciphertext and tag of the canonical JSON document, base64url without padding. "
        "At most 800,000 characters (600,000 bytes of document): with MAX_ITEMS lines beside it the "
        "largest request still fits one Kafka record with margin.",
        "q8Zk...",
        min_length=24,
        max_length=MAX_DOCUMENT_CHARS,
        pattern=BASE64URL,
    )
    recipients: Annotated[list[SealedKey], Field(min_length=1, max_length=MAX_RECIPIENTS)] = F(
        "The data key sealed for the holder first, then each representative.", []
    )


class SealedItem(BaseModel):
    """What issuance and the ledger need of one general-list line: no description, no value."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    item_number: ItemNumber = F("Item number on the general list, from 1.", 1)
    quantity: Quantity = F("Number of pieces.", 1)
    origin_country: Country = F("ISO 3166-1 alpha-2 country of origin.", "DE")
    category: GoodsCategory = F("Category, checked against R4.", GoodsCategory.PROFESSIONAL_EQUIPMENT)
    hs_code: TariffCode | None = F(
        "R4: the Harmonized System tariff code (heading, subheading and national digits, "
        "4 to 10 digits, dots allowed), the second signal issuance reads beside the "
        "category.",
        "8525.89",
        default=None,
    )


#: MAX_ITEMS lines: with the sealed document beside them, the largest request fits one Kafka record.
SealedItems = Annotated[list[SealedItem], Field(min_length=1, max_length=MAX_ITEMS)]


class SealedIssuanceRequested(Payload):
    """An NGA asks for a carnet; the document is sealed for the holder, the rules' inputs travel beside it."""

    TYPE: ClassVar[str] = "SealedIssuanceRequested"
    request_id: RequestId = F(
        "The NGA's own request id; responses echo it, repeats are answered once.", "FR-REQ-2026-000042"
    )
    nga: Country = F("Country of the guaranteeing NGA.", "FR")
    issuing_association: AssociationId = F("Id of the issuing association under the NGA.", "FR-CCI-PARIS")
    holder_id: WalletId = F("Wallet id of the holder.", "hld_7f3a9c")
    representative_ids: Representatives = F(
        "Wallet ids of representatives the carnet is shared with.", ["rep_19be"], default_factory=list
    )
    countries: Countries = F("Countries where the carnet may be used.", ["CH", "GB"])
    issue_date: date = F("Date of issue.", "2026-11-22")
    expiry_date: date = F("Last valid day (R2).", "2027-11-21")
    items: SealedItems = F(
        "The general list without descriptions or values (R3, R4).",
        [{"item_number": 1, "quantity": 1, "origin_country": "DE", "category": "professional_equipment"}],
    )
    general_list_digest: Sha256Hex = F(
        "SHA-256 of the canonical general list inside the document, hex (R3).",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    )
    document: SealedDocument = F("The full carnet, sealed for the holder and representatives.", {})


class DuplicateRequested(Payload):
    """R5: the NGA asks for a duplicate of a carnet lost, stolen or destroyed."""

    TYPE: ClassVar[str] = "DuplicateRequested"
    request_id: RequestId = F("The NGA's own request id.", "FR-REQ-2027-000077")
    nga: Country = F("Country of the guaranteeing NGA.", "FR")
    issuing_association: AssociationId = F("Issuing association asking.", "FR-CCI-PARIS")
    original_number: CarnetNumber = F("Carnet to replace.", "FR2600000017")
    reason: Literal["lost", "stolen", "destroyed"] = F("Why the original is replaced.", "lost")


class ReplacementRequested(SealedIssuanceRequested):
    """R6: the NGA asks for a replacement carnet (its own terms and sealed document) for goods still abroad."""

    TYPE: ClassVar[str] = "ReplacementRequested"
    original_number: CarnetNumber = F("Carnet whose goods abroad are taken over.", "FR2600000017")
    requested_at: datetime = F(
        "When the holder applied (must be before the original expires).", "2027-10-01T10:00:00+02:00"
    )
    approved_at: datetime = F(
        "When the NGA approved it (must be before the original expires).", "2027-10-03T10:00:00+02:00"
    )


class CarnetIssued(Payload):
    TYPE: ClassVar[str] = "CarnetIssued"
    request_id: RequestId = F("The NGA's request id.", "FR-REQ-2026-000042")
    carnet_number: CarnetNumber = F("Carnet number: country prefix, year, sequence, check digit.", "FR2600000017")
    nga: Country = F("Country of the guaranteeing NGA, also the home country.", "FR")
    issuing_association: AssociationId = F("Issuing association.", "FR-CCI-PARIS")
    holder_id: WalletId = F("Wallet id of the holder.", "hld_7f3a9c")
    representative_ids: Representatives = F("Wallet ids the carnet is shared with.", ["rep_19be"])
    countries: Countries = F("Countries where the carnet may be used.", ["CH", "GB"])
    issue_date: date = F("Date of issue.", "2026-11-22")
    expiry_date: date = F("Last valid day (R2).", "2027-11-21")
    items: CarnetItems = F(
        "Item numbers with quantity and origin, no descriptions.",
        [{"item_number": 1, "quantity": 1, "origin_country": "DE"}],
    )
    general_list_digest: Sha256Hex = F(
        "SHA-256 of the canonical general list, hex (R3: the list cannot change).",
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    )
    document: SealedDocument | None = F(
        "The sealed carnet document for the holder's wallet; empty in answers to the NGA.", None, default=None
    )


class IssuanceRejected(Payload):
    TYPE: ClassVar[str] = "IssuanceRejected"
    request_id: RequestId = F("The NGA's request id.", "FR-REQ-2026-000042")
    nga: Country = F("Country of the NGA.", "FR")
    reasons: Reasons = F(
        "One reason per refused field or item.",
        [{"rule": "R4", "item_number": 3, "message": "alcohol is excluded"}],
        min_length=1,
    )
