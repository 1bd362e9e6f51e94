"""Administration of the gateway (R18), behind the administrator's bearer token: offices, officer accounts
(create, CSV import, deactivate, reactivate, unlock, reset the authenticator, revoke sessions) and the
audit log. Every change is written to the audit log."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from customs_gateway import accounts
from customs_gateway.officers import Officers
from customs_gateway.usecases import administration
from customs_gateway.usecases.facade import GatewayUseCases
from runtime.http_limits import LimitedRoute, before_body, body_limit
from runtime.text import IDENTIFIER, PRINTABLE

MAX_IMPORT_BYTES = 2 * 1024 * 1024
BEARER = {"WWW-Authenticate": "Bearer"}
ADMIN = HTTPBearer(auto_error=False, scheme_name="GatewayAdmin", description="ATA_GATEWAY_ADMIN_TOKEN.")
OFFICE_ID = r"^[A-Z]{2}-[A-Z0-9-]{1,61}$"


class Problem(BaseModel):
    reason: str
    message: str


class OfficerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str = Field(pattern=accounts.OFFICER_ID.pattern, examples=["fr-officer-0042"])
    office_id: str = Field(min_length=1, max_length=64, examples=["FR-CDG-FRET"])
    password: str = Field(
        min_length=accounts.MIN_PASSWORD,
        max_length=accounts.MAX_PASSWORD,
        pattern=IDENTIFIER,
        description="Any script; no control character.",
    )


class OfficeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    office_id: str = Field(pattern=OFFICE_ID, examples=["FR-ORY-FRET"])
    country: str = Field(pattern=r"^[A-Z]{2}$", examples=["FR"])
    region: str = Field(min_length=1, max_length=64, pattern=PRINTABLE, examples=["FR-IDF"])
    name: str = Field(min_length=1, max_length=200, pattern=PRINTABLE)
    timezone: str = Field(min_length=1, max_length=64, pattern=PRINTABLE, examples=["Europe/Paris"])


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer " and authorization[7:].strip():
        return authorization[7:].strip()
    return None


def _enrolment(e: administration.Enrolled) -> dict[str, Any]:
    """Shown once: the secret is never answered again."""
    return {
        "officer_id": e.officer_id,
        "office_id": e.office_id,
        "totp_secret": e.totp_secret,
        "totp_uri": accounts.provisioning_uri(e.totp_secret, e.officer_id),
    }


def admin_router(handlers: GatewayUseCases, pool_of: Any, admin_token: str | None, officers: Officers) -> APIRouter:
    async def admin_token_of(request: Request) -> None:
        if not admin_token:
            raise HTTPException(503, detail={"reason": "administration_disabled", "message": "administration disabled"})
        token = bearer_token(request.headers.get("authorization"))
        if token is None or not hmac.compare_digest(token.encode(), admin_token.encode()):
            raise HTTPException(
                401, detail={"reason": "unauthenticated", "message": "administrator token required"}, headers=BEARER
            )

    administrator = before_body(admin_token_of, scheme=ADMIN)
    admin = APIRouter(
        prefix="/admin", tags=["administration"], dependencies=[Depends(administrator)], route_class=LimitedRoute
    )

    # --- administration (R18) ---------------------------------------------------------------

    gw = handlers.gw

    @admin.get("/offices")
    async def list_offices() -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            return await administration.offices(conn)

    @admin.post("/offices", status_code=201, responses={409: {"model": Problem}, 422: {"model": Problem}})
    async def create_office(body: OfficeIn) -> dict[str, Any]:
        try:
            ZoneInfo(body.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise HTTPException(
                422, detail={"reason": "unknown_timezone", "message": f"not an IANA time zone: {body.timezone}"}
            ) from exc
        if not body.office_id.startswith(body.country + "-"):
            raise HTTPException(
                422, detail={"reason": "office_country", "message": "office_id must start with its country"}
            )
        async with pool_of().acquire() as conn:
            with refusals():
                await administration.create_office(gw, conn, body.model_dump())
        return body.model_dump()

    @admin.post("/officers", status_code=201, responses={404: {"model": Problem}, 409: {"model": Problem}})
    async def create_officer(body: OfficerIn) -> dict[str, Any]:
        """Creates the account and answers the TOTP secret and provisioning URI once."""
        with refusals():
            enrolled = await administration.create_officer(
                gw, pool_of(), body.officer_id, body.office_id, body.password
            )
        return _enrolment(enrolled)

    @admin.post(
        "/officers/import",
        status_code=201,
        openapi_extra={
            "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True},
            **body_limit(MAX_IMPORT_BYTES),
        },
    )
    async def import_officers(request: Request) -> Any:
        """CSV `officer_id,office_id,password`: every row checked first; one bad row and nothing is imported
        (422 with a per-row report); otherwise all rows in one transaction. At most 5,000 rows."""
        raw = await request.body()
        if len(raw) > MAX_IMPORT_BYTES:
            raise HTTPException(413, detail={"reason": "too_large", "message": f"at most {MAX_IMPORT_BYTES} bytes"})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HTTPException(422, detail={"reason": "not_utf8", "message": str(exc)}) from exc
        async with pool_of().acquire() as conn:
            with refusals():
                enrolled = await administration.import_officers(gw, conn, text)
        return {"imported": len(enrolled), "officers": [_enrolment(e) for e in enrolled]}

    @admin.get("/audit")
    async def audit_log(
        officer_id: Annotated[str | None, Query(max_length=64, pattern=IDENTIFIER)] = None,
        carnet_number: Annotated[str | None, Query(max_length=64, pattern=IDENTIFIER)] = None,
        limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    ) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            return await administration.audit_log(conn, officer_id, carnet_number, limit)

    _account_routes(admin, handlers, pool_of, officers)
    return admin


@contextmanager
def refusals() -> Iterator[None]:
    """An administration use case's refusal as its HTTP problem."""
    try:
        yield
    except administration.AdminRefused as exc:
        raise HTTPException(exc.status, detail={"reason": exc.reason, "message": str(exc), **exc.extra}) from exc


