"""Plain carnets as an NGA's issuing system holds them, and the sealed requests made from them.

A line of `carnets.jsonl` (the `ata issue` input) is an IssuanceRequested (holder, goods with
descriptions and values...) plus the wallets' X25519 public keys:
`holder_public_key` and, when the carnet is shared, `representative_keys` {wallet id: key}.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contracts.digest import general_list_digest
from contracts.messages import IssuanceRequested, ReplacementRequested, SealedIssuanceRequested, SealedItem
from nga_client import sealing


class PlainCarnet(BaseModel):
    """One carnet to issue, in the clear, with the keys to seal it for."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    carnet: IssuanceRequested
    holder_public_key: str = Field(description="The holder wallet's X25519 public key, base64url (32 bytes).")
    representative_keys: dict[str, str] = Field(
        default_factory=dict, description="Wallet id -> X25519 public key of each representative."
    )

    @model_validator(mode="after")
    def _keys_cover_representatives(self) -> PlainCarnet:
        if set(self.representative_keys) != set(self.carnet.representative_ids):
            raise ValueError("representative_keys must give one public key per representative_ids entry")
        return self

    @classmethod
    def from_line(cls, line: str) -> PlainCarnet:
        """Parse one JSONL line; ValueError (pydantic's ValidationError included) names what is wrong."""
        data: dict[str, Any] = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("a line must be one JSON object")
        keys = {k: data.pop(k) for k in ("holder_public_key", "representative_keys") if k in data}
        return cls(carnet=data, **keys)

    def to_line(self) -> str:
        return json.dumps(
            {
                **self.carnet.model_dump(mode="json"),
                "holder_public_key": self.holder_public_key,
                "representative_keys": self.representative_keys,
            },
            ensure_ascii=False,
        )


def _sealed_fields(plain: PlainCarnet) -> dict[str, Any]:
    c = plain.carnet
    digest = general_list_digest(c.goods)
    recipients = {c.holder.holder_id: sealing.public_key(plain.holder_public_key)}
    recipients.update({rid: sealing.public_key(plain.representative_keys[rid]) for rid in c.representative_ids})
    document = sealing.seal(c.model_dump(mode="json"), recipients, nga=c.nga, request_id=c.request_id, digest=digest)
    return dict(
        request_id=c.request_id,
        nga=c.nga,
        issuing_association=c.issuing_association,
        holder_id=c.holder.holder_id,
        representative_ids=list(c.representative_ids),
        countries=list(c.countries),
        issue_date=c.issue_date,
        expiry_date=c.expiry_date,
        general_list_digest=digest,
        document=document,
        items=[
            SealedItem(
                item_number=g.item_number,
                quantity=g.quantity,
                origin_country=g.origin_country,
                category=g.category,
                hs_code=g.hs_code,
            )
            for g in c.goods
        ],
    )


def seal_request(plain: PlainCarnet) -> SealedIssuanceRequested:
    """What goes on the wire: the rules' inputs in the clear, everything else sealed for the wallets."""
    return SealedIssuanceRequested(**_sealed_fields(plain))


def seal_replacement(
    plain: PlainCarnet, original_number: str, requested_at: datetime, approved_at: datetime
) -> ReplacementRequested:
    """R6: the replacement carnet is a carnet of its own (number, validity, sealed document)."""
    return ReplacementRequested(
        **_sealed_fields(plain), original_number=original_number, requested_at=requested_at, approved_at=approved_at
    )


__all__ = ["PlainCarnet", "ValidationError", "seal_request", "seal_replacement"]
