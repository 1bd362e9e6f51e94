"""Officer sessions (R18): log in with password and TOTP code, who is logged in and the offices they may act
for, log out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from customs_gateway import accounts
from customs_gateway.officer_admin import BEARER, Problem
from customs_gateway.officers import Officers, SessionOfficer
from customs_gateway.usecases import sessions
from customs_gateway.usecases.facade import GatewayUseCases
from runtime.text import IDENTIFIER


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    officer_id: str = Field(pattern=accounts.OFFICER_ID.pattern, max_length=64)
    password: str = Field(min_length=1, max_length=accounts.MAX_PASSWORD, pattern=IDENTIFIER)
    totp: str = Field(pattern=r"^\s*[0-9]{6}\s*$", description="The 6-digit code of the officer's authenticator app.")


class OfficeOut(BaseModel):
    office_id: str
    region: str
    name: str
    timezone: str


class SessionOut(BaseModel):
    officer_id: str
    country: str
    home_office_id: str
    acting_office_id: str = Field(description="The office of this request: X-Office-Id, or the home office.")
    offices: list[OfficeOut] = Field(
        description="R18: the offices of the officer's own country, which they may act for."
    )


def session_routes(
    router: APIRouter, handlers: GatewayUseCases, pool_of: Any, officers: Officers, officer: Any
) -> None:
    @router.post("/sessions", status_code=201, responses={401: {"model": Problem}, 429: {"model": Problem}})
    async def login(body: LoginIn, request: Request) -> dict[str, Any]:
        """Password and TOTP code (RFC 6238), both mandatory. Failures are throttled per account, client address
        and pair with growing waits (429 with Retry-After); the officer's usual addresses are not held back by
        strangers' failures on their account."""
        address = request.client.host if request.client else ""
        async with pool_of().acquire() as conn:
            result = await officers.login(conn, body.officer_id, body.password, body.totp.strip(), address)
        if result.outcome == "throttled":
            raise HTTPException(
                429,
                detail={
                    "reason": "throttled",
                    "message": f"too many failed logins; try again in {result.retry_after} s",
                },
                headers={"Retry-After": str(result.retry_after)},
            )
        if result.outcome != "success":
            raise HTTPException(
                401,
                detail={"reason": "invalid_credentials", "message": "wrong officer, password or code"},
                headers=BEARER,
            )
        return {"token": result.token, "token_type": "Bearer", "expires_at": result.expires_at}

    @router.get("/sessions/current", response_model=SessionOut, responses={c: {"model": Problem} for c in (401, 403)})
    async def current_session(who: SessionOfficer = officer) -> dict[str, Any]:
        """Who is logged in, and the offices of their country they may act for (send one as X-Office-Id)."""
        async with pool_of().acquire() as conn:
            return await sessions.current(handlers.gw, conn, who)

    @router.delete("/sessions/current", status_code=204)
    async def logout(who: SessionOfficer = officer) -> Response:
        async with pool_of().acquire() as conn:
            await officers.logout(conn, who)
        return Response(status_code=204)
