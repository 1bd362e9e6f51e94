"""Raw SQL over asyncpg for the trust list the gateway holds: the core's signing keys and the list's sequence."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg


async def held_sequence(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT sequence FROM trust_list_state") or 0


async def replace_trust_list(
    conn: asyncpg.Connection,
    sequence: int,
    issued_at: datetime,
    anchor_kid: str,
    keys: list[tuple[str, dict[str, str], datetime, datetime | None, datetime | None]],
) -> None:
    """Hold exactly the listed keys: one left out of the list is no longer trusted."""
    await conn.execute("DELETE FROM signing_keys WHERE kid <> ALL($1::text[])", [k[0] for k in keys])
    await conn.executemany(
        "INSERT INTO signing_keys (kid, jwk, not_before, not_after, retire_at) VALUES ($1, $2::jsonb, $3, $4, $5)"
        " ON CONFLICT (kid) DO UPDATE SET jwk = EXCLUDED.jwk, not_before = EXCLUDED.not_before,"
        " not_after = EXCLUDED.not_after, retire_at = EXCLUDED.retire_at",
        [(kid, json.dumps(jwk), nb, na, ra) for kid, jwk, nb, na, ra in keys],
    )
    await conn.execute(
        "INSERT INTO trust_list_state (singleton, sequence, issued_at, anchor_kid) VALUES (true, $1, $2, $3)"
        " ON CONFLICT (singleton) DO UPDATE SET sequence = EXCLUDED.sequence, issued_at = EXCLUDED.issued_at,"
        " anchor_kid = EXCLUDED.anchor_kid, received_at = now()",
        sequence,
        issued_at,
        anchor_kid,
    )


async def keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT kid, jwk, not_before, not_after FROM signing_keys")
