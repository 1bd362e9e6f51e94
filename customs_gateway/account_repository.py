"""SQL of officer account protection (R18): login throttling, known addresses, the typed-code lookup window,
administration of accounts and sessions, purges. Every instance of the gateway reads the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from customs_gateway.throttle import FORGET_AFTER, Key, wait_after


async def serialize_login(conn: asyncpg.Connection, officer_id: str, address: str) -> None:
    """Until the transaction ends, logins for this officer or from this address wait for this one, at every
    instance: a burst of parallel guesses is counted one by one, each seeing the waits the previous set.
    Always the officer's lock first, then the address's: no two logins wait on each other crosswise."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ata.login.officer.' || $1, 0))", officer_id)
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ata.login.address.' || $1, 0))", address)


async def blocked_until(conn: asyncpg.Connection, keys: Sequence[Key], now: datetime) -> tuple[Key, datetime] | None:
    """The key among `keys` that waits longest now, and until when; None when none waits."""
    rows = await conn.fetch(
        "SELECT officer_id, address, blocked_until FROM login_failures"
        " WHERE (officer_id, address) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND blocked_until > $3"
        " ORDER BY blocked_until DESC",
        [k.officer_id for k in keys],
        [k.address for k in keys],
        now,
    )
    by_id = {(k.officer_id, k.address): k for k in keys}
    return (by_id[(rows[0]["officer_id"], rows[0]["address"])], rows[0]["blocked_until"]) if rows else None


async def count_failure(conn: asyncpg.Connection, keys: Sequence[Key], now: datetime) -> list[tuple[Key, datetime]]:
    """One more failure on each key (a count older than FORGET_AFTER starts over); answers the keys that now
    wait, and until when. Two statements, one row lock each: concurrent failures at any instance all count."""
    rows = await conn.fetch(
        "INSERT INTO login_failures AS f (officer_id, address, failures, last_failure_at)"
        " SELECT o, a, 1, $3 FROM unnest($1::text[], $2::text[]) AS t(o, a)"
        " ON CONFLICT (officer_id, address) DO UPDATE SET"
        "  failures = CASE WHEN f.last_failure_at <= $3 - $4::interval THEN 1 ELSE f.failures + 1 END,"
        "  blocked_until = CASE WHEN f.last_failure_at <= $3 - $4::interval THEN NULL ELSE f.blocked_until END,"
        "  last_failure_at = $3"
        " RETURNING officer_id, address, failures",
        [k.officer_id for k in keys],
        [k.address for k in keys],
        now,
        FORGET_AFTER,
    )
    by_id = {(k.officer_id, k.address): k for k in keys}
    waits: list[tuple[Key, datetime]] = []
    for row in rows:
        key = by_id[(row["officer_id"], row["address"])]
        wait = wait_after(row["failures"], key.free)
        if wait is not None:
            waits.append((key, now + wait))
    if waits:
        await conn.execute(
            "UPDATE login_failures f SET blocked_until = t.u FROM unnest($1::text[], $2::text[], $3::timestamptz[])"
            " AS t(o, a, u) WHERE f.officer_id = t.o AND f.address = t.a",
            [k.officer_id for k, _ in waits],
            [k.address for k, _ in waits],
            [u for _, u in waits],
        )
    return waits


async def login_succeeded(conn: asyncpg.Connection, officer_id: str, address: str, now: datetime) -> None:
    """The pair starts over and the address becomes one the officer logs in from."""
    await conn.execute("DELETE FROM login_failures WHERE officer_id = $1 AND address = $2", officer_id, address)
    await conn.execute(
        "INSERT INTO officer_addresses (officer_id, address, last_success_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (officer_id, address) DO UPDATE SET last_success_at = excluded.last_success_at",
        officer_id,
        address,
        now,
    )


async def known_address(conn: asyncpg.Connection, officer_id: str, address: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM officer_addresses WHERE officer_id = $1 AND address = $2)", officer_id, address
    )


async def take_lookup(
    conn: asyncpg.Connection, officer_id: str, now: datetime, limit: int, window: timedelta
) -> float | None:
    """A sliding window of `limit` typed-code lookups per `window` per officer, shared by every instance:
    records one lookup and answers None, or answers the seconds to wait (recording nothing). The officer's
    advisory lock makes the count and the insert one step at every instance."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('ata.code_lookup.' || $1, 0))", officer_id)
        recent = await conn.fetch(
            "SELECT at FROM code_lookups WHERE officer_id = $1 AND at > $2 ORDER BY at LIMIT $3",
            officer_id,
            now - window,
            limit,
        )
        if len(recent) >= limit:
            return max((window - (now - recent[0]["at"])).total_seconds(), 1.0)
        await conn.execute("INSERT INTO code_lookups (officer_id, at) VALUES ($1, $2)", officer_id, now)
        return None


# --- administration -------------------------------------------------------------------------------


async def lock_officer(conn: asyncpg.Connection, officer_id: str) -> str | None:
    """Locks the officer's row for an administrative change (a login waits); their office, or None."""
    return await conn.fetchval("SELECT office_id FROM officers WHERE officer_id = $1 FOR UPDATE", officer_id)


async def set_active(conn: asyncpg.Connection, officer_id: str, active: bool) -> str | None:
    """The officer's office, or None for an unknown officer."""
    return await conn.fetchval(
        "UPDATE officers SET active = $2 WHERE officer_id = $1 RETURNING office_id", officer_id, active
    )


async def clear_failures(conn: asyncpg.Connection, officer_id: str) -> int:
    """Unlock: the account's own count and every pair's; addresses keep theirs (they may be guessing elsewhere)."""
    return int((await conn.execute("DELETE FROM login_failures WHERE officer_id = $1", officer_id)).split()[-1])


async def reset_authenticator(conn: asyncpg.Connection, officer_id: str, secret: str) -> str | None:
    return await conn.fetchval(
        "UPDATE officers SET totp_secret = $2, last_totp_step = NULL WHERE officer_id = $1 RETURNING office_id",
        officer_id,
        secret,
    )


async def delete_sessions(conn: asyncpg.Connection, officer_id: str) -> int:
    return int((await conn.execute("DELETE FROM sessions WHERE officer_id = $1", officer_id)).split()[-1])


async def purge(conn: asyncpg.Connection, now: datetime, batch: int) -> dict[str, int]:
    """Bounded deletes of what no longer counts: expired sessions, forgotten failures, lookups out of any
    window, addresses not used for 90 days. At most `batch` rows of each a call."""
    statements = {
        "sessions": ("sessions", "token_hash", "expires_at <= $1", now),
        "login_failures": (
            "login_failures",
            "(officer_id, address)",
            "last_failure_at <= $1 AND (blocked_until IS NULL OR blocked_until <= $1)",
            now - FORGET_AFTER,
        ),
        "code_lookups": ("code_lookups", "ctid", "at <= $1", now - timedelta(hours=1)),
        "officer_addresses": (
            "officer_addresses",
            "(officer_id, address)",
            "last_success_at <= $1",
            now - timedelta(days=90),
        ),
    }
    purged: dict[str, int] = {}
    for name, (table, key, where, bound) in statements.items():
        status = await conn.execute(
            f"DELETE FROM {table} WHERE {key} IN (SELECT {key.strip('()')} FROM {table} WHERE {where} LIMIT $2)",
            bound,
            batch,
        )
        purged[name] = int(status.split()[-1])
    return purged
