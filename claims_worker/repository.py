"""The claims worker's SQL: claims, seizures, duties, recipients and the deadlines table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from claims_worker.claims import Amounts, Claim
from claims_worker.domain import CHASED
from contracts.claims import ClaimState

# --- claims ----------------------------------------------------------------------------------

_DATES = ("notice_date", "evidence_deadline", "memo_date", "payment_deadline", "payment_date", "refund_deadline")
_MONEY = ("memo_amounts", "paid", "refund_requested")


def _amounts(raw: str | dict[str, str]) -> Amounts:
    data = json.loads(raw) if isinstance(raw, str) else raw
    return {c: Decimal(a) for c, a in data.items()}


def _claim(row: asyncpg.Record) -> Claim:
    return Claim(
        row["claim_id"],
        row["carnet_number"],
        row["country"],
        tuple(row["items"]),
        row["office_timezone"],
        row["carnet_expiry"],
        row["reexport_deadline"],
        ClaimState(row["state"]),
        **{k: row[k] for k in _DATES},
        **{k: _amounts(row[k]) for k in _MONEY},
    )


async def claim_for_update(conn: asyncpg.Connection, claim_id: UUID) -> Claim | None:
    row = await conn.fetchrow("SELECT * FROM claims WHERE claim_id = $1 FOR UPDATE", claim_id)
    return _claim(row) if row else None


async def claims_awaiting_memo(conn: asyncpg.Connection, carnet_number: str) -> list[Claim]:
    # R22 after R21 (no evidence in time) or R24 (a discrepancy claimed in time): both wait for the duties.
    rows = await conn.fetch(
        "SELECT * FROM claims WHERE carnet_number = $1 AND state = ANY($2::text[]) ORDER BY opened_at FOR UPDATE",
        carnet_number,
        [ClaimState.EVIDENCE_EXPIRED.value, ClaimState.DISCREPANCY.value],
    )
    return [_claim(r) for r in rows]


async def save_claim(conn: asyncpg.Connection, c: Claim, now: datetime) -> None:
    money = [json.dumps({k: str(v) for k, v in getattr(c, f).items()}) for f in _MONEY]
    await conn.execute(
        "INSERT INTO claims (claim_id, carnet_number, country, items, office_timezone, carnet_expiry, reexport_deadline,"
        " state, notice_date, evidence_deadline, memo_date, payment_deadline, payment_date, refund_deadline,"
        " memo_amounts, paid, refund_requested, opened_at, updated_at)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15::jsonb,$16::jsonb,$17::jsonb,$18,$18)"
        " ON CONFLICT (claim_id) DO UPDATE SET state = EXCLUDED.state, notice_date = EXCLUDED.notice_date,"
        " evidence_deadline = EXCLUDED.evidence_deadline, memo_date = EXCLUDED.memo_date,"
        " payment_deadline = EXCLUDED.payment_deadline, payment_date = EXCLUDED.payment_date,"
        " refund_deadline = EXCLUDED.refund_deadline, memo_amounts = EXCLUDED.memo_amounts, paid = EXCLUDED.paid,"
        " refund_requested = EXCLUDED.refund_requested, updated_at = EXCLUDED.updated_at",
        c.claim_id,
        c.carnet_number,
        c.country,
        list(c.items),
        c.office_timezone,
        c.carnet_expiry,
        c.reexport_deadline,
        c.state.value,
        *(getattr(c, k) for k in _DATES),
        *money,
        now,
    )


async def claim_counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {r["state"]: r["n"] for r in await conn.fetch("SELECT state, count(*) AS n FROM claims GROUP BY state")}


# --- what customs and the core told us ---------------------------------------------------------


async def items_still_chased(conn: asyncpg.Connection, carnet_number: str, country: str, items: list[int]) -> list[int]:
    rows = await conn.fetch(
        "SELECT item_number FROM watched_items WHERE carnet_number = $1 AND country = $2 AND item_number = ANY($3::int[])"
        " AND location = ANY($4::text[]) ORDER BY item_number",
        carnet_number,
        country,
        items,
        list(CHASED),
    )
    return [r["item_number"] for r in rows]


async def add_seizure(
    conn: asyncpg.Connection,
    seizure_id: str,
    carnet_number: str,
    country: str,
    items: list[int],
    personal_lawsuit: bool,
    office_timezone: str,
    start: date,
) -> None:
    await conn.execute(
        "INSERT INTO seizures (seizure_id, carnet_number, country, items, personal_lawsuit, office_timezone, start_date)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (seizure_id) DO NOTHING",
        seizure_id,
        carnet_number,
        country,
        items,
        personal_lawsuit,
        office_timezone,
        start,
    )


async def seizure(conn: asyncpg.Connection, seizure_id: str, carnet_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM seizures WHERE seizure_id = $1 AND carnet_number = $2 FOR UPDATE", seizure_id, carnet_number
    )


async def end_seizure(conn: asyncpg.Connection, seizure_id: str, end: date) -> None:
    await conn.execute("UPDATE seizures SET end_date = $2 WHERE seizure_id = $1", seizure_id, end)


async def set_duties(
    conn: asyncpg.Connection, carnet_number: str, rows: Iterable[tuple[int, str, Decimal, Decimal]], at: datetime
) -> None:
    await conn.executemany(
        "INSERT INTO duty_assessments (carnet_number, item_number, currency, duties, claimed, assessed_at)"
        " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (carnet_number, item_number, currency) DO UPDATE SET"
        " duties = EXCLUDED.duties, claimed = EXCLUDED.claimed, assessed_at = EXCLUDED.assessed_at",
        [(carnet_number, n, c, d, cl, at) for n, c, d, cl in rows],
    )


async def duties(conn: asyncpg.Connection, carnet_number: str, items: Iterable[int]) -> tuple[Amounts, Amounts]:
    """(duties assessed, amounts claimed) per currency, summed over the items."""
    rows = await conn.fetch(
        "SELECT currency, sum(duties) AS duties, sum(claimed) AS claimed FROM duty_assessments"
        " WHERE carnet_number = $1 AND item_number = ANY($2::int[]) GROUP BY currency",
        carnet_number,
        list(items),
    )
    return {r["currency"]: r["duties"] for r in rows}, {r["currency"]: r["claimed"] for r in rows}


async def set_recipients(conn: asyncpg.Connection, carnet_number: str, recipient_ids: list[str], at: datetime) -> None:
    await conn.execute(
        "INSERT INTO recipients (carnet_number, recipient_ids, updated_at) VALUES ($1,$2,$3) ON CONFLICT (carnet_number)"
        " DO UPDATE SET recipient_ids = EXCLUDED.recipient_ids, updated_at = EXCLUDED.updated_at",
        carnet_number,
        recipient_ids,
        at,
    )


async def recipients(conn: asyncpg.Connection, carnet_number: str) -> list[str]:
    return list(
        await conn.fetchval("SELECT recipient_ids FROM recipients WHERE carnet_number = $1", carnet_number) or []
    )


# --- deadlines ---------------------------------------------------------------------------------


async def schedule_for_claim(
    conn: asyncpg.Connection, c: Claim, kind: str, due_at: datetime, last_day: date, now: datetime
) -> None:
    await conn.execute(
        "INSERT INTO deadlines (carnet_number, dedupe_key, kind, due_at, claim_id, country, items, office_timezone,"
        " carnet_expiry, last_day, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        " ON CONFLICT (carnet_number, dedupe_key) DO NOTHING",
        c.carnet_number,
        f"{kind}:{c.claim_id}",
        kind,
        due_at,
        c.claim_id,
        c.country,
        list(c.items),
        c.office_timezone,
        c.carnet_expiry,
        last_day,
        now,
    )


async def cancel_for_claim(conn: asyncpg.Connection, claim_id: UUID) -> None:
    await conn.execute("UPDATE deadlines SET state = 'cancelled' WHERE claim_id = $1 AND state = 'pending'", claim_id)


async def take_due(conn: asyncpg.Connection, now: datetime) -> asyncpg.Record | None:
    """The oldest due pending deadline no other worker holds; locked until the caller's commit."""
    return await conn.fetchrow(
        "SELECT * FROM deadlines WHERE state = 'pending' AND due_at <= $1 AND (retry_at IS NULL OR retry_at <= $1)"
        " ORDER BY due_at, deadline_id LIMIT 1 FOR UPDATE SKIP LOCKED",
        now,
    )


