"""Builds the core service from settings; nothing runs at import time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from contracts.topics import CUSTOMS_COMMITS, ISSUANCE_EVENTS
from core.api import holder_router
from core.handlers import CoreHandlers, CoreMetrics
from runtime.cose import load_or_create_signing_key
from runtime.service import Clock, Service, utc_now
from runtime.settings import Settings

NAME = "core"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA carnet core ledger")
    handlers = CoreHandlers(CoreMetrics(service.registry), clock, timedelta(hours=settings.token_ttl_hours))
    service.consume({ISSUANCE_EVENTS: handlers.carnet_issued, CUSTOMS_COMMITS: handlers.customs_commit})
    service.include(holder_router(handlers, lambda: service.pool))
    service.state["handlers"] = handlers

    @service.on_start
    async def signing_key() -> None:
        path = settings.signing_key_path or settings.data_dir / "keys" / "core-signing.pem"
        async with service.pool.acquire() as conn:
            await handlers.publish_signing_key(conn, load_or_create_signing_key(path))

    return service
