"""Recipient-facing HTTP: holders and representatives register webhooks and push subscriptions and read
their own delivery log (wallet bearer token, `sub` = wallet id); operators read every log (admin token)."""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPBearer
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, UrlConstraints, field_validator

from notifier import domain, egress, repository as repo, webpush
from notifier.registrations import EndpointRefused, Registrations
from runtime.clock import Clock
from runtime.http_limits import LimitedRoute, before_body
from runtime.text import PRINTABLE

CARNET = Query(None, max_length=32, pattern=PRINTABLE)
SECRET_PATTERN = r"^whsec_[A-Za-z0-9+/=]{16,128}$"
#: https only, unless ATA_NOTIFIER_ALLOW_LOOPBACK_HTTP (checked with the addresses by notifier/egress.py).
EndpointUrl = Annotated[AnyHttpUrl, UrlConstraints(max_length=egress.MAX_URL_LENGTH)]
REFUSED = {
    422: {
        "description": "The URL is not https, carries credentials, or its host does not resolve only to "
        "public addresses (`reason` endpoint_refused, `category`)."
    },
    409: {"description": "The recipient already has the most active endpoints allowed (ATA_NOTIFIER_MAX_ENDPOINTS)."},
}


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: EndpointUrl = Field(
        description="Where to POST confirmations (https).", examples=["https://broker.example/hooks/ata"]
    )
    secret: str | None = Field(
        None,
        pattern=SECRET_PATTERN,
        description="Signing secret; one is generated when absent. Registering the same URL "
        "with another secret rotates it (both sign during the overlap).",
    )


class WebhookOut(BaseModel):
    endpoint_id: UUID
    secret: str = Field(description="whsec_ secret to verify the webhook-signature header with.")
    previous_secret_until: datetime | None = Field(
        None, description="Until then the previous secret also signs (a second signature in webhook-signature)."
    )


class RotationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str | None = Field(None, pattern=SECRET_PATTERN, description="The new secret; generated when absent.")


