"""Officer-facing HTTP (R18): administration (offices, officer accounts, CSV import, audit), sessions
with password + TOTP, scan verification, commit or refuse."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import (
    APIRouter,
    Depends,
    File,
    Header,
    HTTPException,
    Request,
    Response,
    UploadFile,
)
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from contracts.txcode import format_transaction_code
from customs_gateway.bulk_api import bulk_commit_route
from customs_gateway.cancellation_api import cancellation_routes
from customs_gateway.commit_problems import commit_problem
from customs_gateway.domain import CommitRefused, Office, Verification
from customs_gateway.officer_admin import BEARER, OFFICE_ID, Problem, admin_router, bearer_token
from customs_gateway.officers import Officers, SessionOfficer
from customs_gateway.session_api import session_routes
from customs_gateway.usecases import sessions
from customs_gateway.usecases.facade import GatewayUseCases
from runtime.http_limits import LimitedRoute, before_body, body_limit
from runtime.text import PRINTABLE
from tokens.qr import QrDecodeError, UnreadableImage, read_qr_image

log = logging.getLogger(__name__)

#: A phone photo of the QR: a 12-megapixel JPEG is 3-6 MB, a 48-megapixel one up to ~12 MB; the reader
#: reduces it to 1,600 pixels anyway (tokens.qr.MAX_SIDE). Anything larger is refused while it arrives.
MAX_IMAGE_BYTES = 16 * 1024 * 1024
SESSION = HTTPBearer(auto_error=False, scheme_name="OfficerSession", description="POST /v1/sessions gives it.")


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=4400, description="The ATA1: string read from the QR.")


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(
        min_length=1,
        max_length=40,
        description="The transaction code as typed or heard; lower case, "
        "spaces, dashes and the O/0, I/L/1 confusions are accepted.",
        examples=["7k3m-9qx2-d4ra-8"],
    )


class CommitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str | None = Field(None, min_length=1, max_length=4400, description="The ATA1: string read from the QR.")
    transaction_code: str | None = Field(
        None, min_length=1, max_length=40, description="Instead of a token: the typed transaction code."
    )
    decision: Literal["committed", "refused"] = Field(examples=["committed"])
    final_date: date | None = Field(None, description="R13: a final date for re-exportation earlier than the expiry.")
    refusal_reason: str | None = Field(None, max_length=500, pattern=PRINTABLE)


class CheckOut(BaseModel):
    check: str = Field(examples=["items_on_list"])
    ok: bool | None = Field(description="null: not checked (nothing to check against).")
    detail: str


class CarnetItemOut(BaseModel):
    item_number: int
    quantity: int
    origin_country: str


class CarnetOut(BaseModel):
    carnet_number: str
    home_country: str
    countries: list[str]
    expiry_date: date
    items: list[CarnetItemOut] = Field(description="Only the declared items.")


class ScanOut(BaseModel):
    carnet_number: str
    kind: str
    country: str
    items: list[int]
    sequence: int
    carnet_expiry: date | None = Field(description="From the token; by typed code, from the carnet on file if any.")
    transaction_code: str
    general_list_digest: str | None = Field(description="From the token; null for a typed code.")
    checks: list[CheckOut] = Field(
        description="Signature, expiry, territory, replay, carnet status, carnet on file, "
        "items on the list, digest, countries."
    )
    mismatches: list[CheckOut] = Field(description="Every failed check.")
    carnet: CarnetOut | None = Field(
        description="The carnet on file, with only the declared items; null if not on file."
    )
    token: str | None = Field(
        None, description="POST /v1/scans/image only: the ATA1: string read from the image, to commit or refuse with."
    )


class CommitOut(ScanOut):
    commit_id: UUID
    decision: str
    office_id: str


def _scan_out(v: Verification) -> dict[str, Any]:
    c = v.declared
    return dict(
        carnet_number=c.carnet_number,
        kind=c.kind.value,
        country=c.country,
        items=list(c.items),
        sequence=c.sequence,
        carnet_expiry=c.carnet_expiry,
        transaction_code=format_transaction_code(c.transaction_code),
        general_list_digest=c.general_list_digest,
        checks=[x.as_dict() for x in v.checks],
        mismatches=[x.as_dict() for x in v.mismatches],
        carnet=v.carnet_view(),
        token=None,
    )


def _jsonable(value: object) -> str:
    if isinstance(value, (date, UUID)):
        return str(value)  # date: ISO 8601, as pydantic writes it
    raise TypeError(f"not JSON: {type(value).__name__}")


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    """The hot endpoints' body as JSON, as their response model declares it (the OpenAPI schema still says
    so): built field for field from the verification, it need not go through FastAPI's response validation
    and serialization, which made a second copy of every scan and commit."""
    return Response(json.dumps(body, default=_jsonable, separators=(",", ":")), status, media_type="application/json")


def officer_router(handlers: GatewayUseCases, pool_of: Any, admin_token: str | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["customs"], route_class=LimitedRoute)
    officers = Officers(handlers.metrics, handlers.clock)
    # A hard photo's fallback passes run on two threads (tokens.qr.read_qr_image); threads start on first use.
    qr_lanes = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qr-lane")
    problems: dict[int | str, dict[str, Any]] = {c: {"model": Problem} for c in (401, 403, 409, 422)}

    async def officer_session(request: Request) -> SessionOfficer:
        """From the Authorization header alone, before the body is read (LimitedRoute)."""
        token = bearer_token(request.headers.get("authorization"))
        # A session read in the last few seconds needs no connection: the endpoint's is the request's only one.
        who = officers.cached_session(token) if token is not None else None
        if who is None and token is not None:
            async with pool_of().acquire() as conn:
                who = await officers.session(conn, token)
        if who is None:
            raise HTTPException(
                401, detail={"reason": "unauthenticated", "message": "log in: POST /v1/sessions"}, headers=BEARER
            )
        return who

    async def current_officer(
        who: SessionOfficer = Depends(before_body(officer_session, scheme=SESSION)),
        x_office_id: Annotated[
            str | None,
            Header(
                pattern=OFFICE_ID,
                description="R18: the office the officer acts "
                "for, one of their own country's; default: their home office.",
            ),
        ] = None,
    ) -> SessionOfficer:
        if x_office_id is not None and x_office_id != who.office.office_id:
            who = await acting_for(who, x_office_id)
        return who

    known_offices: dict[str, Office] = {}  # offices are created, never changed or removed

    async def acting_for(who: SessionOfficer, office_id: str) -> SessionOfficer:
        """R18: another office of the officer's own administration, never another country's (attempts audited)."""
        office = known_offices.get(office_id)
        if office is None or office.country != who.office.country:
            async with pool_of().acquire() as conn:
                office = await sessions.office_to_act_for(handlers.gw, conn, who, office_id)
            if office is None:
                raise HTTPException(
                    403,
                    detail={
                        "reason": "office_not_allowed",
                        "message": f"office {office_id} is not one of {who.office.country}'s offices",
                    },
                )
            known_offices[office_id] = office
        return dataclasses.replace(who, office=office)

    officer = Depends(current_officer)
    session_routes(router, handlers, pool_of, officers, officer)

    # --- scans and commits ----------------------------------------------------------------

    async def scanned(token: str, who: SessionOfficer) -> dict[str, Any]:
        async with pool_of().acquire() as conn:
            try:
                return _scan_out(await handlers.scan(conn, who.officer_id, who.office, token))
            except CommitRefused as exc:
                raise commit_problem(exc) from exc

    @router.post("/scans", response_model=ScanOut, responses=problems)
    async def scan(body: ScanIn, who: SessionOfficer = officer) -> Response:
        """Verify a token offline and show what it declares; only the audit log records the scan."""
        return _answer(await scanned(body.token, who))

    @router.post(
        "/scans/image",
        response_model=ScanOut,
        responses={**problems, 400: {"model": Problem}},
        openapi_extra=body_limit(MAX_IMAGE_BYTES),
    )
    async def scan_image(
        who: SessionOfficer = officer, image: UploadFile = File(description="PNG or JPEG photo of the QR")
    ) -> Response:
        data = await image.read()
        started = time.perf_counter()
        try:
            # Tens of milliseconds for a hard photo (decoder fallbacks): off the event loop, so other
            # officers' requests and the Kafka consumer's heartbeats are not held up (zxing-cpp
            # releases the GIL while it reads).
            read = await asyncio.to_thread(read_qr_image, data, qr_lanes)
        except QrDecodeError as exc:
            handlers.metrics.qr_images("unreadable" if isinstance(exc, UnreadableImage) else "none").inc()
            log.info(
                "scan image: %s (officer %s, office %s, %d bytes, %.1f ms)",
                exc,
                who.officer_id,
                who.office.office_id,
                len(data),
                (time.perf_counter() - started) * 1000,
            )
            raise HTTPException(400, detail={"reason": "no_qr", "message": str(exc)}) from exc
        finally:
            handlers.metrics.qr_seconds.observe(time.perf_counter() - started)
        handlers.metrics.qr_images(str(read.attempt)).inc()
        return _answer({**await scanned(read.texts[0], who), "token": read.texts[0]})

    @router.post(
        "/scans/code", response_model=ScanOut, responses={**problems, 404: {"model": Problem}, 429: {"model": Problem}}
    )
    async def scan_code(body: CodeIn, who: SessionOfficer = officer) -> dict[str, Any]:
        """The typed fallback: a wrong check character is refused before any lookup; lookups are rate-limited
        per officer (429 with Retry-After)."""
        async with pool_of().acquire() as conn:
            try:
                return _scan_out(await handlers.lookup(conn, who.officer_id, who.office, body.code))
            except CommitRefused as exc:
                raise commit_problem(exc) from exc

    @router.post(
        "/commits",
        status_code=202,
        response_model=CommitOut,
        responses={**problems, 404: {"model": Problem}, 429: {"model": Problem}},
    )
    async def commit(body: CommitIn, who: SessionOfficer = officer) -> Response:
        """Verify (a token, or a typed transaction code: exactly one), record the decision in the gateway's commit
        log and post it to the core. Items off the list, a digest or a country that does not match the carnet on
        file: 422 "mismatch"."""
        if (body.token is None) == (body.transaction_code is None):
            raise HTTPException(
                422, detail={"reason": "token_or_code", "message": "give exactly one of token and transaction_code"}
            )
        if body.decision == "refused" and not (body.refusal_reason or "").strip():
            raise HTTPException(422, detail={"reason": "reason_required", "message": "a refusal states its reason"})
        async with pool_of().acquire() as conn:
            try:
                commit_id, v = await handlers.commit(
                    conn,
                    who.officer_id,
                    who.office,
                    body.token,
                    body.decision,
                    body.final_date,
                    body.refusal_reason,
                    transaction_code=body.transaction_code,
                )
            except CommitRefused as exc:
                raise commit_problem(exc) from exc
        return _answer(
            {**_scan_out(v), "commit_id": commit_id, "decision": body.decision, "office_id": who.office.office_id}, 202
        )

    bulk_commit_route(router, handlers, pool_of, officer, problems)
    cancellation_routes(router, handlers, pool_of, officer, problems)
    # Last: routes are matched in order, and every scan and commit used to be tried against the admin routes first.
    router.include_router(admin_router(handlers, pool_of, admin_token, officers))
    return router
