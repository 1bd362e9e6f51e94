"""The claims a declaration token carries, and their compact CWT form.

R9: a declaration lists only the item numbers that cross, and is signed and dated; the token
is that signed, dated statement. It deliberately carries no names, descriptions or values of
goods (ARCHITECTURE.md, "Tokens and keys"): a QR code can be photographed by anyone in the queue.
Signing lives in tokens.cose; this module only maps between the model and the int-keyed map
that gets signed, so contracts stay free of crypto dependencies.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from contracts.bounds import IDENTIFIER, MAX_ITEMS, ItemNumber, TransactionCode, VoucherNumber
from contracts.kinds import DeclarationKind
from contracts.txcode import TransactionCodeError, parse_transaction_code

# CWT claim keys (RFC 8392); duplicated from tokens.cose on purpose, see the module docstring.
CWT_EXP = 4
CWT_IAT = 6
CWT_CTI = 7

# Private-use claim key (RFC 8392 section 3: negative integers below -65536 are unregistered),
# one nested map so that every claim of ours costs one key byte rather than a text name.
ATA_CLAIM = -70000

_CARNET_NUMBER = 1
_TRANSACTION_CODE = 2
_KIND = 3
_COUNTRY = 4
_ITEMS = 5
_GENERAL_LIST_DIGEST = 6
_SEQUENCE = 7
_CARNET_EXPIRY = 8

_EPOCH_DAY = date(1970, 1, 1)
_DIGEST_BYTES = 16


class ClaimsError(ValueError):
    """A CWT map that does not hold valid declaration claims."""


class DeclarationClaims(BaseModel):
    """What a customs officer's gateway learns from a scanned declaration token (R9)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    carnet_number: str = Field(
        min_length=1,
        max_length=32,
        pattern=IDENTIFIER,
        description="The carnet's worldwide unique number (R1); identifies it, reveals nothing about the goods.",
        examples=["FR-2025-0001234"],
    )
    transaction_code: TransactionCode = Field(
        description="Canonical 13-symbol transaction code (Crockford Base32 plus check symbol), the typed fallback for this declaration.",
        examples=["DK57ZC8TMFHQY"],
    )
    kind: DeclarationKind = Field(
        description="Which crossing this declaration is (exportation, importation, ...).",
        examples=["importation"],
    )
    country: str = Field(
        pattern=r"^[A-Z]{2}$",
        description="ISO 3166-1 alpha-2 code of the country whose customs the declaration is for.",
        examples=["DE"],
    )
    items: tuple[ItemNumber, ...] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        description="General-list item numbers that cross, ascending and unique (R9: a subset is a split shipment).",
        examples=[[1, 2, 5]],
    )
    general_list_digest: str = Field(
        pattern=r"^[0-9a-f]{32}$",
        description="Lower-case hex of the first 16 bytes of SHA-256 of the carnet's general list, so customs can tell"
        " the list on file is the one declared against.",
        examples=["3f2a9c0d8e7b6a5f4e3d2c1b0a998877"],
    )
    sequence: VoucherNumber = Field(
        description="The declaration's number within its kind (R8: importation No. 1, No. 2, ...).",
        examples=[1],
    )
    carnet_expiry: date = Field(
        description="The carnet's last valid day (R2), so an offline gateway can apply R12.",
        examples=["2026-03-31"],
    )
    token_id: UUID = Field(
        description="Unique id of this token (the CWT cti), for replay detection and audit.",
        examples=["0b7e5c1a-4f0e-4c6e-9a55-2d3c4b5a6f70"],
    )
    issued_at: AwareDatetime = Field(
        description="When the token was signed (the declaration's date, R9); whole seconds, UTC.",
        examples=["2025-06-01T08:30:00Z"],
    )
    expires_at: AwareDatetime = Field(
        description="After this instant the token is refused and a new one must be made; whole seconds, UTC.",
        examples=["2025-06-02T08:30:00Z"],
    )

    @field_validator("transaction_code")
    @classmethod
    def _canonical_transaction_code(cls, value: str) -> str:
        # Only the canonical form is signed, so two tokens for one code never differ in spelling.
        try:
            canonical = parse_transaction_code(value)
        except TransactionCodeError as exc:
            raise ValueError(str(exc)) from exc
        if canonical != value:
            raise ValueError(f"transaction code must be canonical ({canonical!r})")
        return value

    @field_validator("items")
    @classmethod
    def _ascending_unique(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        # One canonical order keeps the signed bytes deterministic, and a repeated item number
        # is always a bug upstream rather than something to tidy away silently.
        if any(a >= b for a, b in pairwise(value)):
            raise ValueError("item numbers must be strictly ascending (sorted, no repeats)")
        return value

    @field_validator("issued_at", "expires_at")
    @classmethod
    def _whole_seconds_utc(cls, value: datetime) -> datetime:
        # The CWT carries integer epoch seconds; holding exactly that makes the model and the
        # token agree, so from_cwt(to_cwt(c)) == c.
        return value.astimezone(UTC).replace(microsecond=0)

    @model_validator(mode="after")
    def _expires_after_issue(self) -> DeclarationClaims:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self

    def to_cwt(self) -> dict[int, Any]:
        return {
            CWT_EXP: int(self.expires_at.timestamp()),
            CWT_IAT: int(self.issued_at.timestamp()),
            CWT_CTI: self.token_id.bytes,
            ATA_CLAIM: {
                _CARNET_NUMBER: self.carnet_number,
                _TRANSACTION_CODE: self.transaction_code,
                _KIND: self.kind.code,
                _COUNTRY: self.country,
                _ITEMS: list(self.items),
                _GENERAL_LIST_DIGEST: bytes.fromhex(self.general_list_digest),
                _SEQUENCE: self.sequence,
                _CARNET_EXPIRY: (self.carnet_expiry - _EPOCH_DAY).days,
            },
        }

    @classmethod
    def from_cwt(cls, cwt: Mapping[Any, Any]) -> DeclarationClaims:
        """Rebuild the claims from a verified CWT map; types are checked strictly, not coerced."""
        if not isinstance(cwt, Mapping):
            raise ClaimsError("CWT claims must be a map")
        ata = _get(cwt, ATA_CLAIM, Mapping, "ATA claim")
        items = _get(ata, _ITEMS, (list, tuple), "items")
        if not all(type(item) is int for item in items):
            raise ClaimsError("claim 'items' must be a list of integers")
        digest = _get(ata, _GENERAL_LIST_DIGEST, bytes, "general list digest")
        if len(digest) != _DIGEST_BYTES:
            raise ClaimsError(f"claim 'general list digest' must be {_DIGEST_BYTES} bytes")
        cti = _get(cwt, CWT_CTI, bytes, "cti")
        if len(cti) != 16:
            raise ClaimsError("claim 'cti' must be 16 bytes (a UUID)")
        kind = _get(ata, _KIND, int, "kind")
        expiry_days = _get(ata, _CARNET_EXPIRY, int, "carnet expiry")
        iat = _get(cwt, CWT_IAT, int, "iat")
        exp = _get(cwt, CWT_EXP, int, "exp")
        fields = {
            "carnet_number": _get(ata, _CARNET_NUMBER, str, "carnet number"),
            "transaction_code": _get(ata, _TRANSACTION_CODE, str, "transaction code"),
            "country": _get(ata, _COUNTRY, str, "country"),
            "sequence": _get(ata, _SEQUENCE, int, "sequence"),
            "items": tuple(items),
            "general_list_digest": digest.hex(),
            "token_id": UUID(bytes=cti),
        }
        try:
            return cls(
                kind=DeclarationKind.from_code(kind),
                carnet_expiry=_EPOCH_DAY + timedelta(days=expiry_days),
                issued_at=datetime.fromtimestamp(iat, UTC),
                expires_at=datetime.fromtimestamp(exp, UTC),
                **fields,
            )
        # pydantic's ValidationError is a ValueError; out-of-range days and timestamps
        # surface from the stdlib as OverflowError or OSError.
        except (ValueError, OverflowError, OSError) as exc:
            raise ClaimsError(f"invalid declaration claims: {exc}") from exc


def _get(claims: Mapping[Any, Any], key: int, expected: type | tuple[type, ...], name: str) -> Any:
    if key not in claims:
        raise ClaimsError(f"claim {name!r} (key {key}) is missing")
    value = claims[key]
    # bool passes isinstance(..., int) but is never a valid number here.
    if not isinstance(value, expected) or isinstance(value, bool):
        raise ClaimsError(f"claim {name!r} (key {key}) has the wrong type {type(value).__name__}")
    return value
