"""One template database with every service's migrations; a fresh copy per test (as PgQueuer does)."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from runtime.migrations import migrate, service_directories

#: service package -> its schema
SCHEMAS = {
    "issuer": "issuer",
    "core": "core",
    "customs_gateway": "customs_gateway",
    "claims_worker": "claims",
    "notifier": "notifier",
}
TEMPLATE = "ata_template"


def with_database(server_dsn: str, name: str) -> str:
    return urlunsplit(urlsplit(server_dsn)._replace(path=f"/{name}"))


async def create_template(server_dsn: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
        await admin.execute(f'CREATE DATABASE "{TEMPLATE}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(with_database(server_dsn, TEMPLATE))
    try:
        for package, schema in SCHEMAS.items():
            migrations = Path(importlib.import_module(package).__file__).parent / "migrations"  # type: ignore[arg-type]
            await migrate(conn, schema, service_directories(migrations))
    finally:
        await conn.close()


async def fresh_database(server_dsn: str) -> str:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
    finally:
        await admin.close()
    return with_database(server_dsn, name)


async def drop_database(server_dsn: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def snapshot(conn: asyncpg.Connection, schema: str) -> dict[str, list[tuple]]:
    """Every row of every table of a schema, for "a redelivery changes nothing" checks."""
    tables = await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1", schema
    )
    out = {}
    for t in tables:
        rows = await conn.fetch(f'SELECT * FROM "{schema}"."{t["table_name"]}"')
        out[t["table_name"]] = sorted(tuple(str(v) for v in r.values()) for r in rows)
    return out
