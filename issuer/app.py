"""Builds the issuer service from settings; nothing runs at import time."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from contracts.topics import ISSUANCE_OUTCOMES, ISSUANCE_REQUESTS, issuance_responses
from issuer import bulk
from issuer.api import nga_router
from issuer.handlers import IssuerHandlers, IssuerMetrics
from issuer.registry import Registry
from runtime.broker import ensure_topics
from runtime.consumer import WithBulk
from runtime.service import Clock, Service, utc_now
from runtime.settings import Settings

NAME = "issuer"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(NAME, settings, Path(__file__).parent / "migrations", clock=clock,
                      title="ATA carnet issuer (NGA-facing)")
    # Read at build time: a registry that does not parse stops the service before it takes requests.
    registry = Registry.load(settings.nga_registry_path)
    handlers = IssuerHandlers(IssuerMetrics(service.registry), lambda: registry, clock)
    # A batch of requests is decided with a constant number of round trips (issuer/bulk.py).
    requests = WithBulk(handlers.request, partial(bulk.handle_requests, handlers))
    service.consume({ISSUANCE_REQUESTS: requests, ISSUANCE_OUTCOMES: handlers.outcome})
    service.include(nga_router(handlers, lambda: service.pool, lambda: registry))
    service.state.update(handlers=handlers, registry=registry)

    @service.on_start
    async def response_topics() -> None:
        # One response topic per registered NGA (contracts.topics.issuance_responses).
        await ensure_topics(settings.kafka_bootstrap_servers,
                            {issuance_responses(n).name: issuance_responses(n).partitions for n in registry.ngas},
                            **service.topic_options())

    return service
