"""Officer-facing HTTP: officer accounts, scan verification, commit or refuse."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, File, Header, HTTPException, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from contracts.token import DeclarationClaims
from contracts.txcode import format_transaction_code
from customs_gateway import repository as repo
from customs_gateway.domain import CommitRefused
from customs_gateway.handlers import GatewayHandlers
from runtime.qr import QrDecodeError, decode_qr_image

OfficerId = Annotated[str, Header(alias="X-Officer-Id", min_length=1, max_length=64,
                                  description="Individual officer account (R18). Authentication with MFA is a later issue.")]


class OfficerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str = Field(min_length=1, max_length=64, examples=["fr-officer-0042"])
    office_id: str = Field(min_length=1, max_length=64, examples=["FR-CDG-FRET"])


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=4400, description="The ATA1: string read from the QR.")


class CommitIn(ScanIn):
    decision: Literal["committed", "refused"] = Field(examples=["committed"])
    final_date: date | None = Field(None, description="R13: a final date for re-exportation earlier than the expiry.")
    refusal_reason: str | None = Field(None, max_length=500)


class ScanOut(BaseModel):
    carnet_number: str
    kind: str
    country: str
    items: list[int]
    sequence: int
    carnet_expiry: date
    transaction_code: str
    general_list_digest: str


class CommitOut(ScanOut):
    commit_id: UUID
    decision: str
    office_id: str


class Problem(BaseModel):
    reason: str
    message: str


def _scan_out(c: DeclarationClaims) -> dict[str, Any]:
    return dict(carnet_number=c.carnet_number, kind=c.kind.value, country=c.country, items=list(c.items),
                sequence=c.sequence, carnet_expiry=c.carnet_expiry, transaction_code=format_transaction_code(c.transaction_code),
                general_list_digest=c.general_list_digest)


def _problem(exc: CommitRefused) -> HTTPException:
    return HTTPException(exc.status, detail={"reason": exc.reason, "message": str(exc)})


def officer_router(handlers: GatewayHandlers, pool_of: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["customs"])
    problems: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (403, 409, 422)}

    @router.post("/officers", status_code=201, responses={404: {"model": Problem}})
    async def create_officer(body: OfficerIn) -> dict[str, Any]:
        async with pool_of().acquire() as conn:
            try:
                created = await repo.create_officer(conn, body.officer_id, body.office_id)
            except LookupError as exc:
                raise HTTPException(404, detail={"reason": "unknown_office", "message": str(exc)}) from exc
        return {"officer_id": body.officer_id, "office_id": body.office_id, "created": created}

    @router.post("/scans", response_model=ScanOut, responses=problems)
    async def scan(body: ScanIn, officer_id: OfficerId) -> dict[str, Any]:
        """Verify a token offline and show what it declares; nothing is recorded."""
        async with pool_of().acquire() as conn:
            office = await repo.officer_office(conn, officer_id)
        if office is None:
            raise HTTPException(403, detail={"reason": "unknown_officer", "message": f"no active officer account {officer_id}"})
        try:
            return _scan_out(handlers.verify(body.token))
        except CommitRefused as exc:
            raise _problem(exc) from exc

    @router.post("/scans/image", response_model=ScanOut, responses={**problems, 400: {"model": Problem}})
    async def scan_image(officer_id: OfficerId, image: UploadFile = File(description="PNG or JPEG photo of the QR")) -> dict[str, Any]:
        try:
            found = decode_qr_image(await image.read())
        except QrDecodeError as exc:
            raise HTTPException(400, detail={"reason": "no_qr", "message": str(exc)}) from exc
        return await scan(ScanIn(token=found[0]), officer_id)

    @router.post("/commits", status_code=202, response_model=CommitOut, responses=problems)
    async def commit(body: CommitIn, officer_id: OfficerId) -> dict[str, Any]:
        """Verify, record the decision in the gateway's commit log and post it to the core."""
        async with pool_of().acquire() as conn:
            try:
                commit_id, claims, office = await handlers.commit(conn, officer_id, body.token, body.decision,
                                                                  body.final_date, body.refusal_reason)
            except CommitRefused as exc:
                raise _problem(exc) from exc
        return {**_scan_out(claims), "commit_id": commit_id, "decision": body.decision, "office_id": office.office_id}

    return router