class AccountOut(BaseModel):
    officer_id: str
    action: str
    sessions_revoked: int = Field(0, description="Sessions ended by this action.")
    failures_cleared: int = Field(0, description="Throttled login counts cleared (unlock).")


OfficerPath = Annotated[str, Path(pattern=accounts.OFFICER_ID.pattern, max_length=64)]


def _account_routes(admin: APIRouter, handlers: GatewayUseCases, pool_of: Any, officers: Officers) -> None:
    """Actions on one officer's account; an unknown officer is 404, and every action is audited."""
    unknown = {404: {"model": Problem, "description": "No such officer."}}

    async def act(officer_id: str, action: str, secret: str | None = None) -> dict[str, Any]:
        async with pool_of().acquire() as conn:
            with refusals():
                done = await administration.act_on_account(handlers.gw, conn, officer_id, action, secret)
        if done.get("sessions_revoked"):
            officers.forget(officer_id)  # this instance at once; the others within SESSION_CACHE
        return done

    @admin.post("/officers/{officer_id}/deactivate", response_model=AccountOut, responses=unknown)
    async def deactivate(officer_id: OfficerPath) -> dict[str, Any]:
        """The officer can no longer log in, and every session of theirs ends."""
        return await act(officer_id, "officer_deactivated")

    @admin.post("/officers/{officer_id}/reactivate", response_model=AccountOut, responses=unknown)
    async def reactivate(officer_id: OfficerPath) -> dict[str, Any]:
        return await act(officer_id, "officer_reactivated")

    @admin.post("/officers/{officer_id}/unlock", response_model=AccountOut, responses=unknown)
    async def unlock(officer_id: OfficerPath) -> dict[str, Any]:
        """Clears the account's throttled login counts (its own and per address); other addresses' counts stay."""
        return await act(officer_id, "officer_unlocked")

    @admin.post("/officers/{officer_id}/authenticator", responses=unknown)
    async def reset_authenticator(officer_id: OfficerPath) -> dict[str, Any]:
        """A new TOTP secret, answered once (the old one stops working), and every session of the officer ends."""
        secret = accounts.new_totp_secret()
        done = await act(officer_id, "authenticator_reset", secret)
        return {
            **_enrolment(administration.Enrolled(officer_id, done["office_id"], secret)),
            "sessions_revoked": done["sessions_revoked"],
        }

    @admin.delete("/officers/{officer_id}/sessions", response_model=AccountOut, responses=unknown)
    async def revoke_sessions(officer_id: OfficerPath) -> dict[str, Any]:
        return await act(officer_id, "sessions_revoked")
