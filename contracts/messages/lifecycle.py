"""Signing keys and the carnet's life cycle after issuance: duplicates, replacements, successions, status (R5, R6, R7, R17).

Part of contracts.messages, which re-exports every name (contracts/messages/__init__.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from contracts.bounds import (
    CarnetNumber,
    Country,
    ItemNumbers,
    Jwk,
    KeyId,
    OfficeId,
    OfficerId,
    Reference,
    RequestId,
    RuleId,
    Text,
)
from contracts.messages.common import (
    F,
    Payload,
    Reasons,
)
from contracts.messages.issuance import CarnetIssued
from contracts.messages.ledger import ItemLocations

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
    requested_at: datetime = F(
        "When the holder applied (must be before the original expires).", "2027-10-01T10:00:00+02:00"
    )
    approved_at: datetime = F(
        "When the NGA approved it (must be before the original expires).", "2027-10-03T10:00:00+02:00"
    )


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
    items: ItemLocations = F(
        "The items concerned, as they now are (under `successor` when given).",
        [{"item_number": 1, "location": "abroad", "country": "CH", "final_date": "2028-10-01"}],
    )
    successor: CarnetNumber | None = F(
        "Carnet the items now travel under (duplicate or replacement).", "FR2700000036", default=None
    )
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
