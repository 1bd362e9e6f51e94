"""A bare service whose schema holds only the runtime's tables (outbox, inbox), and rows queued straight into its
outbox, for the relay's service tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from runtime.service import Service


@asynccontextmanager
async def bare_service(
    name: str, settings: Any, tmp_path: Path, schema_sql: str = "", emptied: str = "outbox"
) -> AsyncIterator[Service]:
    """A service named `name` with the runtime's tables, plus `schema_sql` as its one migration, its pool open and
    the `emptied` tables truncated; closed after."""
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    if schema_sql:
        (migrations / "0001_applied.sql").write_text(schema_sql)
    svc = Service(name, settings, migrations)
    await svc.open_database()
    async with svc.pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {emptied}")
    try:
        yield svc
    finally:
        await svc.pool.close()


@pytest.fixture
async def service(settings: Any, tmp_path: Path) -> AsyncIterator[Service]:
    async with bare_service("outboxtest", settings, tmp_path) as svc:
        yield svc


async def queue(service: Service, rows: list[tuple[str | None, str]]) -> list[int]:
    """(key, body) rows in this order; answers their ids."""
    async with service.pool.acquire() as conn:
        return [
            r["id"]
            for r in await conn.fetch(
                "INSERT INTO outbox (message_id, topic, key, headers, payload) "
                "SELECT gen_random_uuid(), 't.events', k, '{}'::jsonb, p "
                "FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS u(k, p, n) ORDER BY n RETURNING id",
                [k.encode() if k is not None else None for k, _ in rows],
                [b.encode() for _, b in rows],
            )
        ]
