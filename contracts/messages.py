"""Version-1 payloads of every message on the happy path (contracts/catalogue.py registers them for decoding).

Each payload names its `TYPE` and `VERSION`; the envelope carries both, so a consumer picks the
model before it parses. Payloads carry no goods descriptions or values beyond the issuance
request itself: what the core needs to apply the rules travels as separate fields.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from contracts.bounds import (
    CARNET_NUMBER, COUNTRY,  # noqa: F401 - re-exported: the HTTP modules take these patterns from here
    BASE64URL, MAX_COUNTRIES, MAX_DAYS, MAX_ITEMS, MAX_REASONS, MAX_RECIPIENTS,
    AssociationId, CarnetNumber, CompactJws, Counter32, Countries, Country, Currency, ItemNumber, ItemNumbers, Jwk,
    KeyId,
    Measure, Money, OfficeId, OfficerId, Quantity, ReasonCode, ReasonMessage, Recipients, Reference, Representatives,
    RequestId, RuleId, Sha256Hex, ShortText, TariffCode, Text, TimeZone, TransactionCode, VoucherNumber, WalletId,
    fold_reasons,
    ident, line, prose,
)
from contracts.kinds import DeclarationKind

# CARNET_NUMBER and COUNTRY stay importable from here: HTTP models of the services use them.

#: Text an officer writes (a reason for refusing or cancelling): newlines allowed.
Prose = prose(500)
PolicyLabel = line(100)
FieldPath = line(200)
PolicyVersion = ident(50)
#: Longest sealed document (base64url characters); see SealedDocument.ciphertext.
MAX_DOCUMENT_CHARS = 800_000


def F(description: str, example: Any, **kw: Any) -> Any:
    """A field with its description and one example, as every contract field must have."""
    return Field(description=description, examples=[example], **kw)


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1


#: R4: an HS tariff code: the 4-digit heading, then pairs of digits (subheading, national), dots optional.


class GoodsCategory(StrEnum):
    """R4: eligible categories first, then the excluded ones issuance must refuse."""

    PROFESSIONAL_EQUIPMENT = "professional_equipment"
    EXHIBITION = "exhibition"
    COMMERCIAL_SAMPLES = "commercial_samples"
    OTHER_TREATY = "other_treaty"
    TOBACCO = "tobacco"
    ALCOHOL = "alcohol"
    PERISHABLE = "perishable"
    CONSUMABLE = "consumable"
    NOT_FOR_REEXPORT = "not_for_reexport"
    CONTROLLED = "controlled"
    PROCESSING_OR_REPAIR = "processing_or_repair"


class Holder(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    holder_id: WalletId = F("Wallet id of the holder in the digital system.", "hld_7f3a9c")
    name: ShortText = F("Name of the natural or legal person.", "Acme Film Production SARL")
    address: Text = F("Postal address.", "12 rue de la Paix, 75002 Paris, FR")
    person: Literal["natural", "legal"] = F("Natural or legal person (R1).", "legal")


class GoodsItem(BaseModel):
    """One line of the general list (R3)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    item_number: ItemNumber = F("Item number on the general list, from 1.", 1)
    description: Text = F("Trade description with serial numbers or marks.", "Camera ARRI Alexa Mini, s/n 12345")
    quantity: Quantity = F("Number of pieces.", 1)
    weight_kg: Measure | None = F("Weight in kilograms, where weight is the measure.", "2.3", default=None)
    volume_l: Measure | None = F("Volume in litres, where volume is the measure.", None, default=None)
    value: Money = F("Value of the line.", "45000.00")
    currency: Currency = F("ISO 4217 currency of the value.", "EUR")
    origin_country: Country = F("ISO 3166-1 alpha-2 country of origin.", "DE")
    category: GoodsCategory = F("Category, checked against R4.", GoodsCategory.PROFESSIONAL_EQUIPMENT)
    hs_code: TariffCode | None = F("R4: the Harmonized System tariff code (heading, subheading and national digits, "
                                   "4 to 10 digits, dots allowed), the second signal issuance reads beside the "
                                   "category.", "8525.89", default=None)


