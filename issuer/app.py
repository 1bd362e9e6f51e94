"""Builds the issuer service from settings; nothing runs at import time."""

from __future__ import annotations

from pathlib import Path

from contracts.topics import ISSUANCE_REQUESTS
from issuer.handlers import IssuerHandlers, IssuerMetrics
from runtime.service import Clock, Service, utc_now
from runtime.settings import Settings

NAME = "issuer"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock,
                      title="ATA carnet issuer (NGA-facing)")
    handlers = IssuerHandlers(IssuerMetrics(service.registry))
    service.consume({ISSUANCE_REQUESTS: handlers.issuance_requested})
    return service
