"""What the access-matrix tests share: a service on its own fresh database with its test broker (a World),
and the parties' dates and carnet numbers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from deploy.local.identity import ensure_wallet_issuer
from runtime.settings import Settings
from tests.service.conftest import ADMIN_TOKEN, FixedClock
from tests.support import databases
from tokens import trustlist

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
Call = Callable[[httpx.AsyncClient, "World"], Awaitable[httpx.Response]]


@dataclass
class World:
    service: Any
    broker: Any
    settings: Settings
    ids: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self, role: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.service.http),
            base_url="http://svc",
            headers=self.headers.get(role, {}),
        )


async def _settings(pg_server: str, tmp: Any, stack: AsyncExitStack) -> Settings:
    url = await databases.fresh_database(pg_server)
    stack.push_async_callback(databases.drop_database, pg_server, url)
    anchor = tmp / "keys" / "trust-anchor.pem"
    trustlist.ensure_anchor(anchor)
    return Settings(
        database_url=url,
        kafka_bootstrap_servers="in-memory:9092",
        data_dir=tmp,
        db_pool_max=4,
        wallet_issuer_public_key_path=ensure_wallet_issuer(tmp),
        trust_anchor_key_path=anchor,
        trust_anchor_public_key_path=trustlist.public_path(anchor),
        gateway_admin_token=ADMIN_TOKEN,
    )


async def service_world(
    stack: AsyncExitStack,
    pg_server: str,
    tmp: Any,
    build: Callable[..., Any],
    clock: FixedClock,
    **settings_update: Any,
) -> World:
    """The service on its own fresh database, with its test broker, for the whole module."""
    from faststream.kafka import TestKafkaBroker

    settings = (await _settings(pg_server, tmp, stack)).model_copy(update=settings_update)
    service = build(settings, clock=clock)
    await service.open_database()
    stack.push_async_callback(service.pool.close)
    broker = await stack.enter_async_context(TestKafkaBroker(service.broker))
    return World(service, broker, settings)
