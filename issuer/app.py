"""Builds the issuer service from settings; nothing runs at import time."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from contracts.topics import ISSUANCE_OUTCOMES, ISSUANCE_REQUESTS, issuance_requests, nga_topic_partitions
from issuer import bulk
from issuer.api import nga_router
from issuer.handlers import IssuerHandlers, IssuerMetrics
from issuer.registry import Registry
from runtime.broker import ensure_topics
from runtime.clock import Clock, utc_now
from runtime.consumer import WithBulk
from runtime.service import Service
from runtime.settings import Settings

NAME = "issuer"


def build(settings: Settings, *, clock: Clock = utc_now) -> Service:
    service = Service(
        NAME, settings, Path(__file__).parent / "migrations", clock=clock, title="ATA carnet issuer (NGA-facing)"
    )
    # Read at build time: a registry that does not parse stops the service before it takes requests.
    registry = Registry.load(settings.nga_registry_path)
    handlers = IssuerHandlers(IssuerMetrics(service.registry), lambda: registry, clock)
    # A batch of requests is decided with a constant number of round trips (issuer/bulk.py).
    # A request that breaks the contract is answered too, when its NGA and request id can be read.
    requests = WithBulk(handlers.request, partial(bulk.handle_requests, handlers), handlers.refused_record)
    # Each registered NGA's own request topic (the topic names the sender: IssuerHandlers.senders_checked), and
    # the deprecated shared one until contracts.topics.SHARED_REQUESTS_END. An explicit list, not a pattern:
    # FastStream's subscriber takes topics or a pattern, not both, and the service's one subscriber (one group
    # join) reads all its topics; the registry is read once at start anyway.
    per_nga = {issuance_requests(nga): requests for nga in sorted(registry.ngas)}
    service.consume({**per_nga, ISSUANCE_REQUESTS: requests, ISSUANCE_OUTCOMES: handlers.outcome})
    service.include(nga_router(handlers, lambda: service.pool, lambda: registry, settings.kafka_max_message_bytes))
    service.state.update(handlers=handlers, registry=registry)

    @service.on_start
    async def nga_topics_exist() -> None:
        # Each registered NGA's request topic (with its dead letters) and response topic, before subscribing.
        if not settings.kafka_create_topics:
            return
        await ensure_topics(
            settings.kafka_bootstrap_servers, nga_topic_partitions(registry.ngas), **service.topic_options()
        )

    return service
