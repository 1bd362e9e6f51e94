"""Raw SQL over asyncpg for offices, officer accounts and their sessions (R18). Account protection (login
throttling, known addresses, administration of accounts) is in customs_gateway/account_repository.py."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from customs_gateway.domain import Office


async def offices(conn: asyncpg.Connection, country: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT office_id, country, region, name, timezone FROM offices"
        " WHERE ($1::text IS NULL OR country = $1) ORDER BY office_id",
        country,
    )


async def office(conn: asyncpg.Connection, office_id: str) -> Office | None:
    row = await conn.fetchrow("SELECT office_id, country, timezone FROM offices WHERE office_id = $1", office_id)
    return Office(row["office_id"], row["country"], row["timezone"]) if row else None


async def create_office(
    conn: asyncpg.Connection, office_id: str, country: str, region: str, name: str, timezone: str
) -> bool:
    return bool(
        await conn.fetchval(
            "INSERT INTO offices (office_id, country, region, name, timezone) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT DO NOTHING RETURNING true",
            office_id,
            country,
            region,
            name,
            timezone,
        )
    )


async def office_ids(conn: asyncpg.Connection) -> set[str]:
    return {r["office_id"] for r in await conn.fetch("SELECT office_id FROM offices")}


async def existing_officers(conn: asyncpg.Connection, officer_ids: list[str]) -> set[str]:
    return {
        r["officer_id"]
        for r in await conn.fetch("SELECT officer_id FROM officers WHERE officer_id = ANY($1::text[])", officer_ids)
    }


async def insert_officers(conn: asyncpg.Connection, rows: list[tuple[str, str, str, str]]) -> None:
    """(officer_id, office_id, password_hash, totp_secret); a duplicate raises UniqueViolationError."""
    await conn.executemany(
        "INSERT INTO officers (officer_id, office_id, password_hash, totp_secret) VALUES ($1, $2, $3, $4)", rows
    )


async def officer_for_login(conn: asyncpg.Connection, officer_id: str) -> asyncpg.Record | None:
    """Locks the account row: concurrent logins spend TOTP steps one at a time."""
    return await conn.fetchrow(
        "SELECT f.officer_id, f.office_id, f.password_hash, f.totp_secret, f.last_totp_step, f.active"
        " FROM officers f WHERE f.officer_id = $1 FOR UPDATE",
        officer_id,
    )


async def login_succeeded(conn: asyncpg.Connection, officer_id: str, totp_step: int) -> None:
    await conn.execute("UPDATE officers SET last_totp_step = $2 WHERE officer_id = $1", officer_id, totp_step)


async def insert_session(
    conn: asyncpg.Connection, token_hash: bytes, officer_id: str, created_at: datetime, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO sessions (token_hash, officer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        token_hash,
        officer_id,
        created_at,
        expires_at,
    )


async def session_officer(
    conn: asyncpg.Connection, token_hash: bytes, now: datetime
) -> tuple[str, Office, datetime] | None:
    """(officer_id, home office, session expiry) of a live session of an active officer."""
    row = await conn.fetchrow(
        "SELECT f.officer_id, o.office_id, o.country, o.timezone, s.expires_at FROM sessions s"
        " JOIN officers f USING (officer_id) JOIN offices o ON o.office_id = f.office_id"
        " WHERE s.token_hash = $1 AND s.expires_at > $2 AND f.active",
        token_hash,
        now,
    )
    return (
        (row["officer_id"], Office(row["office_id"], row["country"], row["timezone"]), row["expires_at"])
        if row
        else None
    )


async def delete_session(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash)