class CarnetItem(BaseModel):
    """What the ledger needs of an item: no description and no value."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    item_number: ItemNumber = F("Item number on the general list.", 1)
    quantity: Quantity = F("Number of pieces.", 1)
    origin_country: Country = F("Country of origin.", "DE")


class Reason(BaseModel):
    """Why something was refused: which rule, which field or item, in words."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    rule: RuleId = F("Rule id from DOMAIN.md, or 'contract' for a schema violation.", "R4")
    code: ReasonCode | None = F("Machine-readable reason, stable across versions.", "split_shipment_forbidden", default=None)
    policy: PolicyLabel | None = F("The country policy and its version, when a policy caused the refusal (R15).", "country-policy 2026-11-22.1 MX", default=None)
    field: FieldPath | None = F("Path of the offending field.", "goods[2].category", default=None)
    item_number: ItemNumber | None = F("Item number concerned, if any.", 3, default=None)
    message: ReasonMessage = F("Human-readable explanation.", "alcohol is excluded from ATA carnets (R4)")


#: At most MAX_REASONS reasons; a longer list is folded (contracts.bounds.fold_reasons), never refused.
Reasons = Annotated[list[Reason], BeforeValidator(fold_reasons), Field(max_length=MAX_REASONS)]
#: The plain general list. IssuanceRequested is parsed only to be refused (the document must travel
#: sealed); 300 lines of the longest descriptions are what fits one Kafka record with margin.
GoodsList = Annotated[list[GoodsItem], Field(min_length=1, max_length=300)]
CarnetItems = Annotated[list[CarnetItem], Field(min_length=1, max_length=MAX_ITEMS)]


# --- issuance -------------------------------------------------------------------------


class IssuanceRequested(Payload):
    """An NGA asks for a carnet to be issued (sent by the NGA's national issuing system)."""

    TYPE: ClassVar[str] = "IssuanceRequested"
    request_id: RequestId = F("The NGA's own request id; responses echo it, repeats are answered once.", "FR-REQ-2026-000042")
    nga: Country = F("Country of the guaranteeing NGA.", "FR")
    issuing_association: AssociationId = F("Id of the issuing association under the NGA.", "FR-CCI-PARIS")
    holder: Holder = F("The holder.", {"holder_id": "hld_7f3a9c", "name": "Acme", "address": "Paris", "person": "legal"})
    representative_ids: Representatives = F("Wallet ids of representatives the carnet is shared with.", ["rep_19be"], default_factory=list)
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
    sealed_key: str = F("HPKE base-mode single-shot output enc || ciphertext (32 + 48 bytes), base64url without padding.",
                        "x" * 107, pattern=r"^[A-Za-z0-9_-]{107}$")


class SealedDocument(BaseModel):
    """The full carnet (holder, addresses, goods with descriptions and values), AES-256-GCM under a random key."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    scheme: Literal["ATA-DOC-2", "ATA-DOC-1"] = F("Construction version, documented in nga_client/sealing.py "
                                                  "(ATA-DOC-2: RFC 8785; ATA-DOC-1: the one before).", "ATA-DOC-2")
    nonce: str = F("AES-GCM nonce, 12 bytes, base64url without padding.", "AAECAwQFBgcICQoL", pattern=r"^[A-Za-z0-9_-]{16}$")
    ciphertext: str = F("AES-256-GCM ciphertext and tag of the canonical JSON document, base64url without padding. "
                        "At most 800,000 characters (600,000 bytes of document): with MAX_ITEMS lines beside it the "
                        "largest request still fits one Kafka record with margin.",
                        "q8Zk...", min_length=24, max_length=MAX_DOCUMENT_CHARS, pattern=BASE64URL)
    recipients: Annotated[list[SealedKey], Field(min_length=1, max_length=MAX_RECIPIENTS)] = F("The data key sealed for the holder first, then each representative.", [])


class SealedItem(BaseModel):
    """What issuance and the ledger need of one general-list line: no description, no value."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    item_number: ItemNumber = F("Item number on the general list, from 1.", 1)
    quantity: Quantity = F("Number of pieces.", 1)
    origin_country: Country = F("ISO 3166-1 alpha-2 country of origin.", "DE")
    category: GoodsCategory = F("Category, checked against R4.", GoodsCategory.PROFESSIONAL_EQUIPMENT)
    hs_code: TariffCode | None = F("R4: the Harmonized System tariff code (heading, subheading and national digits, "
                                   "4 to 10 digits, dots allowed), the second signal issuance reads beside the "
                                   "category.", "8525.89", default=None)


