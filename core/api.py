"""Holder-facing HTTP: the carnet and its items, declarations, their QR image, the history."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from contracts.kinds import DeclarationKind
from contracts.messages import CARNET_NUMBER, COUNTRY, Reason
from contracts.txcode import format_transaction_code
from core import repository as repo
from core.handlers import CoreHandlers, DeclarationRefusedError
from runtime.qr import qr_png

CarnetNumber = Annotated[str, Path(pattern=CARNET_NUMBER, description="Carnet number", examples=["FR2600000017"])]


class DeclarationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: DeclarationKind = Field(description="Kind of crossing.", examples=["exportation"])
    country: str = Field(pattern=COUNTRY, description="Country of the crossing.", examples=["FR"])
    items: list[Annotated[int, Field(ge=1, le=9999)]] = Field(min_length=1, max_length=9999,
                                                             description="Item numbers that cross (R9).", examples=[[1, 2]])
    declared_by: str = Field(min_length=1, max_length=64, description="Wallet id of the holder or representative signing.",
                             examples=["hld_7f3a9c"])


class DeclarationOut(BaseModel):
    declaration_id: UUID
    carnet_number: str
    kind: DeclarationKind
    country: str
    items: list[int]
    sequence: int
    status: str
    transaction_code: str = Field(description="Typed fallback, grouped for reading aloud.")
    token: str = Field(description="The signed ATA1: token the QR encodes.")
    token_expires_at: datetime
    qr_png_url: str


class ItemOut(BaseModel):
    item_number: int
    location: str
    country: str | None
    final_date: date | None


class CarnetOut(BaseModel):
    carnet_number: str
    home_country: str
    countries: list[str]
    expiry_date: date
    active: bool
    items: list[ItemOut]


class Refusal(BaseModel):
    reasons: list[Reason]


@lru_cache(maxsize=2048)
def _png(token: str) -> bytes:
    # Rendering costs ~30 ms (ARCHITECTURE: costs); a holder's phone asks for the same image often.
    return qr_png(token, scale=6)


def holder_router(handlers: CoreHandlers, pool_of: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["holder"])
    refusals: dict[int | str, dict[str, Any]] = {c: {"model": Refusal} for c in (403, 404, 422)}

    def out(row: Any) -> DeclarationOut:
        return DeclarationOut(
            declaration_id=row["declaration_id"], carnet_number=row["carnet_number"], kind=row["kind"],
            country=row["country"], items=list(row["items"]), sequence=row["sequence"], status=row["status"],
            transaction_code=format_transaction_code(row["transaction_code"]), token=row["token"],
            token_expires_at=row["token_expires_at"], qr_png_url=f"/v1/declarations/{row['declaration_id']}/qr.png",
        )

    @router.get("/carnets/{carnet_number}", response_model=CarnetOut, responses={404: {"model": Refusal}})
    async def get_carnet(carnet_number: CarnetNumber) -> CarnetOut:
        async with pool_of().acquire() as conn:
            loaded = await repo.load_carnet(conn, carnet_number)
        if loaded is None:
            raise HTTPException(404, detail={"reasons": [{"rule": "R1", "message": f"unknown carnet {carnet_number}"}]})
        c, _ = loaded
        return CarnetOut(carnet_number=c.number, home_country=c.home_country, countries=list(c.countries),
                         expiry_date=c.expiry_date, active=c.active,
                         items=[ItemOut(item_number=i.number, location=i.location, country=i.country, final_date=i.final_date)
                                for i in c.items.values()])

    @router.post("/carnets/{carnet_number}/declarations", status_code=201, response_model=DeclarationOut, responses=refusals)
    async def declare(carnet_number: CarnetNumber, body: DeclarationRequest) -> DeclarationOut:
        async with pool_of().acquire() as conn:
            try:
                created = await handlers.declare(conn, carnet_number, body.kind, body.country, body.items, body.declared_by)
            except DeclarationRefusedError as exc:
                raise HTTPException(exc.status, detail={"reasons": [r.model_dump() for r in exc.reasons]}) from exc
        return out({**asdict(created), "status": "pending"})

    @router.get("/declarations/{declaration_id}", response_model=DeclarationOut, responses={404: {"model": Refusal}})
    async def get_declaration(declaration_id: UUID) -> DeclarationOut:
        async with pool_of().acquire() as conn:
            row = await repo.declaration(conn, declaration_id)
        if row is None:
            raise HTTPException(404, detail={"reasons": [{"rule": "R9", "message": "unknown declaration"}]})
        return out(row)

    @router.get("/declarations/{declaration_id}/qr.png", response_class=Response,
                responses={200: {"content": {"image/png": {}}}, 404: {"model": Refusal}})
    async def qr_image(declaration_id: UUID) -> Response:
        async with pool_of().acquire() as conn:
            row = await repo.declaration(conn, declaration_id)
        if row is None:
            raise HTTPException(404, detail={"reasons": [{"rule": "R9", "message": "unknown declaration"}]})
        return Response(_png(row["token"]), media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @router.get("/carnets/{carnet_number}/transactions")
    async def history(carnet_number: CarnetNumber) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            rows = await repo.transactions(conn, carnet_number)
        return [{**{k: (str(v) if isinstance(v, UUID) else v) for k, v in dict(r).items()}, "reasons": json.loads(r["reasons"])}
                for r in rows]

    return router
