"""GET /v1/carnets/{carnet_number}/history: a carnet's life-cycle events with their hash chain verified."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Path
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from contracts.messages import CARNET_NUMBER, Reason
from core.usecases import views
from runtime.http_limits import LimitedRoute

log = logging.getLogger(__name__)

HEX_HASH = r"^[0-9a-f]{64}$"
CarnetNumber = Annotated[str, Path(pattern=CARNET_NUMBER, description="Carnet number", examples=["FR2600000017"])]


class HistoryRecordOut(BaseModel):
    position: int = Field(description="Position in the carnet's chain, from 1.", examples=[1], ge=1)
    event: str = Field(description="Kind of life-cycle event.", examples=["crossing"])
    record: dict[str, Any] = Field(
        description="The event's record, in the JSON-native form that was hashed.",
        examples=[{"kind": "exportation", "country": "FR", "items": [1, 2]}],
    )
    hash: str = Field(
        description="SHA-256(prev_hash || canonical entry), hex.", pattern=HEX_HASH, examples=["5f7c0d1e" * 8]
    )
    prev_hash: str = Field(
        description="Hash of the previous entry, hex; 64 zeros for the first.", pattern=HEX_HASH, examples=["0" * 64]
    )
    recorded_at: datetime = Field(description="When the core appended the event.", examples=["2026-11-22T08:31:01Z"])


class HistoryOut(BaseModel):
    carnet_number: str = Field(description="Carnet number.", examples=["FR2600000017"])
    verified: bool = Field(
        description="Whether the whole chain, from the genesis to the head, checks out.", examples=[True]
    )
    length: int = Field(description="Number of records.", examples=[3], ge=0)
    head: str = Field(
        description="Hash of the last record, hex (64 zeros for an empty chain).",
        pattern=HEX_HASH,
        examples=["5f7c0d1e" * 8],
    )
    broken_at: int | None = Field(description="First position that fails verification, if any.", examples=[None])
    problem: str | None = Field(
        description='Why it fails: "record altered", "link broken" or "position gap".', examples=[None]
    )
    records: list[HistoryRecordOut] = Field(description="The records, oldest first.")


class HistoryRefusal(BaseModel):
    reasons: list[Reason]


class HistoryNotFound(BaseModel):
    detail: HistoryRefusal


def _nobody() -> None:
    return None


def history_router(
    pool_of: Callable[[], asyncpg.Pool],
    dependencies: Sequence[Any] = (),
    *,
    registry: CollectorRegistry | None = None,
    party: Any = None,
    may_see: views.MaySee | None = None,
) -> APIRouter:
    """The history route.

    `dependencies` (e.g. the holder authentication) run before it. To restrict a carnet's history
    to the parties who may see the carnet, also give `party`, a `Depends(...)` whose value
    identifies the caller, and `may_see(conn, carnet_number, party)`, truthy when the caller may
    see that carnet; otherwise the route answers 404, as for an unknown carnet.
    Pass the service's registry for `ata_history_verifications_total{outcome}` to be exposed;
    without one the counter lives in a private registry.
    """
    verifications = Counter(
        "ata_history_verifications_total",
        "History chain verifications served, by outcome.",
        ["outcome"],
        registry=registry if registry is not None else CollectorRegistry(),
    )
    for outcome in ("verified", "broken"):
        verifications.labels(outcome)
    router = APIRouter(prefix="/v1", tags=["history"], dependencies=list(dependencies), route_class=LimitedRoute)
    caller_dep = party if party is not None else Depends(_nobody)

    @router.get(
        "/carnets/{carnet_number}/history",
        response_model=HistoryOut,
        responses={404: {"model": HistoryNotFound, "description": "Unknown carnet, or not the caller's."}},
        summary="A carnet's life-cycle events with their hash chain verified",
    )
    async def carnet_history(carnet_number: CarnetNumber, caller: Any = caller_dep) -> HistoryOut:
        unknown = HTTPException(404, detail={"reasons": [{"rule": "R1", "message": f"unknown carnet {carnet_number}"}]})
        async with pool_of().acquire() as conn:
            found = await views.verified_history(conn, carnet_number, caller, may_see)
        if found is None:
            raise unknown
        chain, result = found
        verifications.labels("verified" if result.ok else "broken").inc()
        if not result.ok:
            log.error(
                "history of carnet %s fails verification at position %s: %s",
                carnet_number,
                result.broken_at,
                result.reason,
            )
        return HistoryOut(
            carnet_number=carnet_number,
            verified=result.ok,
            length=result.length,
            head=result.head,
            broken_at=result.broken_at,
            problem=result.reason,
            records=[
                HistoryRecordOut(
                    position=e.position,
                    event=e.event,
                    record=e.record,
                    hash=e.hash.hex(),
                    prev_hash=e.prev_hash.hex(),
                    recorded_at=e.recorded_at,
                )
                for e in chain
            ],
        )

    return router
