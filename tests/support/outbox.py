"""A bare service whose schema holds only the runtime's tables (outbox, inbox), and rows queued straight into its
outbox, for the relay's service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from runtime.service import Service


@pytest.fixture
async def service(settings: Any, tmp_path: Path) -> AsyncIterator[Service]:
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    svc = Service("outboxtest", settings, migrations)
    await svc.open_database()
    async with svc.pool.acquire() as conn:
        await conn.execute("TRUNCATE outbox")
    try:
        yield svc
    finally:
        await svc.pool.close()


async def queue(service: Service, rows: list[tuple[str | None, str]]) -> list[int]:
    """(key, body) rows in this order; answers their ids."""
    async with service.pool.acquire() as conn:
        return [r["id"] for r in await conn.fetch(
            "INSERT INTO outbox (message_id, topic, key, headers, payload) "
            "SELECT gen_random_uuid(), 't.events', k, '{}'::jsonb, p "
            "FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS u(k, p, n) ORDER BY n RETURNING id",
            [k.encode() if k is not None else None for k, _ in rows], [b.encode() for _, b in rows])]
