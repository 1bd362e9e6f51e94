"""HTTP for NGAs without Kafka: the same request and answer contracts as the topics.

Each NGA authenticates with its API key (`Authorization: Bearer <key>`; the registry holds its
SHA-256); a request may only speak for the key's NGA. Answers are the topic's payloads wrapped
with their type. Duplicates and replacements answer 202 while the core decides; `GET
/v1/requests/{request_id}` gives the answer once it is known (it is also on the response topic).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, Field

from contracts.bounds import IDENTIFIER
from contracts.catalogue import MESSAGE_TYPES
from contracts.envelope import Envelope
from contracts.messages import (
    DuplicateRequested,
    Payload,
    Reason,
    ReplacementRequested,
    SealedIssuanceRequested,
)
from issuer import repository as repo
from issuer.handlers import IssuerHandlers, Request as IssuanceRequest
from issuer.registry import Registry
from runtime.http_limits import LimitedRoute, before_body, body_limit

#: Requests per batch call: big enough to amortise the round trip, small enough for one answer body.
MAX_BATCH = 500
#: A batch's body: 500 requests of a typical carnet (a few dozen items, a sealed document of a few KiB)
#: fit with room; a batch of larger carnets is sent in several calls. One request's limit is the record
#: size (ATA_KAFKA_MAX_MESSAGE_BYTES): the largest valid request has to travel as one record anyway.
MAX_BATCH_BYTES = 16 * 1024 * 1024
_NGA_KEY = HTTPBearer(
    auto_error=False, scheme_name="NgaApiKey", description="The NGA's API key; the registry holds its SHA-256."
)


class AnswerOut(BaseModel):
    request_id: str
    status: Literal["issued", "rejected", "pending", "applied", "refused"]
    type: str | None = Field(None, description="Payload type of the answer, as on the response topic.")
    answer: dict[str, Any] | None = Field(
        None,
        description="The answer payload (CarnetIssued, IssuanceRejected, "
        "CarnetSuccessionDecided); empty while pending.",
    )


class Refusal(BaseModel):
    reasons: list[Reason]


def _refuse(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"reasons": [{"rule": "contract", "code": code, "message": message}]})


def _out(request_id: str, answer: Payload | None, status: str | None = None) -> AnswerOut:
    if answer is None:
        return AnswerOut(request_id=request_id, status="pending")
    if status is None:
        status = {"CarnetIssued": "issued", "IssuanceRejected": "rejected"}.get(answer.TYPE)
        status = status or getattr(answer, "outcome", "pending")
    return AnswerOut(request_id=request_id, status=status, type=answer.TYPE, answer=answer.model_dump(mode="json"))


def nga_router(
    handlers: IssuerHandlers,
    pool_of: Callable[[], asyncpg.Pool],
    registry: Callable[[], Registry],
    max_request_bytes: int,
) -> APIRouter:
    """`max_request_bytes`: the body limit of one request (the record size: it travels as one)."""
    router = APIRouter(prefix="/v1", tags=["nga"], route_class=LimitedRoute)
    errors: dict[int | str, dict[str, Any]] = {
        401: {"model": Refusal},
        403: {"model": Refusal},
        413: {"model": Refusal},
    }

    async def authenticated_nga(request: Request) -> str:
        # From the header alone, before the body is read (LimitedRoute): a stranger's body is never parsed.
        scheme, _, key = (request.headers.get("authorization") or "").partition(" ")
        nga = registry().nga_for_key(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if nga is None:
            raise _refuse(401, "unauthenticated", "an NGA API key is required: Authorization: Bearer <key>")
        return nga

    nga_of = Depends(before_body(authenticated_nga, scheme=_NGA_KEY))
    one_request = body_limit(max_request_bytes)

    async def submit(nga: str, req: IssuanceRequest) -> AnswerOut:
        if req.nga != nga:
            raise _refuse(403, "wrong_nga", f"this API key speaks for {nga}, not {req.nga}")
        envelope = Envelope(
            type=req.TYPE, schema_version=req.VERSION, producer=f"nga-{nga}-http", subject=req.request_id
        )
        async with pool_of().acquire() as conn, conn.transaction():
            answer = await handlers.submit(conn, req, envelope, channel="http")
        return _out(req.request_id, answer)

    @router.post("/issuance-requests", response_model=AnswerOut, responses=errors, openapi_extra=one_request)
    async def issue(req: SealedIssuanceRequested, nga: str = nga_of) -> AnswerOut:
        """One carnet: issued (with its number) or rejected with a reason per field or item (R1-R4)."""
        return await submit(nga, req)

    @router.post(
        "/issuance-requests/batch",
        response_model=list[AnswerOut],
        responses=errors,
        openapi_extra=body_limit(MAX_BATCH_BYTES),
    )
    async def issue_batch(
        reqs: Annotated[list[SealedIssuanceRequested], Field(min_length=1, max_length=MAX_BATCH)], nga: str = nga_of
    ) -> list[AnswerOut]:
        """Up to 500 carnets in one call, answered in order; each request commits on its own."""
        return [await submit(nga, r) for r in reqs]

    @router.post("/duplicate-requests", response_model=AnswerOut, status_code=202, responses=errors)
    async def duplicate(req: DuplicateRequested, nga: str = nga_of) -> Any:
        """R5: pending (202) until the core applies or refuses it; rejected at once when the request is wrong."""
        return _status_code(await submit(nga, req))

    @router.post(
        "/replacement-requests", response_model=AnswerOut, status_code=202, responses=errors, openapi_extra=one_request
    )
    async def replacement(req: ReplacementRequested, nga: str = nga_of) -> Any:
        """R6: pending (202) until the core applies or refuses it; rejected at once when the request is wrong."""
        return _status_code(await submit(nga, req))

    @router.get("/requests/{request_id}", response_model=AnswerOut, responses={**errors, 404: {"model": Refusal}})
    async def answer(
        request_id: Annotated[str, Path(min_length=1, max_length=100, pattern=IDENTIFIER)], nga: str = nga_of
    ) -> AnswerOut:
        """The answer to one of this NGA's requests, whichever channel it came by."""
        async with pool_of().acquire() as conn:
            found = await repo.find_answer(conn, nga, request_id)
        if found is None:
            raise _refuse(404, "unknown_request", f"no request {request_id} of {nga}")
        if found.outcome == "pending":
            return _out(request_id, None)
        payload = MESSAGE_TYPES[(found.response_type, 1)].model_validate_json(found.response)
        return _out(request_id, payload, found.outcome)

    return router


def _status_code(out: AnswerOut) -> Any:
    # Pending is 202 (accepted, decision to come); an immediate answer is a plain 200.
    return out if out.status == "pending" else JSONResponse(out.model_dump(mode="json"), status_code=200)


def new_api_key() -> str:
    """A fresh NGA API key; the registry stores only `registry.key_hash(key)`."""
    return "ata_" + secrets.token_urlsafe(32)
