"""The holder API's request and response bodies (core/api.py has the routes, and how they refuse)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.bounds import ItemNumbers, VoucherNumber
from contracts.kinds import DeclarationKind
from contracts.messages import COUNTRY, SealedDocument
from runtime.text import PRINTABLE

#: Wallet ids, as the issuer and the identity provider spell them.
PARTY_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}$"
Role = Literal["holder", "representative"]


class DeclarationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: DeclarationKind = Field(description="Kind of crossing.", examples=["exportation"])
    country: str = Field(pattern=COUNTRY, description="Country of the crossing.", examples=["FR"])
    items: ItemNumbers = Field(min_length=1, description="Item numbers that cross (R9).", examples=[[1, 2]])
    intended_use: str | None = Field(
        None,
        min_length=1,
        max_length=500,
        pattern=PRINTABLE,
        description="Intended use of the goods; required for an importation (R9).",
        examples=["Exhibition at the Geneva motor show"],
    )
    closes: VoucherNumber | None = Field(
        None,
        description=(
            "Sequence number of the declaration this one closes (R8): a re-exportation names its importation, "
            "a re-importation its exportation, a transit discharge its transit entry."
        ),
        examples=[1],
    )


class DeclarationOut(BaseModel):
    declaration_id: UUID
    carnet_number: str
    kind: DeclarationKind
    country: str
    items: list[int]
    sequence: int
    status: str = Field(
        description="pending until customs commits or refuses it; cancelled when customs undid its commit.",
        examples=["pending"],
    )
    declared_by: str = Field(description="Wallet id of the party that declared.")
    transaction_code: str = Field(
        description="Typed fallback, grouped for reading aloud.", examples=["7K2M-9QXH-4D1R-W"]
    )
    token: str = Field(description="The signed ATA1: token the QR encodes.")
    token_expires_at: datetime
    cancellation_code: str | None = Field(
        None,
        description=(
            "Once committed: give it to customs to consent to cancelling this transaction. Grouped for reading aloud."
        ),
        examples=["0H4N-8WQ2-C3TZ-5"],
    )
    qr_png_url: str
    qr_svg_url: str
    transaction_code_url: str


class TransactionCodeOut(BaseModel):
    transaction_code: str = Field(
        description="Grouped for reading aloud: XXXX-XXXX-XXXX-C.", examples=["7K2M-9QXH-4D1R-W"]
    )
    canonical: str = Field(
        description="The 13 symbols without separators, as the token's claim carries them.", examples=["7K2M9QXH4D1RW"]
    )


class ItemOut(BaseModel):
    item_number: int
    location: str
    country: str | None
    final_date: date | None


class CarnetSummary(BaseModel):
    carnet_number: str
    home_country: str
    countries: list[str]
    expiry_date: date
    active: bool
    role: Role = Field(description="The caller's role on this carnet.")


class CarnetOut(CarnetSummary):
    items: list[ItemOut]
    representative_ids: list[str] | None = Field(
        description="Who the carnet is shared with; shown to the holder only.", examples=[["rep_19be"]]
    )


class ShareRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    representative_id: str = Field(
        pattern=PARTY_ID, description="Wallet id of the representative.", examples=["rep_19be"]
    )
    sealed_key: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{107}$",
        description=(
            "The carnet document's data key sealed by the holder's wallet for the representative's key "
            "(nga_client.sealing.reseal_for): without it the representative can declare but not read the document."
        ),
    )


class SealedDocumentOut(BaseModel):
    carnet_number: str
    nga: str = Field(description="Bound into the document's AES-GCM additional data, with the request id and digest.")
    request_id: str
    general_list_digest: str
    document: SealedDocument = Field(description="Ciphertext and the data key sealed for the caller's wallet only.")


class SharesOut(BaseModel):
    carnet_number: str
    representative_ids: list[str]
