"""Cancelling a committed transaction (R18): customs asks the core with the holder's cancellation code, then
follows the core's decision."""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from contracts.txcode import format_transaction_code
from customs_gateway.commit_problems import commit_problem
from customs_gateway.domain import CommitRefused
from customs_gateway.officer_admin import Problem
from customs_gateway.officers import SessionOfficer
from customs_gateway.usecases import cancellations
from customs_gateway.usecases.facade import GatewayUseCases
from runtime.text import PRINTABLE


class CancellationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transaction_code: str = Field(
        min_length=1,
        max_length=40,
        description="Transaction code of the committed declaration.",
        examples=["7k3m-9qx2-d4ra-8"],
    )
    cancellation_code: str = Field(
        min_length=1,
        max_length=40,
        description=("The holder's cancellation code for that transaction (their consent), as typed or heard."),
        examples=["0h4n-8wq2-c3tz-5"],
    )
    reason: str = Field(
        min_length=1,
        max_length=500,
        pattern=PRINTABLE,
        description="Why the officer cancels.",
        examples=["goods declared on the wrong voucher"],
    )


class CancellationOut(BaseModel):
    cancellation_id: UUID
    carnet_number: str
    transaction_code: str = Field(description="Grouped for reading aloud.")
    status: Literal["pending", "cancelled", "refused"] = Field(
        description="pending until the core decides; refused with reasons (a wrong cancellation code, goods moved on)."
    )
    reasons: list[dict[str, Any]] = Field(default_factory=list, description="Why the core refused, rule by rule.")


def cancellation_routes(
    router: APIRouter, handlers: GatewayUseCases, pool_of: Any, officer: Any, problems: dict[int | str, dict[str, Any]]
) -> None:
    @router.post(
        "/cancellations",
        status_code=202,
        response_model=CancellationOut,
        responses={**problems, 404: {"model": Problem}, 409: {"model": Problem}, 429: {"model": Problem}},
    )
    async def cancel(body: CancellationIn, who: SessionOfficer = officer) -> CancellationOut:
        """Ask the core to cancel a committed transaction: the holder's cancellation code is their consent, the
        reason is the officer's. Only customs of the transaction's country (R18); codes are checked for their check
        character first and count against the officer's typed-code rate limit. 202: follow the outcome with GET."""
        async with pool_of().acquire() as conn:
            try:
                asked = await cancellations.ask(
                    handlers.gw,
                    conn,
                    who.officer_id,
                    who.office,
                    body.transaction_code,
                    body.cancellation_code,
                    body.reason,
                )
            except CommitRefused as exc:
                raise commit_problem(exc) from exc
        return CancellationOut(
            cancellation_id=asked.cancellation_id,
            carnet_number=asked.carnet_number,
            transaction_code=format_transaction_code(asked.transaction_code),
            status="pending",
        )

    @router.get("/cancellations/{cancellation_id}", response_model=CancellationOut, responses={404: {"model": Problem}})
    async def cancellation(cancellation_id: UUID, who: SessionOfficer = officer) -> CancellationOut:
        """A cancellation asked by customs of the officer's country (R18), with the core's decision once made."""
        async with pool_of().acquire() as conn:
            row = await cancellations.cancellation(conn, cancellation_id, who.office.country)
        if row is None:
            raise HTTPException(404, detail={"reason": "unknown_cancellation", "message": "no such cancellation"})
        return CancellationOut(
            cancellation_id=row["cancellation_id"],
            carnet_number=row["carnet_number"],
            transaction_code=format_transaction_code(row["transaction_code"]),
            status=row["status"],
            reasons=json.loads(row["reasons"]),
        )
