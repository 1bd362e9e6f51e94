"""Issue 10 item 6: PostgreSQL TLS is set in the DSN and reaches the services' own pool factory unchanged.

Against the test server: with `sslmode=require` the pool connects encrypted when the server has TLS and is
refused when it has none (the embedded build has none) -- never a silent fall back to plain text."""

from __future__ import annotations

import asyncpg
import pytest

from runtime.db import create_pool


def with_params(dsn: str, params: str) -> str:
    return dsn + ("&" if "?" in dsn else "?") + params


async def test_sslmode_in_the_dsn_is_honoured_by_the_pool(pg_server):
    plain = await asyncpg.connect(with_params(pg_server, "sslmode=disable"))
    try:
        server_has_tls = await plain.fetchval("SHOW ssl") == "on"
    finally:
        await plain.close()
    required = with_params(pg_server, "sslmode=require")
    if server_has_tls:
        pool = await create_pool(required, "public", min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn:
                assert await conn.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True
        finally:
            await pool.close()
    else:
        with pytest.raises((ConnectionError, OSError, asyncpg.PostgresError)):
            await create_pool(required, "public", min_size=1, max_size=1)
    pool = await create_pool(with_params(pg_server, "sslmode=prefer"), "public", min_size=1, max_size=1)
    await pool.close()
