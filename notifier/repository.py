"""Raw SQL over asyncpg for the notifier's own schema."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

WAKE_CHANNEL = "notifier_deliveries"


async def add_endpoint(conn: asyncpg.Connection, endpoint_id: UUID, recipient_id: str, url: str, secret: str | None,
                       generated: str) -> asyncpg.Record:
    """Registering a URL again re-activates it; a secret given again replaces the old one (rotation)."""
    return await conn.fetchrow(
        "INSERT INTO endpoints (endpoint_id, recipient_id, channel, url, secret) VALUES ($1, $2, 'webhook', $3, COALESCE($4, $5))"
        " ON CONFLICT (recipient_id, channel, url) DO UPDATE SET active = true, secret = COALESCE($4, endpoints.secret)"
        " RETURNING endpoint_id, secret",
        endpoint_id, recipient_id, url, secret, generated)


async def remove_endpoint(conn: asyncpg.Connection, endpoint_id: UUID) -> bool:
    return (await conn.execute("UPDATE endpoints SET active = false WHERE endpoint_id = $1", endpoint_id)) != "UPDATE 0"


async def active_endpoints(conn: asyncpg.Connection, recipient_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT endpoint_id, recipient_id FROM endpoints WHERE active AND recipient_id = ANY($1::text[])",
                            recipient_ids)


async def add_delivery(conn: asyncpg.Connection, *, delivery_id: UUID, confirmation_id: UUID, endpoint_id: UUID,
                       recipient_id: str, carnet_number: str, event_type: str, body: str, due: datetime,
                       requested_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO deliveries (delivery_id, confirmation_id, endpoint_id, recipient_id, carnet_number, event_type, body,"
        " next_attempt_at, requested_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9) ON CONFLICT DO NOTHING",
        delivery_id, confirmation_id, endpoint_id, recipient_id, carnet_number, event_type, body, due, requested_at)
    await conn.execute("SELECT pg_notify($1, '')", WAKE_CHANNEL)


async def claim_due(conn: asyncpg.Connection, now: datetime, lease: timedelta, limit: int) -> list[asyncpg.Record]:
    """Take due deliveries and push their next attempt past the lease, so a crashed worker's rows come back."""
    return await conn.fetch(
        "WITH due AS (SELECT delivery_id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1"
        "  ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)"
        " UPDATE deliveries d SET attempts = d.attempts + 1, next_attempt_at = $1 + $2::interval"
        " FROM due, endpoints e WHERE d.delivery_id = due.delivery_id AND e.endpoint_id = d.endpoint_id"
        " RETURNING d.*, e.url, e.secret, e.active AS endpoint_active",
        now, lease, limit)


async def log_attempt(conn: asyncpg.Connection, delivery_id: UUID, attempt: int, at: datetime, status_code: int | None,
                      error: str | None, duration_ms: float) -> None:
    await conn.execute(
        "INSERT INTO delivery_attempts (delivery_id, attempt, attempted_at, status_code, error, duration_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        delivery_id, attempt, at, status_code, error, duration_ms)


async def mark_delivered(conn: asyncpg.Connection, delivery_id: UUID, at: datetime) -> None:
    await conn.execute("UPDATE deliveries SET status = 'delivered', delivered_at = $2, last_error = NULL WHERE delivery_id = $1",
                       delivery_id, at)


async def reschedule(conn: asyncpg.Connection, delivery_id: UUID, due: datetime | None, error: str) -> None:
    if due is None:
        await conn.execute("UPDATE deliveries SET status = 'dead', last_error = $2 WHERE delivery_id = $1", delivery_id, error)
    else:
        await conn.execute("UPDATE deliveries SET next_attempt_at = $2, last_error = $3 WHERE delivery_id = $1",
                           delivery_id, due, error)


async def disable_endpoint(conn: asyncpg.Connection, endpoint_id: UUID) -> None:
    await conn.execute("UPDATE endpoints SET active = false WHERE endpoint_id = $1", endpoint_id)


async def deliveries(conn: asyncpg.Connection, carnet_number: str | None, recipient_id: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT d.delivery_id, d.confirmation_id, d.endpoint_id, d.recipient_id, d.carnet_number, d.event_type, d.status,"
        " d.attempts, d.requested_at, d.delivered_at, d.last_error FROM deliveries d"
        " WHERE ($1::text IS NULL OR d.carnet_number = $1) AND ($2::text IS NULL OR d.recipient_id = $2)"
        " ORDER BY d.requested_at LIMIT 1000", carnet_number, recipient_id)
