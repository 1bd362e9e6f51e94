"""Raw SQL over asyncpg for the issuer's own schema."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from contracts.messages import CarnetIssued, Payload


@dataclass(frozen=True)
class Answer:
    nga: str
    request_id: str
    outcome: str
    carnet_number: str | None
    response_type: str
    response: str


async def find_answer(conn: asyncpg.Connection, nga: str, request_id: str) -> Answer | None:
    row = await conn.fetchrow(
        "SELECT nga, request_id, outcome, carnet_number, response_type, response FROM requests"
        " WHERE nga = $1 AND request_id = $2",
        nga,
        request_id,
    )
    return Answer(**dict(row)) if row else None


async def answer_for_carnet(conn: asyncpg.Connection, carnet_number: str) -> Answer | None:
    """The request a duplicate or replacement number was allocated for, locked until the decision commits."""
    row = await conn.fetchrow(
        "SELECT nga, request_id, outcome, carnet_number, response_type, response FROM requests"
        " WHERE carnet_number = $1 FOR UPDATE",
        carnet_number,
    )
    return Answer(**dict(row)) if row else None


async def next_sequence(conn: asyncpg.Connection, country: str, year: int) -> int:
    # One row per country and year, incremented under its row lock: concurrent issuers (several
    # instances) queue on it and each gets the next value; a rolled-back transaction gives its value back.
    return await conn.fetchval(
        "INSERT INTO carnet_sequences (country, year, last_value) VALUES ($1, $2, 1) "
        "ON CONFLICT (country, year) DO UPDATE SET last_value = carnet_sequences.last_value + 1 "
        "RETURNING last_value",
        country,
        year,
    )


async def record_answer(
    conn: asyncpg.Connection,
    nga: str,
    request_id: str,
    answer: Payload,
    carnet_number: str | None,
    outcome: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO requests (nga, request_id, outcome, carnet_number, response_type, response) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        nga,
        request_id,
        outcome or ("issued" if carnet_number else "rejected"),
        carnet_number,
        answer.TYPE,
        answer.model_dump_json(),
    )


async def record_answer_once(conn: asyncpg.Connection, nga: str, request_id: str, answer: Payload) -> bool:
    """Record a rejection unless the request id has an answer already; True when this one is recorded."""
    return (
        await conn.fetchval(
            "INSERT INTO requests (nga, request_id, outcome, carnet_number, response_type, response)"
            " VALUES ($1, $2, 'rejected', NULL, $3, $4::jsonb) ON CONFLICT (nga, request_id) DO NOTHING RETURNING true",
            nga,
            request_id,
            answer.TYPE,
            answer.model_dump_json(),
        )
        is not None
    )


async def decide(conn: asyncpg.Connection, nga: str, request_id: str, outcome: str, answer: Payload) -> None:
    await conn.execute(
        "UPDATE requests SET outcome = $3, response_type = $4, response = $5::jsonb WHERE nga = $1 AND request_id = $2",
        nga,
        request_id,
        outcome,
        answer.TYPE,
        answer.model_dump_json(),
    )


async def insert_carnet(
    conn: asyncpg.Connection,
    c: CarnetIssued,
    *,
    kind: str = "issued",
    original: str | None = None,
    status: str = "issued",
) -> None:
    await conn.execute(
        "INSERT INTO carnets (carnet_number, nga, issuing_association, request_id, holder_id, issue_date, expiry_date,"
        " general_list_digest, item_count, kind, original_number, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        c.carnet_number,
        c.nga,
        c.issuing_association,
        c.request_id,
        c.holder_id,
        c.issue_date,
        c.expiry_date,
        c.general_list_digest,
        len(c.items),
        kind,
        original,
        status,
    )


async def insert_duplicate(conn: asyncpg.Connection, original: str, number: str, request_id: str) -> None:
    """R5: the duplicate keeps the original's holder, validity and general list."""
    await conn.execute(
        "INSERT INTO carnets (carnet_number, nga, issuing_association, request_id, holder_id, issue_date, expiry_date,"
        " general_list_digest, item_count, kind, original_number, status)"
        " SELECT $2, nga, issuing_association, $3, holder_id, issue_date, expiry_date, general_list_digest, item_count,"
        " 'duplicate', carnet_number, 'pending' FROM carnets WHERE carnet_number = $1",
        original,
        number,
        request_id,
    )


async def carnet_origin(conn: asyncpg.Connection, number: str) -> tuple[str, str] | None:
    """(NGA, status) of a carnet this issuer allocated, or None."""
    row = await conn.fetchrow("SELECT nga, status FROM carnets WHERE carnet_number = $1", number)
    return (row["nga"], row["status"]) if row else None


async def set_carnet_status(conn: asyncpg.Connection, number: str, status: str) -> None:
    await conn.execute("UPDATE carnets SET status = $2 WHERE carnet_number = $1", number, status)


# --- many at once (issuer/bulk.py): one round trip each, whatever the batch size ---------------------


async def find_answers(conn: asyncpg.Connection, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Answer]:
    """The stored answers among (nga, request_id) pairs."""
    rows = await conn.fetch(
        "SELECT r.nga, r.request_id, r.outcome, r.carnet_number, r.response_type, r.response"
        " FROM requests r JOIN unnest($1::text[], $2::text[]) AS k(nga, request_id)"
        " USING (nga, request_id)",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {(r["nga"], r["request_id"]): Answer(**dict(r)) for r in rows}


async def reserve_sequences(conn: asyncpg.Connection, country: str, year: int, count: int) -> int:
    """The first of `count` consecutive sequence values, taken under the row lock as `next_sequence` does."""
    last = await conn.fetchval(
        "INSERT INTO carnet_sequences (country, year, last_value) VALUES ($1, $2, $3) "
        "ON CONFLICT (country, year) DO UPDATE SET last_value = carnet_sequences.last_value + $3 "
        "RETURNING last_value",
        country,
        year,
        count,
    )
    return last - count + 1


async def insert_carnets(conn: asyncpg.Connection, carnets: list[CarnetIssued]) -> None:
    """Issued carnets (kind 'issued', status 'issued'), as `insert_carnet` writes one."""
    if not carnets:
        return
    await conn.execute(
        "INSERT INTO carnets (carnet_number, nga, issuing_association, request_id, holder_id, issue_date, expiry_date,"
        " general_list_digest, item_count)"
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::date[],"
        " $8::text[], $9::integer[])",
        *map(
            list,
            zip(
                *(
                    (
                        c.carnet_number,
                        c.nga,
                        c.issuing_association,
                        c.request_id,
                        c.holder_id,
                        c.issue_date,
                        c.expiry_date,
                        c.general_list_digest,
                        len(c.items),
                    )
                    for c in carnets
                ),
                strict=True,
            ),
        ),
    )


async def record_answers(conn: asyncpg.Connection, answers: list[tuple[str, str, str, str | None, str, str]]) -> None:
    """(nga, request_id, outcome, carnet_number, answer type, answer JSON) rows, as `record_answer` writes one.

    The answer comes serialised: the same JSON is the body of its outbox row (issuer/bulk.py)."""
    if not answers:
        return
    await conn.execute(
        "INSERT INTO requests (nga, request_id, outcome, carnet_number, response_type, response)"
        " SELECT n, r, o, c, t, a::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])"
        " AS u(n, r, o, c, t, a)",
        *map(list, zip(*answers, strict=True)),
    )
