"""Builds the claims worker from settings; nothing runs at import time."""

from __future__ import annotations

from pathlib import Path

from claims_worker.handlers import ClaimsHandlers
from claims_worker.metrics import ClaimsMetrics
from claims_worker.scheduler import Scheduler
from contracts.topics import CLAIMS_CUSTOMS_ACTIONS, CLAIMS_NGA_RESPONSES, NOTIFICATION_REQUESTS, TRANSACTIONS
from runtime.clock import Clock, utc_now
from runtime.service import Service
from runtime.settings import Settings

NAME = "claims_worker"


def build(settings: Settings, *, clock: Clock = utc_now, instance: str | None = None) -> Service:
    service = Service(
        NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA claims worker", schema="claims"
    )
    handlers = ClaimsHandlers(ClaimsMetrics(service.registry), clock)
    service.consume(
        {
            TRANSACTIONS: handlers.ledger_event,
            NOTIFICATION_REQUESTS: handlers.notification_request,
            CLAIMS_CUSTOMS_ACTIONS: handlers.customs_action,
            CLAIMS_NGA_RESPONSES: handlers.nga_response,
        }
    )
    scheduler = Scheduler(handlers, clock, instance=instance, poll_s=settings.claims_poll_s)
    service.state["handlers"] = handlers
    service.state["scheduler"] = scheduler
    service.add_loop(scheduler.loop(lambda: service.pool, service.loop_metrics))
    return service
