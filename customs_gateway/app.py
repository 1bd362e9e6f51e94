"""Builds the customs gateway from settings; nothing runs at import time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from contracts.topics import CARNET_STATUS, CUSTOMS_LEDGER, ISSUANCE_EVENTS, SIGNING_KEYS
from customs_gateway import account_repository as accounts_repo
from customs_gateway.api import officer_router
from customs_gateway.core_lookup import CoreDeclarations
from customs_gateway.metrics import GatewayMetrics
from customs_gateway.usecases.context import Gateway
from customs_gateway.usecases.facade import GatewayUseCases
from customs_gateway.web import officer_pages
from runtime.clock import Clock, utc_now
from runtime.consumer import WithBulk
from runtime.service import Service
from runtime.settings import Settings
from tokens import trustlist

NAME = "customs_gateway"
#: Rows of each kind (expired sessions, forgotten login counts, old lookups) deleted per refresh period at most.
PURGE_BATCH = 1000
log = logging.getLogger(__name__)


def build(settings: Settings, *, clock: Clock = utc_now, core: CoreDeclarations | None = None) -> Service:
    """`core`: where typed codes are looked up; by default the core at ATA_GATEWAY_CORE_URL."""
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA customs gateway")
    # Raises TrustListError without the anchor: a gateway that trusts no list can verify nothing.
    anchor = trustlist.load_anchor_public(settings.trust_anchor_public_key_path)
    if core is None:
        token = settings.core_customs_token.get_secret_value() if settings.core_customs_token else None
        core = CoreDeclarations(settings.gateway_core_url, token)
    handlers = GatewayUseCases(Gateway(GatewayMetrics(service.registry), clock, anchor, core))

    # No per-crossing topic: typed codes are asked of the core, and the ledger's few events the gateway acts on
    # come on their own topic (docs/gateway-subscriptions.md).
    service.consume(
        {
            SIGNING_KEYS: handlers.trust_event,
            CARNET_STATUS: handlers.trust_event,
            ISSUANCE_EVENTS: WithBulk(handlers.issuance_event, handlers.issuance_events),
            CUSTOMS_LEDGER: handlers.ledger_event,
        }
    )
    admin_token = settings.gateway_admin_token.get_secret_value() if settings.gateway_admin_token else None
    service.include(officer_router(handlers, lambda: service.pool, admin_token))
    service.include(officer_pages(service.registry))
    service.state["handlers"] = handlers

    @service.on_start
    async def warm_trust_cache() -> None:
        async with service.pool.acquire() as conn:
            await handlers.load_trust(conn)

    async def refresh_trust_cache() -> None:
        # What another instance of this gateway learned from the topics reaches this one within a period;
        # while the database is away, the cache in memory stays (runtime/background.py retries).
        async with service.pool.acquire() as conn:
            await handlers.load_trust(conn)
            await purge_accounts(conn)

    service.loop("trust-cache", refresh_trust_cache, period_s=settings.gateway_cache_refresh_s, wait_first=True)

    async def purge_accounts(conn: Any) -> None:
        """Expired sessions and forgotten login counts, a bounded batch a period (any instance may do it)."""
        for table, count in (await accounts_repo.purge(conn, clock(), PURGE_BATCH)).items():
            handlers.metrics.purged(table).inc(count)

    service.state["purge_accounts"] = purge_accounts

    return service
