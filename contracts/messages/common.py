"""What every message contract shares: the Payload base, the field helper and the models several payloads carry.

Part of contracts.messages, which re-exports every name (contracts/messages/__init__.py).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from contracts.bounds import (
    MAX_ITEMS,
    MAX_REASONS,
    Country,
    Currency,
    ItemNumber,
    Measure,
    Money,
    Quantity,
    ReasonCode,
    ReasonMessage,
    RuleId,
    ShortText,
    TariffCode,
    Text,
    WalletId,
    fold_reasons,
    ident,
    line,
    prose,
)

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
    hs_code: TariffCode | None = F(
        "R4: the Harmonized System tariff code (heading, subheading and national digits, "
        "4 to 10 digits, dots allowed), the second signal issuance reads beside the "
        "category.",
        "8525.89",
        default=None,
    )


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
    code: ReasonCode | None = F(
        "Machine-readable reason, stable across versions.", "split_shipment_forbidden", default=None
    )
    policy: PolicyLabel | None = F(
        "The country policy and its version, when a policy caused the refusal (R15).",
        "country-policy 2026-11-22.1 MX",
        default=None,
    )
    field: FieldPath | None = F("Path of the offending field.", "goods[2].category", default=None)
    item_number: ItemNumber | None = F("Item number concerned, if any.", 3, default=None)
    message: ReasonMessage = F("Human-readable explanation.", "alcohol is excluded from ATA carnets (R4)")


#: At most MAX_REASONS reasons; a longer list is folded (contracts.bounds.fold_reasons), never refused.
Reasons = Annotated[list[Reason], BeforeValidator(fold_reasons), Field(max_length=MAX_REASONS)]
#: The plain general list. IssuanceRequested is parsed only to be refused (the document must travel
#: sealed); 300 lines of the longest descriptions are what fits one Kafka record with margin.
GoodsList = Annotated[list[GoodsItem], Field(min_length=1, max_length=300)]
CarnetItems = Annotated[list[CarnetItem], Field(min_length=1, max_length=MAX_ITEMS)]
