"""Raw SQL over asyncpg for the gateway's own schema."""

from __future__ import annotations

import json
from datetime import date, datetime
from uuid import UUID

import asyncpg

from customs_gateway.domain import Office


async def upsert_key(conn: asyncpg.Connection, kid: str, jwk: dict[str, str], not_before: datetime, not_after: datetime | None) -> None:
    await conn.execute(
        "INSERT INTO signing_keys (kid, jwk, not_before, not_after) VALUES ($1, $2::jsonb, $3, $4)"
        " ON CONFLICT (kid) DO UPDATE SET not_before = EXCLUDED.not_before, not_after = EXCLUDED.not_after",
        kid, json.dumps(jwk), not_before, not_after,
    )


async def keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT kid, jwk, not_before, not_after FROM signing_keys")


async def officer_office(conn: asyncpg.Connection, officer_id: str) -> Office | None:
    row = await conn.fetchrow(
        "SELECT o.office_id, o.country, o.timezone FROM officers f JOIN offices o USING (office_id)"
        " WHERE f.officer_id = $1 AND f.active", officer_id)
    return Office(row["office_id"], row["country"], row["timezone"]) if row else None


async def create_officer(conn: asyncpg.Connection, officer_id: str, office_id: str) -> bool:
    if not await conn.fetchval("SELECT 1 FROM offices WHERE office_id = $1", office_id):
        raise LookupError(f"unknown office {office_id}")
    return bool(await conn.fetchval(
        "INSERT INTO officers (officer_id, office_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true", officer_id, office_id))


async def insert_commit(conn: asyncpg.Connection, *, commit_id: UUID, token_id: UUID, transaction_code: str, carnet_number: str,
                        kind: str, country: str, items: list[int], office_id: str, officer_id: str, decision: str,
                        final_date: date | None, refusal_reason: str | None, decided_at: datetime) -> bool:
    """False when this token was already decided (a replayed QR)."""
    return bool(await conn.fetchval(
        "INSERT INTO commits (commit_id, token_id, transaction_code, carnet_number, kind, country, items, office_id,"
        " officer_id, decision, final_date, refusal_reason, decided_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING RETURNING true",
        commit_id, token_id, transaction_code, carnet_number, kind, country, items, office_id, officer_id, decision,
        final_date, refusal_reason, decided_at,
    ))


async def set_carnet_status(conn: asyncpg.Connection, number: str, status: str, rule: str, successor: str | None,
                            reason: str, changed_at: datetime) -> None:
    """Latest change wins; an older change arriving late does not undo a newer one."""
    await conn.execute(
        "INSERT INTO carnet_status (carnet_number, status, rule, successor, reason, changed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (carnet_number) DO UPDATE SET status = EXCLUDED.status,"
        " rule = EXCLUDED.rule, successor = EXCLUDED.successor, reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at"
        " WHERE carnet_status.changed_at <= EXCLUDED.changed_at",
        number, status, rule, successor, reason, changed_at)


async def blocked_carnets(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT carnet_number, status, rule, successor, reason FROM carnet_status WHERE status <> 'active'")
