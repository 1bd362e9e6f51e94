"""Builds the customs gateway from settings; nothing runs at import time."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import CARNET_STATUS, DECLARATIONS, ISSUANCE_EVENTS, SIGNING_KEYS
from customs_gateway.api import officer_router
from customs_gateway.handlers import GatewayHandlers, GatewayMetrics
from customs_gateway.web import officer_pages
from runtime import trustlist
from runtime.service import Clock, Service, utc_now
from runtime.settings import Settings

NAME = "customs_gateway"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA customs gateway")
    # Raises TrustListError without the anchor: a gateway that trusts no list can verify nothing.
    anchor = trustlist.load_anchor_public(settings.trust_anchor_public_key_path)
    handlers = GatewayHandlers(GatewayMetrics(service.registry), clock, anchor)
    service.consume({SIGNING_KEYS: handlers.trust_event, CARNET_STATUS: handlers.trust_event,
                     ISSUANCE_EVENTS: handlers.issuance_event, DECLARATIONS: handlers.declaration_event})
    admin_token = settings.gateway_admin_token.get_secret_value() if settings.gateway_admin_token else None
    service.include(officer_router(handlers, lambda: service.pool, admin_token))
    service.include(officer_pages(service.registry))
    service.state["handlers"] = handlers

    @service.on_start
    async def warm_trust_cache() -> None:
        async with service.pool.acquire() as conn:
            await handlers.load_trust(conn)

    return service
