"""Raw SQL over asyncpg for the issuer's own schema."""

from __future__ import annotations

import asyncpg

from contracts.messages import CarnetIssued, Payload


async def find_answer(conn: asyncpg.Connection, nga: str, request_id: str) -> tuple[str, str] | None:
    row = await conn.fetchrow("SELECT response_type, response FROM requests WHERE nga = $1 AND request_id = $2", nga, request_id)
    return (row["response_type"], row["response"]) if row else None


async def next_sequence(conn: asyncpg.Connection, country: str, year: int) -> int:
    return await conn.fetchval(
        "INSERT INTO carnet_sequences (country, year, last_value) VALUES ($1, $2, 1) "
        "ON CONFLICT (country, year) DO UPDATE SET last_value = carnet_sequences.last_value + 1 "
        "RETURNING last_value",
        country, year,
    )


async def record_answer(conn: asyncpg.Connection, nga: str, request_id: str, answer: Payload, carnet_number: str | None) -> None:
    await conn.execute(
        "INSERT INTO requests (nga, request_id, outcome, carnet_number, response_type, response) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        nga, request_id, "issued" if carnet_number else "rejected", carnet_number, answer.TYPE, answer.model_dump_json(),
    )


async def insert_carnet(conn: asyncpg.Connection, c: CarnetIssued) -> None:
    await conn.execute(
        "INSERT INTO carnets (carnet_number, nga, issuing_association, request_id, holder_id, issue_date, expiry_date,"
        " general_list_digest, item_count) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        c.carnet_number, c.nga, c.issuing_association, c.request_id, c.holder_id, c.issue_date, c.expiry_date,
        c.general_list_digest, len(c.items),
    )

