"""Administration payloads: country policies (R15, R16) and the signed trust list of token keys.

Part of contracts.messages, which re-exports every name (contracts/messages/__init__.py).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from contracts.bounds import (
    BASE64URL,
    MAX_COUNTRIES,
    MAX_DAYS,
    CompactJws,
    Counter32,
    Country,
    Jwk,
    KeyId,
    OfficerId,
    Text,
)
from contracts.messages.common import (
    F,
    Payload,
    PolicyVersion,
)

# --- administration (R15, R16) ---------------------------------------------------------------


class CountryPolicyEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    country: Country = F("ISO 3166-1 alpha-2 country.", "MX")
    split_shipments: bool = F("R14: whether a declaration may cover part of the list.", False)
    max_stay_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = F(
        "R15: a maximum stay shorter than the validity, in days; empty if none.", None, default=None
    )
    replacement_accepted: bool = F("R6: whether replacement carnets are accepted.", False)
    digital_date: date | None = F(
        "R16: from this day every declaration must be digital; empty if none set.", None, default=None
    )
    before_digital_date: Literal["accept", "refuse"] = F(
        "R16: before the digital date (or with none), whether the country takes digital declarations yet.",
        "refuse",
        default="accept",
    )
    note: Text | None = F("Where the entry comes from.", "seed 002: forbids split shipments", default=None)


class CountryPolicyUpdated(Payload):
    """R15: country policy is data; an operator publishes a new version, the core applies it at once."""

    TYPE: ClassVar[str] = "CountryPolicyUpdated"
    version: PolicyVersion = F("Version of the policy document; refusals name it.", "2026-11-22.2")
    countries: Annotated[list[CountryPolicyEntry], Field(max_length=MAX_COUNTRIES)] = F(
        "Every country with a policy different from the default.", []
    )
    default: CountryPolicyEntry = F(
        "Policy of a country not listed (country 'ZZ').",
        {"country": "ZZ", "split_shipments": True, "replacement_accepted": False},
    )
    published_by: OfficerId = F("Operator who published it.", "ops-jane")


class TrustedKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kid: KeyId = F("Key id, hex of the first 8 bytes of SHA-256 of the SubjectPublicKeyInfo.", "a1b2c3d4e5f60718")
    jwk: Jwk = F("Public key as an RFC 7517 EC JWK.", {"kty": "EC", "crv": "P-256", "x": "...", "y": "..."})
    not_before: datetime = F("Tokens signed before this are refused.", "2026-11-22T00:00:00+00:00")
    not_after: datetime | None = F(
        "End of signing: tokens signed after this are refused; empty while current.", None, default=None
    )
    retire_at: datetime | None = F(
        "After this every token the key signed has expired; it leaves the list.", None, default=None
    )


class TrustListPublished(Payload):
    """The signed list of keys the core signs declaration tokens with (ARCHITECTURE: Tokens and keys).

    Gateways verify the list with the trust anchor they are configured with (the JWS in `jws` under
    ATA-TL-3, `signature` under the constructions before), keep the highest `sequence`, and trust
    exactly the keys listed: a key left out is no longer trusted.
    """

    TYPE: ClassVar[str] = "TrustListPublished"
    sequence: Counter32 = F("Version of the list; a gateway ignores a list older than the one it holds.", 7)
    issued_at: datetime = F("When the list was signed.", "2026-11-22T09:00:00+00:00")
    keys: Annotated[list[TrustedKey], Field(min_length=1, max_length=32)] = F(
        "Every key whose tokens may still be valid.", []
    )
    anchor_kid: KeyId = F("Key id of the trust anchor that signed the list, hex.", "0f1e2d3c4b5a6978")
    signature: Annotated[str, Field(min_length=80, max_length=100, pattern=BASE64URL)] = F(
        "ES256 signature (raw r||s, base64url) over the list's signed bytes; under ATA-TL-3 the last segment of `jws`.",
        "MEUCIQ...",
    )
    construction: Literal["ATA-TL-3", "ATA-TL-2", "ATA-TL-1"] = F(
        "How the list is signed (tokens/trustlist.py): ATA-TL-3 is a compact JWS (ES256, kid = anchor_kid) in `jws` "
        "whose payload is the RFC 8785 JSON of the list naming the construction; ATA-TL-2, the one before, the same "
        "JSON with a detached signature; ATA-TL-1, Python's sorted compact JSON. Absent: ATA-TL-1.",
        "ATA-TL-3",
        default="ATA-TL-1",
    )
    jws: CompactJws | None = F(
        "ATA-TL-3 only: the list as an RFC 7515 compact JWS, verifiable with any JOSE library and the anchor's public "
        "key; its payload must be exactly the RFC 8785 JSON of construction, sequence, issued_at and keys.",
        "eyJhbGciOiJFUzI1NiIsImtpZCI6IjBmMWUyZDNjNGI1YTY5NzgifQ.eyJjb25zdHJ1Y3Rpb24iOiJBVEEtVEwtMyJ9.MEUCIQ",
        default=None,
    )
