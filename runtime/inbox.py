"""The inbox: dedupe by message id in the same transaction as the effect."""

from __future__ import annotations

from uuid import UUID

import asyncpg


async def claim(conn: asyncpg.Connection, consumer: str, message_id: UUID) -> bool:
    """True if this message is new for this consumer; False if it was already applied."""
    row = await conn.fetchval(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
        consumer,
        message_id,
    )
    return row is not None
