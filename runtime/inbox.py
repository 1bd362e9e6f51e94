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


async def claim_many(conn: asyncpg.Connection, consumer: str, message_ids: list[UUID]) -> set[UUID]:
    """The ids of `message_ids` that are new for this consumer (now claimed), in one statement."""
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, message_id) SELECT $1, unnest($2::uuid[]) "
        "ON CONFLICT DO NOTHING RETURNING message_id",
        consumer,
        list(dict.fromkeys(message_ids)),
    )
    return {r["message_id"] for r in rows}
