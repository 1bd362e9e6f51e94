"""Holder-facing end of a carnet's life: closing it when every item is back (R7)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel

from contracts.messages import CARNET_NUMBER, Reason
from core.domain import LifecycleRefused
from core.usecases import lifecycle
from core.usecases.context import Ledger
from runtime.http_limits import LimitedRoute


class ClosingOut(BaseModel):
    carnet_number: str
    status: str
    reason: str
    home: list[int]
    accounted: list[int]
    transferred: list[int]


class Refusal(BaseModel):
    reasons: list[Reason]


def lifecycle_router(ledger: Ledger, pool_of: Any, party: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["holder"], route_class=LimitedRoute)

    @router.post(
        "/carnets/{carnet_number}/close",
        response_model=ClosingOut,
        responses={401: {"model": Refusal}, 404: {"model": Refusal}, 409: {"model": Refusal}},
    )
    async def close(carnet_number: Annotated[str, Path(pattern=CARNET_NUMBER)], who: str = party) -> ClosingOut:
        """R7: the holder returns the carnet; it closes only when every item that left is home or accounted for."""
        async with pool_of().acquire() as conn:
            try:
                closing = await lifecycle.close(ledger, conn, carnet_number, who)
            except LookupError as exc:
                raise HTTPException(
                    404,
                    detail={
                        "reasons": [
                            {"rule": "R1", "code": "unknown_carnet", "message": f"no carnet {carnet_number} of yours"}
                        ]
                    },
                ) from exc
            except LifecycleRefused as exc:
                raise HTTPException(409, detail={"reasons": [r.model_dump() for r in exc.reasons]}) from exc
        return ClosingOut(
            carnet_number=carnet_number,
            status="closed",
            reason=closing.reason,
            home=closing.home,
            accounted=closing.accounted,
            transferred=closing.transferred,
        )

    return router
