"""What a customs gateway asks the core over HTTP: the declaration behind a transaction code an officer typed.

The gateway verifies scanned tokens offline and needs the core for nothing else; a typed code (a QR that will
not scan) is the rare fallback, so it is asked for then instead of every declaration being copied to every
gateway (docs/gateway-subscriptions.md). The gateway has checked the code's check character, counted it against
the officer's rate limit and will audit the lookup; it presents the shared customs token.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Path
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field

from contracts.kinds import DeclarationKind
from contracts.txcode import TransactionCodeError, parse_transaction_code
from core.usecases import views
from runtime.http_limits import LimitedRoute

log = logging.getLogger(__name__)
#: A canonical or typed code: 13 symbols, with the dashes and blanks people add (contracts.txcode).
CODE = r"^[0-9A-Za-z~*$=\- ]{13,40}$"
CUSTOMS_BEARER = {"WWW-Authenticate": 'Bearer realm="customs"'}


class CustomsDeclarationOut(BaseModel):
    transaction_code: str = Field(description="Canonical: 13 symbols, no separators.")
    carnet_number: str
    kind: DeclarationKind
    country: str
    items: list[int]
    sequence: int
    token_id: UUID
    token_expires_at: datetime


def customs_router(pool_of: Any, token: str | None, registry: CollectorRegistry) -> APIRouter:
    router = APIRouter(prefix="/v1/customs", tags=["customs gateways"], route_class=LimitedRoute)
    lookups = Counter(
        "ata_customs_lookups_total",
        "Typed-code lookups customs gateways asked, by outcome.",
        ["outcome"],
        registry=registry,
    )
    expected = token.encode() if token else None

    @router.get(
        "/declarations/{transaction_code}", response_model=CustomsDeclarationOut, responses={401: {}, 404: {}, 422: {}}
    )
    async def declaration(
        transaction_code: Annotated[str, Path(pattern=CODE)],
        authorization: Annotated[str | None, Header(max_length=8192)] = None,
        x_officer_id: Annotated[
            str | None,
            Header(max_length=64, pattern=r"^[A-Za-z0-9._-]+$", description="The officer who typed it, for the log."),
        ] = None,
    ) -> dict[str, Any]:
        """The declaration under a transaction code, for a customs gateway (its shared customs token only)."""
        if expected is None:  # no token configured: no gateway is let in (its officers get 503 and scan instead)
            lookups.labels("not_configured").inc()
            raise HTTPException(
                401,
                detail={"reason": "not_configured", "message": "no customs token configured"},
                headers=CUSTOMS_BEARER,
            )
        given = (authorization or "").removeprefix("Bearer ").strip().encode()
        if not hmac.compare_digest(given, expected):
            lookups.labels("unauthenticated").inc()
            raise HTTPException(
                401, detail={"reason": "unauthenticated", "message": "customs token required"}, headers=CUSTOMS_BEARER
            )
        try:
            code = parse_transaction_code(transaction_code)
        except TransactionCodeError as exc:
            lookups.labels("bad_code").inc()
            raise HTTPException(422, detail={"reason": "bad_code", "message": str(exc)}) from exc
        async with pool_of().acquire() as conn:
            row = await views.declaration_by_code(conn, code)
        if row is None:
            lookups.labels("unknown").inc()
            log.info("customs lookup of unknown code %s (officer %s)", code, x_officer_id)
            raise HTTPException(404, detail={"reason": "unknown_code", "message": "no declaration with this code"})
        lookups.labels("found").inc()
        return {**dict(row), "items": list(row["items"])}

    return router
