"""The wallet key directory: a holder's or representative's wallet registers the public half of its X25519 key
pair (construction ATA-DOC-1, nga_client/sealing.py); the private half is made and kept on the device.

`PUT /v1/wallet-keys/me` registers (or, from a new device, replaces) the caller's key. `GET
/v1/wallet-keys/{party_id}` answers any signed-in wallet: an NGA's issuing system seals a carnet document for the
holder's key, and a holder's wallet re-seals the document's data key for a representative's key when sharing. A
public key is no secret; the answer is the same 404 for an unknown party and one without a key.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import wallet_key_repository as keys
from core.api import NotAuthenticated, Refusal
from core.holder_models import PARTY_ID
from runtime.http_limits import LimitedRoute

#: 32 bytes in base64url without padding.
X25519_TEXT = r"^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"
PartyPath = Annotated[str, Path(pattern=PARTY_ID, max_length=64, description="Wallet id.", examples=["hld_7f3a9c"])]


class WalletKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: str = Field(
        pattern=X25519_TEXT,
        description="X25519 public key, 32 bytes base64url without padding.",
        examples=["3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"],
    )

    @field_validator("public_key")
    @classmethod
    def not_all_zero(cls, value: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(value + "=")
        except (binascii.Error, ValueError) as exc:  # the pattern already admits base64url only
            raise ValueError("not base64url") from exc
        if raw == bytes(32):
            raise ValueError("the all-zero point is not a public key")
        return value


class WalletKeyOut(BaseModel):
    party_id: str
    public_key: str
    registered_at: datetime


def wallet_key_router(
    pool_of: Callable[[], Any], party: Any, clock: Callable[[], datetime], *, registry: CollectorRegistry
) -> APIRouter:
    registered = Counter(
        "ata_wallet_keys_registered_total", "Wallet public keys registered, by outcome.", ["outcome"], registry=registry
    )
    for outcome in ("created", "replaced", "same"):
        registered.labels(outcome)
    router = APIRouter(
        prefix="/v1/wallet-keys",
        tags=["holder"],
        route_class=LimitedRoute,
        responses={401: {"model": NotAuthenticated, "description": "No valid wallet bearer token."}},
    )

    @router.put(
        "/me",
        response_model=WalletKeyOut,
        responses={201: {"model": WalletKeyOut, "description": "First key."}},
        summary="Register the caller's wallet public key (X25519); a new device replaces the old key",
    )
    async def register(body: WalletKeyIn, response: Response, caller: str = party) -> WalletKeyOut:
        now = clock()
        async with pool_of().acquire() as conn:
            outcome = await keys.register(conn, caller, body.public_key, now)
            row = await keys.key_of(conn, caller)
        registered.labels(outcome).inc()
        response.status_code = 201 if outcome == "created" else 200
        return WalletKeyOut(**dict(row))

    @router.get(
        "/{party_id}",
        response_model=WalletKeyOut,
        responses={404: {"model": Refusal}},
        summary="A wallet's public key, to seal a carnet document or a shared data key for it",
    )
    async def key_of(party_id: PartyPath, caller: str = party) -> WalletKeyOut:
        async with pool_of().acquire() as conn:
            row = await keys.key_of(conn, party_id)
        if row is None:
            raise HTTPException(
                404,
                detail={
                    "reasons": [
                        {
                            "rule": "R1",
                            "field": "party_id",
                            "item_number": None,
                            "message": f"no wallet key registered for {party_id}",
                        }
                    ]
                },
            )
        return WalletKeyOut(**dict(row))

    return router
