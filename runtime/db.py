"""asyncpg pools: one per service, pinned to the service's own schema."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without the default reset query.

    asyncpg's default runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL`
    on every release: one round trip per request or batch, 14 per crossing across the services
    (bench/README.md). Nothing here leaves session state behind: advisory locks are
    transaction-scoped (pg_advisory_xact_lock), settings are SET LOCAL, no cursor outlives its
    transaction, and listeners are removed before release. asyncpg still rolls back an open
    transaction and drops client-side listeners before calling this.
    """


async def create_pool(
    dsn: str,
    schema: str,
    *,
    min_size: int = 1,
    max_size: int = 8,
    init: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
) -> asyncpg.Pool:
    # search_path makes each service's unqualified SQL hit its own schema only.
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": schema, "application_name": schema},
        reset=_keep_session,
        init=init,
    )


async def ensure_database(dsn: str) -> None:
    """Create the database named in the DSN if it does not exist (embedded and test servers)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    name = parts.path.lstrip("/") or "postgres"
    admin_dsn = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()
