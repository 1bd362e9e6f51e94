"""POST /v1/commits/batch: the commits of a whole inspection in one request, for customs systems (R18)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from contracts.txcode import format_transaction_code
from customs_gateway import bulk_commits
from customs_gateway.bulk_commits import MAX_ITEMS, BulkItem, ItemOutcome
from customs_gateway.officers import SessionOfficer
from customs_gateway.usecases.facade import GatewayUseCases
from runtime.http_limits import body_limit
from runtime.text import PRINTABLE

#: The wire token: "ATA1:" and Base45 (tokens.cose), with the surrounding blanks a scanner may add.
TOKEN = r"^\s*ATA1:[0-9A-Z $%*+./:-]*\s*$"
MAX_TOKEN = 4400
MAX_REASON = 500
#: The largest valid batch (every token and reason at its bound, with JSON's quotes and names) fits.
BATCH_BODY_LIMIT = MAX_ITEMS * (MAX_TOKEN + MAX_REASON + 200) + 1024


class BatchItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(
        min_length=1,
        max_length=MAX_TOKEN,
        pattern=TOKEN,
        description="The ATA1: string of the QR.",
        examples=["ATA1:6BFOXN*TS0BI$ZD-PHRTIK0"],
    )
    decision: Literal["committed", "refused"] = Field(examples=["committed"])
    final_date: date | None = Field(None, description="R13: a final date for re-exportation earlier than the expiry.")
    refusal_reason: str | None = Field(None, max_length=MAX_REASON, pattern=PRINTABLE)


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[BatchItemIn] = Field(
        min_length=1, max_length=MAX_ITEMS, description=f"1 to {MAX_ITEMS} decisions, decided in this order."
    )


class BatchItemOut(BaseModel):
    index: int = Field(description="The item's position in the request (0-based); items are answered in order.")
    status: int = Field(
        description="What POST /v1/commits would have answered: 202, or its refusal's status "
        "(409 replayed, 403 wrong_country, 422 ...; 500 'error': post the item again)."
    )
    reason: str | None = Field(description="null when accepted; else the refusal's reason code, as the single route's.")
    message: str | None
    commit_id: UUID | None
    carnet_number: str | None
    transaction_code: str | None = Field(description="Grouped for reading aloud; null when refused.")
    mismatches: list[dict[str, Any]] = Field(description="A 'mismatch' refusal's failed checks.")


class BatchOut(BaseModel):
    accepted: int
    refused: int
    items: list[BatchItemOut]


def _item_out(index: int, o: ItemOutcome) -> dict[str, Any]:
    d = o.verification.declared if o.verification is not None else None
    return {
        "index": index,
        "status": o.status,
        "reason": o.reason,
        "message": o.message,
        "commit_id": o.commit_id,
        "carnet_number": d.carnet_number if d else None,
        "transaction_code": format_transaction_code(d.transaction_code) if d else None,
        "mismatches": [c.as_dict() for c in o.mismatches],
    }


def bulk_commit_route(
    router: APIRouter, handlers: GatewayUseCases, pool_of: Any, officer: Any, problems: dict[int | str, dict[str, Any]]
) -> None:
    @router.post(
        "/commits/batch", response_model=BatchOut, responses=problems, openapi_extra=body_limit(BATCH_BODY_LIMIT)
    )
    async def commit_batch(body: BatchIn, who: SessionOfficer = officer) -> dict[str, Any]:
        """The decisions of a whole inspection at once, for customs systems that integrate machine to machine.
        Each item is checked, audited and posted exactly as by POST /v1/commits (a token already decided answers
        409 "replayed", so posting a batch again is harmless); 200 with one outcome per item, in request order.
        A malformed batch (over 200 items, a field out of bounds) is refused whole with 422."""
        items = [BulkItem(i.token, i.decision, i.final_date, i.refusal_reason) for i in body.items]
        async with pool_of().acquire() as conn:
            outcomes = await bulk_commits.commit_batch(handlers, conn, who.officer_id, who.office, items)
        accepted = sum(o.reason is None for o in outcomes)
        return {
            "accepted": accepted,
            "refused": len(outcomes) - accepted,
            "items": [_item_out(i, o) for i, o in enumerate(outcomes)],
        }