async def mark_acted(conn: asyncpg.Connection, deadline_id: int, outcome: str, now: datetime, by: str) -> None:
    await conn.execute(
        "UPDATE deadlines SET state = 'acted', outcome = $2, acted_at = $3, acted_by = $4 WHERE deadline_id = $1",
        deadline_id,
        outcome,
        now,
        by,
    )


async def mark_failed(
    conn: asyncpg.Connection, deadline_id: int, error: str, retry_at: datetime, max_attempts: int
) -> int:
    return await conn.fetchval(
        "UPDATE deadlines SET attempts = attempts + 1, last_error = $2, retry_at = $3,"
        " state = CASE WHEN attempts + 1 >= $4 THEN 'failed' ELSE state END WHERE deadline_id = $1 RETURNING attempts",
        deadline_id,
        error[:2000],
        retry_at,
        max_attempts,
    )


#: Deadline kinds that ask someone to act (reminders only remind).
ACTION_DEADLINES = ("overdue", "evidence_window", "payment", "refund_window")


async def pending_soon(conn: asyncpg.Connection, now: datetime, until: datetime) -> dict[str, int]:
    rows = await conn.fetch(
        "SELECT kind, count(*) AS n FROM deadlines WHERE state = 'pending' AND kind = ANY($3::text[])"
        " AND due_at > $1 AND due_at <= $2 GROUP BY kind",
        now,
        until,
        list(ACTION_DEADLINES),
    )
    return {r["kind"]: r["n"] for r in rows}


async def due_stats(conn: asyncpg.Connection, now: datetime) -> dict[str, Any]:
    return dict(
        await conn.fetchrow(
            "SELECT count(*) AS due, min(due_at) AS oldest FROM deadlines WHERE state = 'pending' AND due_at <= $1", now
        )
    )


# --- R24, R27 -----------------------------------------------------------------------------------


async def set_expiry(conn: asyncpg.Connection, carnet_number: str, expiry: date, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO carnet_validity (carnet_number, carnet_expiry, updated_at) VALUES ($1, $2, $3)"
        " ON CONFLICT (carnet_number) DO UPDATE SET carnet_expiry = EXCLUDED.carnet_expiry, updated_at = EXCLUDED.updated_at",
        carnet_number,
        expiry,
        now,
    )


async def expiry(conn: asyncpg.Connection, carnet_number: str) -> date | None:
    found: date | None = await conn.fetchval(
        "SELECT carnet_expiry FROM carnet_validity WHERE carnet_number = $1", carnet_number
    )
    return found
