"""Recipient-facing HTTP: register webhook endpoints; operators read the delivery log."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Query
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from notifier import domain
from notifier import repository as repo
from runtime.text import PRINTABLE


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    recipient_id: str = Field(min_length=1, max_length=64, pattern=PRINTABLE, description="Wallet id of the holder or representative.",
                              examples=["hld_7f3a9c"])
    url: AnyHttpUrl = Field(description="Where to POST confirmations.", examples=["https://broker.example/hooks/ata"])
    secret: str | None = Field(None, pattern=r"^whsec_[A-Za-z0-9+/=]{16,}$",
                               description="Signing secret; one is generated when absent.")


class WebhookOut(BaseModel):
    endpoint_id: UUID
    secret: str = Field(description="whsec_ secret to verify the webhook-signature header with.")


def recipient_router(pool_of: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["notifications"])

    @router.post("/endpoints/webhooks", status_code=201, response_model=WebhookOut)
    async def register(body: WebhookIn) -> dict[str, Any]:
        async with pool_of().acquire() as conn:
            row = await repo.add_endpoint(conn, uuid4(), body.recipient_id, str(body.url), body.secret, domain.new_secret())
        return {"endpoint_id": row["endpoint_id"], "secret": row["secret"]}

    @router.delete("/endpoints/{endpoint_id}", status_code=204)
    async def remove(endpoint_id: UUID) -> None:
        async with pool_of().acquire() as conn:
            if not await repo.remove_endpoint(conn, endpoint_id):
                raise HTTPException(404, detail={"reason": "unknown_endpoint"})

    @router.get("/deliveries")
    async def deliveries(carnet_number: str | None = Query(None, max_length=32, pattern=PRINTABLE),
                         recipient_id: str | None = Query(None, max_length=64, pattern=PRINTABLE)) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            rows = await repo.deliveries(conn, carnet_number, recipient_id)
        return [dict(r) for r in rows]

    return router
