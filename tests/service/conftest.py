"""Service tests: the real handlers and a real PostgreSQL, the broker replaced by TestKafkaBroker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from contracts.envelope import parse_type
from runtime.service import Service
from runtime.settings import Settings

#: The gateway's administration token in service tests (officer accounts, R18).
ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class FixedClock:
    """An injected clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 22, 9, 30, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    from deploy.local.identity import ensure_wallet_issuer
    from tokens import trustlist

    # The core refuses to serve holders without the wallet identity provider's key, and the gateway
    # to verify anything without the trust anchor that signs the key list.
    anchor = tmp_path / "keys" / "trust-anchor.pem"
    trustlist.ensure_anchor(anchor)
    return Settings(
        database_url=database_url,
        kafka_bootstrap_servers="in-memory:9092",
        data_dir=tmp_path,
        db_pool_max=4,
        wallet_issuer_public_key_path=ensure_wallet_issuer(tmp_path),
        trust_anchor_key_path=anchor,
        trust_anchor_public_key_path=trustlist.public_path(anchor),
        gateway_admin_token=ADMIN_TOKEN,
    )


@pytest.fixture
def running() -> Callable[[Service], Any]:
    """`async with running(service) as broker:` opens the database and a TestKafkaBroker around the service."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _run(service: Service) -> AsyncIterator[Any]:
        await service.open_database()
        try:
            async with TestKafkaBroker(service.broker) as broker:
                yield broker
        finally:
            await service.pool.close()

    return _run


def dead_letters(service: Service, topic: str) -> list[tuple[bytes, dict[str, str]]]:
    """Collect what reaches a dead-letter topic; call before the test broker starts."""
    seen: list[tuple[bytes, dict[str, str]]] = []

    async def raw(message: Any) -> bytes:
        return message.body

    @service.broker.subscriber(topic, group_id="test-dlq", decoder=raw)
    async def collect(body: bytes, message: KafkaMessage) -> None:
        seen.append((message.body, dict(message.headers)))

    return seen


async def outbox(service: Service) -> list[dict[str, Any]]:
    """Messages the service queued, oldest first, as (topic, key, type, payload dict)."""
    import json

    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT topic, key, headers, payload FROM outbox ORDER BY id")
    return [
        {
            "topic": r["topic"],
            "key": bytes(r["key"]).decode() if r["key"] else None,
            "type": parse_type(json.loads(r["headers"])["ce_type"])[0],
            "payload": json.loads(bytes(r["payload"])),
        }
        for r in rows
    ]


@asynccontextmanager
async def with_database(service: Service) -> AsyncIterator[Service]:
    """`async with with_database(service):` its pool and migrations, no broker: for HTTP-only tests."""
    await service.open_database()
    try:
        yield service
    finally:
        await service.pool.close()
