"""Raw SQL over asyncpg for cancellations customs asks of the core, and the core's decisions on them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg


async def committed_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT commit_id, carnet_number, kind, country FROM commits"
        " WHERE transaction_code = $1 AND decision = 'committed'",
        code,
    )


async def insert_cancellation(
    conn: asyncpg.Connection,
    *,
    cancellation_id: UUID,
    commit_id: UUID,
    transaction_code: str,
    carnet_number: str,
    office_id: str,
    officer_id: str,
    reason: str,
    posted_at: datetime,
) -> str | None:
    """None when recorded; else the status of the live cancellation of that transaction (pending or cancelled)."""
    created = await conn.fetchval(
        "INSERT INTO cancellations (cancellation_id, commit_id, transaction_code, carnet_number, office_id, officer_id,"
        " reason, posted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING true",
        cancellation_id,
        commit_id,
        transaction_code,
        carnet_number,
        office_id,
        officer_id,
        reason,
        posted_at,
    )
    if created:
        return None
    return (
        await conn.fetchval(
            "SELECT status FROM cancellations WHERE transaction_code = $1 AND status <> 'refused'", transaction_code
        )
        or "pending"
    )


async def decide_cancellation(
    conn: asyncpg.Connection, cancellation_id: UUID, status: str, reasons: list[dict[str, Any]], at: datetime
) -> bool:
    """The core's outcome; False for an unknown id (asked at another gateway) or one already decided."""
    return bool(
        await conn.fetchval(
            "UPDATE cancellations SET status = $2, reasons = $3::jsonb, decided_at = $4"
            " WHERE cancellation_id = $1 AND status = 'pending' RETURNING true",
            cancellation_id,
            status,
            json.dumps(reasons),
            at,
        )
    )


async def cancellation(conn: asyncpg.Connection, cancellation_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT c.*, o.country FROM cancellations c JOIN offices o USING (office_id) WHERE cancellation_id = $1",
        cancellation_id,
    )