class PushKeys(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p256dh: str = Field(
        min_length=80,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description="The browser's P-256 public key, uncompressed point, base64url (RFC 8291).",
    )
    auth: str = Field(
        min_length=16,
        max_length=32,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description="The 16-byte authentication secret, base64url (RFC 8291).",
    )


class PushSubscriptionIn(BaseModel):
    """`PushSubscription.toJSON()` as a browser gives it."""

    model_config = ConfigDict(extra="ignore")  # browsers add expirationTime
    endpoint: EndpointUrl = Field(
        description="The push resource URL the push service gave the browser (RFC 8030).",
        examples=["https://push.example.net/wpush/v2/gAAAAABk"],
    )
    keys: PushKeys

    @field_validator("keys")
    @classmethod
    def _keys_are_usable(cls, keys: PushKeys) -> PushKeys:
        try:
            webpush.check_subscription_keys(keys.p256dh, keys.auth)
        except webpush.SubscriptionKeyError as exc:
            raise ValueError(str(exc)) from exc
        return keys


class SubscriptionOut(BaseModel):
    endpoint_id: UUID


class EndpointOut(BaseModel):
    endpoint_id: UUID
    channel: Literal["webhook", "webpush"]
    url: str
    active: bool
    disabled_reason: str | None
    previous_secret_until: datetime | None
    created_at: datetime


class AttemptOut(BaseModel):
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryOut(BaseModel):
    delivery_id: UUID
    confirmation_id: UUID
    endpoint_id: UUID
    channel: str
    recipient_id: str
    carnet_number: str
    event_type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    requested_at: datetime
    delivered_at: datetime | None
    next_attempt_at: datetime
    last_error: str | None
    log: list[AttemptOut] = Field(description="Every attempt, its answer and its duration.")


class DeadLetterOut(BaseModel):
    id: int
    delivery_id: UUID
    reason: str
    attempts: int
    dead_at: datetime
    replayed_at: datetime | None
    carnet_number: str
    recipient_id: str
    channel: str
    event_type: str
    endpoint_active: bool


def _log(rows: list[Any]) -> list[dict[str, Any]]:
    return [{**dict(r), "log": json.loads(r["log"]) if isinstance(r["log"], str) else r["log"]} for r in rows]


def _refused(exc: EndpointRefused) -> HTTPException:
    return HTTPException(
        exc.status,
        detail={
            "reason": "endpoint_refused" if exc.status == 422 else exc.category,
            "category": exc.category,
            "message": str(exc),
        },
    )


def recipient_router(
    pool_of: Any,
    party: Any,
    clock: Clock,
    *,
    overlap: timedelta,
    vapid: webpush.Vapid | None,
    registrations: Registrations,
) -> APIRouter:
    """`party`: the FastAPI dependency giving the caller's wallet id (tokens.wallet_auth.CurrentParty)."""
    router = APIRouter(prefix="/v1", tags=["notifications"], route_class=LimitedRoute)
    me = Depends(party)

    @router.post("/endpoints/webhooks", status_code=201, response_model=WebhookOut, responses=REFUSED)
    async def register(body: WebhookIn, recipient: str = me) -> dict[str, Any]:
        try:
            row = await registrations.webhook(
                recipient, str(body.url), body.secret, domain.new_secret(), clock() + overlap
            )
        except EndpointRefused as exc:
            raise _refused(exc) from exc
        return dict(row)

    @router.post(
        "/endpoints/webhooks/{endpoint_id}/rotation",
        response_model=WebhookOut,
        responses={404: {"description": "No active webhook of yours with this id."}},
    )
    async def rotate(endpoint_id: UUID, body: RotationIn, recipient: str = me) -> dict[str, Any]:
        async with pool_of().acquire() as conn:
            row = await repo.rotate_secret(
                conn, endpoint_id, recipient, body.secret or domain.new_secret(), clock() + overlap
            )
        if row is None:
            raise HTTPException(404, detail={"reason": "unknown_endpoint"})
        return dict(row)

    @router.get("/webpush/vapid-public-key", responses={404: {"description": "Web Push is not offered here."}})
    async def vapid_key() -> dict[str, str]:
        """The `applicationServerKey` a browser subscribes with (RFC 8292 section 3.2)."""
        if vapid is None:  # no key configured: there is no such resource (a 5xx would read as an outage)
            raise HTTPException(404, detail={"reason": "webpush_disabled"})
        return {"application_server_key": vapid.application_server_key}

    @router.post(
        "/endpoints/webpush",
        status_code=201,
        response_model=SubscriptionOut,
        responses={503: {"description": "Web Push is not configured."}, **REFUSED},
    )
    async def subscribe(body: PushSubscriptionIn, recipient: str = me) -> dict[str, Any]:
        if vapid is None:
            raise HTTPException(503, detail={"reason": "webpush_disabled"})
        try:
            row = await registrations.subscription(recipient, str(body.endpoint), body.keys.p256dh, body.keys.auth)
        except EndpointRefused as exc:
            raise _refused(exc) from exc
        return dict(row)

    @router.get("/endpoints", response_model=list[EndpointOut])
    async def mine(recipient: str = me) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            return [dict(r) for r in await repo.endpoints_of(conn, recipient)]

    @router.delete(
        "/endpoints/{endpoint_id}",
        status_code=204,
        responses={404: {"description": "No active endpoint of yours with this id."}},
    )
    async def remove(endpoint_id: UUID, recipient: str = me) -> None:
        async with pool_of().acquire() as conn:
            if not await repo.remove_endpoint(conn, endpoint_id, recipient):
                raise HTTPException(404, detail={"reason": "unknown_endpoint"})

    @router.get("/deliveries", response_model=list[DeliveryOut])
    async def deliveries(recipient: str = me, carnet_number: str | None = CARNET) -> list[dict[str, Any]]:
        """The caller's own delivery log, optionally for one carnet."""
        async with pool_of().acquire() as conn:
            return _log(await repo.deliveries(conn, carnet_number, recipient))

    return router


def admin_router(pool_of: Any, admin_token: str | None) -> APIRouter:
    """Operators: every delivery by carnet or recipient, and the dead letters (ATA_NOTIFIER_ADMIN_TOKEN)."""
    router = APIRouter(prefix="/v1/admin", tags=["operations"], route_class=LimitedRoute)

    async def operator_token(request: Request) -> None:
        authorization = request.headers.get("authorization")
        if not admin_token:
            # 403, not 503: nothing will change by waiting; an operator must configure the token.
            raise HTTPException(
                403,
                detail={
                    "reason": "administration_disabled",
                    "message": "set ATA_NOTIFIER_ADMIN_TOKEN to enable the operator API",
                },
            )
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), admin_token.encode()):
            raise HTTPException(401, detail={"reason": "bad_admin_token"}, headers={"WWW-Authenticate": "Bearer"})

    operator = before_body(operator_token, scheme=HTTPBearer(auto_error=False, scheme_name="NotifierAdmin"))

    @router.get("/deliveries", response_model=list[DeliveryOut], dependencies=[Depends(operator)])
    async def deliveries(
        carnet_number: str | None = CARNET,
        recipient_id: str | None = Query(None, max_length=64, pattern=PRINTABLE),
        status: Literal["pending", "delivered", "dead"] | None = None,
    ) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            return _log(await repo.deliveries(conn, carnet_number, recipient_id, status))

    @router.get("/dead-letters", response_model=list[DeadLetterOut], dependencies=[Depends(operator)])
    async def dead_letters(include_replayed: bool = False) -> list[dict[str, Any]]:
        async with pool_of().acquire() as conn:
            return [dict(r) for r in await repo.dead_letters(conn, include_replayed)]

    return router