#: MAX_ITEMS lines: with the sealed document beside them, the largest request fits one Kafka record.
SealedItems = Annotated[list[SealedItem], Field(min_length=1, max_length=MAX_ITEMS)]


class SealedIssuanceRequested(Payload):
    """An NGA asks for a carnet; the document is sealed for the holder, the rules' inputs travel beside it."""

    TYPE: ClassVar[str] = "SealedIssuanceRequested"
    request_id: RequestId = F("The NGA's own request id; responses echo it, repeats are answered once.", "FR-REQ-2026-000042")
    nga: Country = F("Country of the guaranteeing NGA.", "FR")
    issuing_association: AssociationId = F("Id of the issuing association under the NGA.", "FR-CCI-PARIS")
    holder_id: WalletId = F("Wallet id of the holder.", "hld_7f3a9c")
    representative_ids: Representatives = F("Wallet ids of representatives the carnet is shared with.", ["rep_19be"], default_factory=list)
    countries: Countries = F("Countries where the carnet may be used.", ["CH", "GB"])
    issue_date: date = F("Date of issue.", "2026-11-22")
    expiry_date: date = F("Last valid day (R2).", "2027-11-21")
    items: SealedItems = F("The general list without descriptions or values (R3, R4).", [{"item_number": 1, "quantity": 1, "origin_country": "DE", "category": "professional_equipment"}])
    general_list_digest: Sha256Hex = F("SHA-256 of the canonical general list inside the document, hex (R3).", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
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
    requested_at: datetime = F("When the holder applied (must be before the original expires).", "2027-10-01T10:00:00+02:00")
    approved_at: datetime = F("When the NGA approved it (must be before the original expires).", "2027-10-03T10:00:00+02:00")


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
    items: CarnetItems = F("Item numbers with quantity and origin, no descriptions.", [{"item_number": 1, "quantity": 1, "origin_country": "DE"}])
    general_list_digest: Sha256Hex = F("SHA-256 of the canonical general list, hex (R3: the list cannot change).", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    document: SealedDocument | None = F("The sealed carnet document for the holder's wallet; empty in answers to the NGA.",
                                        None, default=None)


class IssuanceRejected(Payload):
    TYPE: ClassVar[str] = "IssuanceRejected"
    request_id: RequestId = F("The NGA's request id.", "FR-REQ-2026-000042")
    nga: Country = F("Country of the NGA.", "FR")
    reasons: Reasons = F("One reason per refused field or item.", [{"rule": "R4", "item_number": 3, "message": "alcohol is excluded"}], min_length=1)


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
    cancellation_id: UUID = F("Id of the cancellation at the gateway; the core applies it once.",
                              "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
    carnet_number: CarnetNumber = F("Carnet number of the committed transaction.", "FR2600000017")
    transaction_code: TransactionCode = F("Transaction code of the committed declaration.", "7K3M9QX2D4RA8")
    cancellation_code: TransactionCode = F("The holder's cancellation code for that transaction, canonical form.", "0H4N8WQ2C3TZ5")
    reason: Prose = F("Why the officer cancels.", "goods declared on the wrong voucher")
    country: Country = F("Country of the customs office: only customs of the transaction's country may cancel it (R18).", "FR")
    office_id: OfficeId = F("Customs office id.", "FR-CDG-FRET")
    office_timezone: TimeZone = F("IANA time zone of the office.", "Europe/Paris")
    officer_id: OfficerId = F("Individual officer account (R18).", "fr-officer-0042")
    posted_at: datetime = F("When the officer asked for the cancellation.", "2026-11-22T09:45:00+01:00")


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
    item_locations: ItemLocations = F("Where each item of the declaration is now.", [{"item_number": 1, "location": "exported"}])
    recorded_at: datetime = F("When the core recorded it.", "2026-11-22T09:31:01+01:00")
    history_head: Sha256Hex | None = F("SHA-256 head of the carnet's history chain after this transaction, hex; kept by consumers, it exposes a "
        "rewritten or truncated history.", "5f0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d", default=None)


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
    item_locations: ItemLocations = F("Where each item is after the cancellation.", [{"item_number": 1, "location": "home"}])
    cancelled_at: datetime = F("When the core recorded the cancellation.", "2026-11-22T09:45:01+01:00")
    history_head: Sha256Hex | None = F("SHA-256 head of the carnet's history chain after the cancellation, hex.", "5f0c1d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d", default=None)


class CancellationRefused(Payload):
    """The core would not cancel: wrong code, already cancelled, or the goods have moved on since."""

    TYPE: ClassVar[str] = "CancellationRefused"
    cancellation_id: UUID = F("The gateway's cancellation id.", "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")
    carnet_number: CarnetNumber = F("Carnet number named by the request.", "FR2600000017")
    transaction_code: TransactionCode = F("Transaction code named by the request.", "7K3M9QX2D4RA8")
    reasons: Reasons = F("Why.", [{"rule": "cancellation", "code": "wrong_cancellation_code",
                                        "message": "the cancellation code does not match"}], min_length=1)
    refused_at: datetime = F("When the core refused it.", "2026-11-22T09:45:01+01:00")


class ConfirmationRequested(Payload):
    """Ask the notifier to confirm a transaction to the holder and representatives."""

    TYPE: ClassVar[str] = "ConfirmationRequested"
    confirmation_id: UUID = F("Id of the confirmation; deliveries are deduped on it.", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    recipient_ids: Recipients = F("Wallet ids to confirm to: the holder, then representatives.", ["hld_7f3a9c"])
    transaction_id: UUID = F("Transaction confirmed.", "5b7e2c1d-9a8b-4c3d-8e2f-1a0b9c8d7e6f")
    kind: DeclarationKind = F("Kind of crossing.", DeclarationKind.EXPORTATION)
    country: Country = F("Country of the crossing.", "FR")
    items: ItemNumbers = F("Item numbers.", [1, 2])
    decision: Literal["committed", "refused", "cancelled"] = F(
        "Outcome; 'cancelled': customs cancelled a committed transaction with the holder's cancellation code.",
        "committed")
    recorded_at: datetime = F("When the core recorded the transaction.", "2026-11-22T09:31:01+01:00")
    history_position: int | None = F(
        "Position in the carnet's history chain this confirmation reflects: the entry the transaction or cancellation "
        "appended, or for a refusal (which appends none) the last entry then (0 before the first). A carnet's "
        "confirmations are sent in ledger order; a receiver orders and dedupes on it as well (README).", 4,
        default=None, ge=0, le=2_147_483_647)


class ConfirmationDelivered(Payload):
    TYPE: ClassVar[str] = "ConfirmationDelivered"
    confirmation_id: UUID = F("Confirmation delivered.", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    recipient_id: WalletId = F("Wallet id it was delivered to.", "hld_7f3a9c")
    channel: Literal["webhook", "webpush"] = F("Channel used.", "webhook")
    endpoint_id: UUID = F("Registered endpoint delivered to.", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
    attempts: Counter32 = F("Attempts it took.", 1)
    delivered_at: datetime = F("When the receiver acknowledged it.", "2026-11-22T09:31:02+01:00")


# --- keys ----------------------------------------------------------------------------------


class SigningKeyPublished(Payload):
    """A public key the core signs declaration tokens with; gateways cache it to verify offline."""

    TYPE: ClassVar[str] = "SigningKeyPublished"
    kid: KeyId = F("Key id, hex of the first 8 bytes of SHA-256 of the SubjectPublicKeyInfo.", "a1b2c3d4e5f60718")
    jwk: Jwk = F("Public key as an RFC 7517 EC JWK.", {"kty": "EC", "crv": "P-256", "x": "...", "y": "..."})
    not_before: datetime = F("Tokens signed before this are refused.", "2026-11-22T00:00:00+00:00")
    not_after: datetime | None = F("Tokens signed after this are refused; empty while current.", None, default=None)


# --- carnet life cycle (R5, R6, R7, R17) ---------------------------------------------------


class DuplicateCarnetIssued(Payload):
    """R5: a duplicate replaces a carnet lost, stolen or destroyed; the original is voided."""

    TYPE: ClassVar[str] = "DuplicateCarnetIssued"
    request_id: RequestId = F("The NGA's request id.", "FR-REQ-2026-000077")
    original_number: CarnetNumber = F("Carnet being replaced.", "FR2600000017")
    duplicate_number: CarnetNumber = F("Number of the duplicate.", "FR2600000025")
    reason: Literal["lost", "stolen", "destroyed"] = F("Why the original is replaced.", "lost")
    issued_at: datetime = F("When the duplicate was issued.", "2027-02-01T10:00:00+01:00")


class ReplacementCarnetIssued(Payload):
    """R6: a replacement takes over goods still abroad past the original's expiry."""

    TYPE: ClassVar[str] = "ReplacementCarnetIssued"
    request_id: RequestId = F("The NGA's request id.", "FR-REQ-2027-000101")
    original_number: CarnetNumber = F("Carnet whose goods abroad are taken over.", "FR2600000017")
    replacement: CarnetIssued = F("The replacement carnet, with its own number and validity.", {})
    requested_at: datetime = F("When the holder applied (must be before the original expires).", "2027-10-01T10:00:00+02:00")
    approved_at: datetime = F("When the NGA approved it (must be before the original expires).", "2027-10-03T10:00:00+02:00")


class CarnetSuccessionDecided(Payload):
    """The core applied or refused a duplicate (R5) or replacement (R6); the issuer answers the NGA with it."""

    TYPE: ClassVar[str] = "CarnetSuccessionDecided"
    request_id: RequestId = F("The NGA's request id.", "FR-REQ-2027-000077")
    kind: Literal["duplicate", "replacement"] = F("What was asked for.", "duplicate")
    original_number: CarnetNumber = F("Carnet replaced.", "FR2600000017")
    successor_number: CarnetNumber = F("Number of the duplicate or replacement.", "FR2700000036")
    outcome: Literal["applied", "refused"] = F("Whether the ledger took it.", "applied")
    reasons: Reasons = F("Why it was refused; empty when applied.", [], default_factory=list)
    decided_at: datetime = F("When the core decided.", "2027-02-01T10:00:01+01:00")


class ItemsAccountedFor(Payload):
    """R17: items lost, stolen or destroyed abroad, or not re-exported, settled by a duty receipt."""

    TYPE: ClassVar[str] = "ItemsAccountedFor"
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    items: Annotated[ItemNumbers, Field(min_length=1)] = F("Item numbers accounted for.", [3])
    country: Country = F("Country whose customs issued the receipt.", "CH")
    reason: Literal["lost", "stolen", "destroyed", "not_reexported"] = F("What happened to the goods.", "destroyed")
    duty_receipt: Reference = F("Reference of the local customs' duty receipt.", "CH-GVA-2027-004211")
    office_id: OfficeId = F("Customs office.", "CH-GVA-AIR")
    officer_id: OfficerId = F("Officer who recorded it.", "ch-officer-0007")
    decided_at: datetime = F("When customs recorded it.", "2027-03-01T11:00:00+01:00")


class ItemLocationsChanged(Payload):
    """Items settled or moved to another carnet outside a crossing: a duty receipt (R17), a duplicate
    (R5) or a replacement (R6). Watchers of goods abroad follow it like a transaction."""

    TYPE: ClassVar[str] = "ItemLocationsChanged"
    carnet_number: CarnetNumber = F("Carnet the items were under.", "FR2600000017")
    cause: Literal["duty_receipt", "duplicate", "replacement"] = F("What happened.", "replacement")
    rule: RuleId = F("Rule applied.", "R6")
    items: ItemLocations = F("The items concerned, as they now are (under `successor` when given).", [{"item_number": 1, "location": "abroad", "country": "CH", "final_date": "2028-10-01"}])
    successor: CarnetNumber | None = F("Carnet the items now travel under (duplicate or replacement).", "FR2700000036", default=None)
    successor_expiry: date | None = F("Last valid day of the successor.", "2028-10-01", default=None)
    changed_at: datetime = F("When the core recorded it.", "2027-10-03T10:00:01+02:00")


class CarnetStatusChanged(Payload):
    """What gateways must know to refuse tokens offline: a carnet voided, replaced or closed."""

    TYPE: ClassVar[str] = "CarnetStatusChanged"
    carnet_number: CarnetNumber = F("Carnet number.", "FR2600000017")
    status: Literal["active", "voided", "closed"] = F("New status.", "voided")
    rule: RuleId = F("Rule that caused the change.", "R5")
    successor: CarnetNumber | None = F("Duplicate or replacement carnet, if any.", "FR2600000025", default=None)
    reason: Text = F("Human-readable explanation.", "replaced by duplicate FR2600000025 (lost)")
    changed_at: datetime = F("When it changed.", "2027-02-01T10:00:01+01:00")


# --- administration (R15, R16) ---------------------------------------------------------------


class CountryPolicyEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    country: Country = F("ISO 3166-1 alpha-2 country.", "MX")
    split_shipments: bool = F("R14: whether a declaration may cover part of the list.", False)
    max_stay_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = F("R15: a maximum stay shorter than the validity, in days; empty if none.", None, default=None)
    replacement_accepted: bool = F("R6: whether replacement carnets are accepted.", False)
    digital_date: date | None = F("R16: from this day every declaration must be digital; empty if none set.", None, default=None)
    before_digital_date: Literal["accept", "refuse"] = F(
        "R16: before the digital date (or with none), whether the country takes digital declarations yet.", "refuse",
        default="accept")
    note: Text | None = F("Where the entry comes from.", "seed 002: forbids split shipments", default=None)


class CountryPolicyUpdated(Payload):
    """R15: country policy is data; an operator publishes a new version, the core applies it at once."""

    TYPE: ClassVar[str] = "CountryPolicyUpdated"
    version: PolicyVersion = F("Version of the policy document; refusals name it.", "2026-11-22.2")
    countries: Annotated[list[CountryPolicyEntry], Field(max_length=MAX_COUNTRIES)] = F("Every country with a policy different from the default.", [])
    default: CountryPolicyEntry = F("Policy of a country not listed (country 'ZZ').",
                                    {"country": "ZZ", "split_shipments": True, "replacement_accepted": False})
    published_by: OfficerId = F("Operator who published it.", "ops-jane")


class TrustedKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kid: KeyId = F("Key id, hex of the first 8 bytes of SHA-256 of the SubjectPublicKeyInfo.", "a1b2c3d4e5f60718")
    jwk: Jwk = F("Public key as an RFC 7517 EC JWK.", {"kty": "EC", "crv": "P-256", "x": "...", "y": "..."})
    not_before: datetime = F("Tokens signed before this are refused.", "2026-11-22T00:00:00+00:00")
    not_after: datetime | None = F("End of signing: tokens signed after this are refused; empty while current.", None,
                                   default=None)
    retire_at: datetime | None = F("After this every token the key signed has expired; it leaves the list.", None,
                                   default=None)


class TrustListPublished(Payload):
    """The signed list of keys the core signs declaration tokens with (ARCHITECTURE: Tokens and keys).

    Gateways verify the list with the trust anchor they are configured with (the JWS in `jws` under
    ATA-TL-3, `signature` under the constructions before), keep the highest `sequence`, and trust
    exactly the keys listed: a key left out is no longer trusted.
    """

    TYPE: ClassVar[str] = "TrustListPublished"
    sequence: Counter32 = F("Version of the list; a gateway ignores a list older than the one it holds.", 7)
    issued_at: datetime = F("When the list was signed.", "2026-11-22T09:00:00+00:00")
    keys: Annotated[list[TrustedKey], Field(min_length=1, max_length=32)] = F("Every key whose tokens may still be valid.", [])
    anchor_kid: KeyId = F("Key id of the trust anchor that signed the list, hex.", "0f1e2d3c4b5a6978")
    signature: Annotated[str, Field(min_length=80, max_length=100, pattern=BASE64URL)] = F(
        "ES256 signature (raw r||s, base64url) over the list's signed bytes; under ATA-TL-3 the last segment of `jws`.",
        "MEUCIQ...")
    construction: Literal["ATA-TL-3", "ATA-TL-2", "ATA-TL-1"] = F(
        "How the list is signed (tokens/trustlist.py): ATA-TL-3 is a compact JWS (ES256, kid = anchor_kid) in `jws` "
        "whose payload is the RFC 8785 JSON of the list naming the construction; ATA-TL-2, the one before, the same "
        "JSON with a detached signature; ATA-TL-1, Python's sorted compact JSON. Absent: ATA-TL-1.", "ATA-TL-3",
        default="ATA-TL-1")
    jws: CompactJws | None = F(
        "ATA-TL-3 only: the list as an RFC 7515 compact JWS, verifiable with any JOSE library and the anchor's public "
        "key; its payload must be exactly the RFC 8785 JSON of construction, sequence, issued_at and keys.",
        "eyJhbGciOiJFUzI1NiIsImtpZCI6IjBmMWUyZDNjNGI1YTY5NzgifQ.eyJjb25zdHJ1Y3Rpb24iOiJBVEEtVEwtMyJ9.MEUCIQ",
        default=None)


#: This module's payloads; contracts/catalogue.py registers them with the claims contract's in MESSAGE_TYPES.
MESSAGES: tuple[type[Payload], ...] = (
    IssuanceRequested,
    CarnetIssued,
    IssuanceRejected,
    DeclarationSubmitted,
    TokenIssued,
    DeclarationRefused,
    CustomsCommitPosted,
    TransactionRecorded,
    ConfirmationRequested,
    ConfirmationDelivered,
    SigningKeyPublished,
    DuplicateCarnetIssued,
    ReplacementCarnetIssued,
    ItemsAccountedFor,
    CarnetStatusChanged,
    CountryPolicyUpdated,
    ItemLocationsChanged,
    TrustListPublished,
    CancellationPosted,
    TransactionCancelled,
    CancellationRefused,
    SealedIssuanceRequested,
    DuplicateRequested,
    ReplacementRequested,
    CarnetSuccessionDecided,
)


def __getattr__(name: str) -> object:
    """`contracts.messages.MESSAGE_TYPES`, as tools outside the services still read it: the registry itself lives in
    contracts.catalogue (it holds the claims messages too), loaded on first use so no module imports another late."""
    if name == "MESSAGE_TYPES":
        from contracts.catalogue import MESSAGE_TYPES

        return MESSAGE_TYPES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
