"""Raw SQL over asyncpg for the core's token signing keys and the trust lists that publish them."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg


async def lock_trust_list(conn: asyncpg.Connection) -> None:
    """Until the transaction ends: one trust list at a time, so sequences and rotations never interleave."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('core-trust-list'))")


async def upsert_signing_key(conn: asyncpg.Connection, kid: str, jwk: dict[str, str], not_before: datetime) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (kid, jwk, not_before) VALUES ($1, $2::jsonb, $3) ON CONFLICT (kid) DO NOTHING",
        kid,
        json.dumps(jwk),
        not_before,
    )


async def key_state(conn: asyncpg.Connection, kid: str) -> str:
    """'unknown', 'signing' or 'retired': what the ledger says of a signing key."""
    row = await conn.fetchrow("SELECT not_after FROM signing_keys WHERE kid = $1", kid)
    return "unknown" if row is None else ("signing" if row["not_after"] is None else "retired")


async def retire_other_keys(conn: asyncpg.Connection, current: str, now: datetime, retire_at: datetime) -> None:
    """Rotation: every other key still signing stops now; its tokens stay valid until they expire."""
    await conn.execute(
        "UPDATE signing_keys SET not_after = $2, retire_at = $3 WHERE kid <> $1 AND not_after IS NULL",
        current,
        now,
        retire_at,
    )


async def trusted_keys(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kid, jwk, not_before, not_after, retire_at FROM signing_keys"
        " WHERE retire_at IS NULL OR retire_at > $1 ORDER BY kid",
        now,
    )


async def record_trust_list(conn: asyncpg.Connection, issued_at: datetime, kids: list[str]) -> int:
    return await conn.fetchval(
        "INSERT INTO trust_lists (sequence, issued_at, kids)"
        " SELECT COALESCE(max(sequence), 0) + 1, $1, $2 FROM trust_lists RETURNING sequence",
        issued_at,
        kids,
    )
