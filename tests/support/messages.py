"""Builders of valid messages for tests; dates are fixed, never read from the clock."""

from __future__ import annotations

from datetime import date
from typing import Any

from contracts.envelope import Envelope
from contracts.messages import GoodsCategory, GoodsItem, Holder, IssuanceRequested, Payload

ISSUE_DATE = date(2026, 11, 22)


def goods(n: int = 3, **overrides: Any) -> list[GoodsItem]:
    return [GoodsItem(item_number=i, description=f"Camera part {i}, s/n X{i:04d}", quantity=1, value="1000.00",
                      currency="EUR", origin_country="DE", category=GoodsCategory.PROFESSIONAL_EQUIPMENT, **overrides)
            for i in range(1, n + 1)]


def issuance_request(request_id: str = "REQ-1", **overrides: Any) -> IssuanceRequested:
    fields: dict[str, Any] = dict(
        request_id=request_id, nga="FR", issuing_association="FR-CCI-PARIS",
        holder=Holder(holder_id="hld_1", name="Lumière Productions SARL", address="8 rue des Arts, Lyon", person="legal"),
        intended_use="film shoot", countries=["CH", "GB"], issue_date=ISSUE_DATE, expiry_date=date(2027, 11, 21),
        goods=goods(),
    )
    fields.update(overrides)
    return IssuanceRequested(**fields)


def wire(payload: Payload, *, producer: str = "test", subject: str | None = None, envelope: Envelope | None = None
         ) -> tuple[bytes, dict[str, str], Envelope]:
    """(body, headers, envelope) as a producer would put them on the topic."""
    env = envelope or Envelope(type=payload.TYPE, schema_version=payload.VERSION, producer=producer, subject=subject)
    return payload.model_dump_json().encode(), env.to_headers(), env
