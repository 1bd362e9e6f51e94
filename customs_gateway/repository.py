"""Raw SQL over asyncpg for the gateway's own schema."""

from __future__ import annotations

import json
from datetime import date, datetime
from uuid import UUID

import asyncpg

from customs_gateway.domain import Office


async def held_sequence(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT sequence FROM trust_list_state") or 0


async def replace_trust_list(conn: asyncpg.Connection, sequence: int, issued_at: datetime, anchor_kid: str,
                             keys: list[tuple[str, dict[str, str], datetime, datetime | None, datetime | None]]) -> None:
    """Hold exactly the listed keys: one left out of the list is no longer trusted."""
    await conn.execute("DELETE FROM signing_keys WHERE kid <> ALL($1::text[])", [k[0] for k in keys])
    await conn.executemany(
        "INSERT INTO signing_keys (kid, jwk, not_before, not_after, retire_at) VALUES ($1, $2::jsonb, $3, $4, $5)"
        " ON CONFLICT (kid) DO UPDATE SET jwk = EXCLUDED.jwk, not_before = EXCLUDED.not_before,"
        " not_after = EXCLUDED.not_after, retire_at = EXCLUDED.retire_at",
        [(kid, json.dumps(jwk), nb, na, ra) for kid, jwk, nb, na, ra in keys])
    await conn.execute(
        "INSERT INTO trust_list_state (singleton, sequence, issued_at, anchor_kid) VALUES (true, $1, $2, $3)"
        " ON CONFLICT (singleton) DO UPDATE SET sequence = EXCLUDED.sequence, issued_at = EXCLUDED.issued_at,"
        " anchor_kid = EXCLUDED.anchor_kid, received_at = now()", sequence, issued_at, anchor_kid)


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
