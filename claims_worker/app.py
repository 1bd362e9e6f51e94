"""Builds the claims worker from settings; nothing runs at import time."""

from __future__ import annotations

from pathlib import Path

from claims_worker.handlers import ClaimsHandlers, ClaimsMetrics
from contracts.topics import TRANSACTIONS
from runtime.service import Clock, Service, utc_now
from runtime.settings import Settings

NAME = "claims_worker"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA claims worker",
                      schema="claims")
    handlers = ClaimsHandlers(ClaimsMetrics(service.registry), clock)
    service.consume({TRANSACTIONS: handlers.ledger_event})
    service.state["handlers"] = handlers
    return service
