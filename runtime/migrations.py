"""Numbered SQL migrations per service schema, applied under an advisory lock.

Each service applies the runtime's own migrations (outbox, inbox) and then its own, into its
own schema, recorded in `<schema>.schema_migrations` with a checksum so an edited migration
that was already applied is caught instead of silently diverging.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class MigrationError(RuntimeError):
    pass


def discover(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.glob("*.sql") if _NAME.match(p.name))
    numbers = [p.name[:4] for p in files]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"two migrations share a number in {directory}")
    return files


async def migrate(conn: asyncpg.Connection, schema: str, directories: list[tuple[str, Path]]) -> list[str]:
    """Apply what is missing, in order, in one transaction; returns the versions applied."""
    applied_now: list[str] = []
    async with conn.transaction():
        # Several instances of one service start together: one migrates, the others wait.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"ata-migrations:{schema}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET LOCAL search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for prefix, directory in directories:
            for path in discover(directory):
                version = f"{prefix}/{path.stem}"
                sql = path.read_text()
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise MigrationError(f"{version} changed after it was applied to schema {schema}")
                    continue
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                )
                applied_now.append(version)
    if applied_now:
        log.info("schema %s: applied %s", schema, ", ".join(applied_now))
    return applied_now


def service_directories(service_migrations: Path) -> list[tuple[str, Path]]:
    return [("runtime", RUNTIME_MIGRATIONS), ("service", service_migrations)]
