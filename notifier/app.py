"""Builds the notifier from settings; nothing runs at import time."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import NOTIFICATION_REQUESTS
from notifier.api import recipient_router
from notifier.handlers import NotifierHandlers, NotifierMetrics
from runtime.service import Clock, Service, utc_now
from runtime.settings import Settings

NAME = "notifier"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA notifier")
    handlers = NotifierHandlers(NotifierMetrics(service.registry), clock, timeout_s=settings.webhook_timeout_s,
                                max_attempts=settings.delivery_max_attempts)
    service.consume({NOTIFICATION_REQUESTS: handlers.confirmation_requested})
    service.include(recipient_router(lambda: service.pool))
    service.state["handlers"] = handlers

    @service.background
    async def delivery_worker() -> None:
        await handlers.run_worker(service.pool)

    return service
