"""Raw SQL for the wallet key directory (migration 0008): one X25519 public key per wallet id."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def register(conn: asyncpg.Connection, party_id: str, public_key: str, now: datetime) -> str:
    """Store or replace the party's key; answers "created", "replaced" or "same"."""
    previous = await conn.fetchval("SELECT public_key FROM wallet_keys WHERE party_id = $1 FOR UPDATE", party_id)
    if previous == public_key:
        return "same"
    await conn.execute(
        "INSERT INTO wallet_keys (party_id, public_key, registered_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (party_id) DO UPDATE SET public_key = EXCLUDED.public_key, registered_at = EXCLUDED.registered_at",
        party_id,
        public_key,
        now,
    )
    return "created" if previous is None else "replaced"


async def key_of(conn: asyncpg.Connection, party_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT party_id, public_key, registered_at FROM wallet_keys WHERE party_id = $1", party_id
    )
