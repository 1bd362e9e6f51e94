"""The claims worker's SQL for the watch list and the deadlines it implies (R19), per recorded crossing."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg

from claims_worker.domain import CHASED, Move, Planned, Seizure, Watch, Watched
from runtime.outbox import NOTIFY_QUEUED, Queued, queue_args, queue_cte

#: What R19's plan reads besides the watch list: items already under a claim, and the carnet's seizures ($1).
_CLAIMED = "ARRAY(SELECT ROW(c.country, i) FROM claims c, unnest(c.items) i WHERE c.carnet_number = $1) AS claimed"
_SEIZED = (
    "ARRAY(SELECT ROW(s.items, s.country, s.start_date, s.end_date, s.personal_lawsuit) FROM seizures s"
    " WHERE s.carnet_number = $1) AS seizures"
)
_WATCHED = "item_number, location, country, final_date, office_timezone, carnet_expiry, updated_at"

PlanInputs = tuple[set[tuple[str, int]], list[Watched], list[Seizure]]


def _plan_inputs(row: asyncpg.Record) -> PlanInputs:
    return (
        {(r[0], r[1]) for r in row["claimed"]},
        [Watched(*r) for r in row["watched"]],
        [Seizure(tuple(r[0]), *r[1:]) for r in row["seizures"]],
    )


async def plan_inputs(conn: asyncpg.Connection, carnet_number: str) -> PlanInputs:
    """What R19's plan needs (items already under a claim, the watch list, the seizures) in one round trip."""
    row = await conn.fetchrow(
        f"SELECT {_CLAIMED}, ARRAY(SELECT ROW({_WATCHED}) FROM watched_items WHERE carnet_number = $1"
        f" ORDER BY item_number) AS watched, {_SEIZED}",
        carnet_number,
    )
    return _plan_inputs(row)


async def record_transaction(
    conn: asyncpg.Connection,
    *,
    carnet_number: str,
    carnet_expiry: date,
    office_timezone: str,
    transaction_id: UUID,
    now: datetime,
    watch: list[Watch],
    done: list[int],
    abroad_of: list[int],
) -> tuple[PlanInputs, dict[str, list[int]], set[tuple[Any, ...]] | None]:
    """A recorded crossing in one statement: the carnet's validity (R24), its items watched (`watch`, one row
    each: distinct numbers, so ON CONFLICT meets each row once) or released (`done`); answers R19's plan
    inputs as they are after these writes, R27's items of `abroad_of` the watch list had abroad or in
    transit before them, per country, and the carnet's pending reminders and overdue checks as `plan_rows`
    gives them (None if one of them failed an attempt: replace_planned then resets it, as it always did).

    Every part of a statement reads the snapshot taken before it: the watch list read here is the one before
    the writes, so the rows written (RETURNING) replace their items in it and the released ones are left out."""
    row = await conn.fetchrow(
        "WITH validity AS (INSERT INTO carnet_validity (carnet_number, carnet_expiry, updated_at) VALUES ($1, $2, $5)"
        "  ON CONFLICT (carnet_number) DO UPDATE SET carnet_expiry = EXCLUDED.carnet_expiry,"
        "  updated_at = EXCLUDED.updated_at),"
        " written AS (INSERT INTO watched_items (carnet_number, item_number, location, country, final_date,"
        "  carnet_expiry, notice_limit, office_timezone, last_transaction_id, updated_at)"
        "  SELECT $1, u.item_number, u.location, u.country, u.final_date, $2, u.notice_limit, $3, $4, $5"
        "  FROM unnest($6::int[], $7::text[], $8::text[], $9::date[], $10::date[])"
        "  AS u(item_number, location, country, final_date, notice_limit)"
        "  ON CONFLICT (carnet_number, item_number) DO UPDATE SET location = EXCLUDED.location,"
        "  country = EXCLUDED.country, final_date = EXCLUDED.final_date, carnet_expiry = EXCLUDED.carnet_expiry,"
        "  notice_limit = EXCLUDED.notice_limit, office_timezone = EXCLUDED.office_timezone,"
        "  last_transaction_id = EXCLUDED.last_transaction_id, updated_at = EXCLUDED.updated_at"
        f"  RETURNING {_WATCHED}),"
        " released AS (DELETE FROM watched_items WHERE carnet_number = $1 AND item_number = ANY($11::int[]))"
        f" SELECT {_CLAIMED}, ARRAY(SELECT ROW(w.*) FROM (SELECT {_WATCHED} FROM watched_items"
        "  WHERE carnet_number = $1 AND item_number <> ALL($6::int[]) AND item_number <> ALL($11::int[])"
        "  UNION ALL SELECT * FROM written) AS w ORDER BY w.item_number) AS watched,"
        f" {_SEIZED}, ARRAY(SELECT ROW(country, item_number) FROM watched_items WHERE carnet_number = $1"
        "  AND item_number = ANY($12::int[]) AND location = ANY($13::text[]) AND country IS NOT NULL"
        "  ORDER BY country, item_number) AS abroad,"
        " ARRAY(SELECT ROW(dedupe_key, kind, due_at, country, items, office_timezone, carnet_expiry, last_day,"
        "  days_before, attempts = 0 AND retry_at IS NULL AND last_error IS NULL) FROM deadlines"
        "  WHERE carnet_number = $1 AND kind IN ('reminder', 'overdue') AND state = 'pending') AS pending",
        carnet_number,
        carnet_expiry,
        office_timezone,
        transaction_id,
        now,
        [w.item_number for w in watch],
        [w.location for w in watch],
        [w.country for w in watch],
        [w.final_date for w in watch],
        [w.notice_limit for w in watch],
        done,
        abroad_of,
        list(CHASED),
    )
    abroad: dict[str, list[int]] = {}
    for country, item in row["abroad"]:
        abroad.setdefault(country, []).append(item)
    pending = {(*r[:4], tuple(r[4]), *r[5:9]) for r in row["pending"]}
    return _plan_inputs(row), abroad, pending if all(r[9] for r in row["pending"]) else None


def first_of_each_key(planned: list[Planned]) -> list[Planned]:
    """A key planned twice is planned once, as first planned (what inserting them in turn, ON CONFLICT DO
    NOTHING, kept)."""
    first: dict[str, Planned] = {}
    for p in planned:
        first.setdefault(p.key, p)
    return list(first.values())


def plan_rows(planned: list[Planned]) -> set[tuple[Any, ...]]:
    """`planned` as the deadlines table would hold it: replace_planned would change nothing if these are the
    pending ones already."""
    return {
        (
            p.key,
            p.kind,
            p.due_at,
            p.country,
            tuple(p.items),
            p.office_timezone,
            p.carnet_expiry,
            p.last_day,
            p.days_before,
        )
        for p in first_of_each_key(planned)
    }


async def replace_planned(
    conn: asyncpg.Connection, carnet_number: str, planned: list[Planned], now: datetime, queued: list[Queued]
) -> None:
    """The carnet's pending reminders and overdue checks become `planned`, and `queued` (the outbox's) is queued,
    in one statement. A deadline already acted on keeps its key, so the same reminder or claim is never made
    twice. As deleting them all then inserting `planned` (the first of a key planned twice) would, but in
    the statement's one snapshot: the pending ones not planned again are deleted, a planned one whose key is
    pending takes its row (with a fresh schedule), the others are inserted."""
    rows = first_of_each_key(planned)
    await conn.execute(
        "WITH stale AS (DELETE FROM deadlines WHERE carnet_number = $1 AND kind IN ('reminder', 'overdue')"
        "  AND state = 'pending' AND dedupe_key <> ALL($2::text[])),"
        " planned AS (INSERT INTO deadlines (carnet_number, dedupe_key, kind, due_at, country, items, office_timezone,"
        "  carnet_expiry, last_day, days_before, created_at)"
        "  SELECT $1, u.k, u.kind, u.due_at, u.country, u.items::int[], u.tz, u.expiry, u.last_day, u.days_before, $11"
        "  FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::date[],"
        "   $9::date[], $10::int[]) AS u(k, kind, due_at, country, items, tz, expiry, last_day, days_before)"
        "  ON CONFLICT (carnet_number, dedupe_key) DO UPDATE SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at,"
        "  country = EXCLUDED.country, items = EXCLUDED.items, office_timezone = EXCLUDED.office_timezone,"
        "  carnet_expiry = EXCLUDED.carnet_expiry, last_day = EXCLUDED.last_day, days_before = EXCLUDED.days_before,"
        "  created_at = EXCLUDED.created_at, attempts = 0, retry_at = NULL, last_error = NULL"
        "  WHERE deadlines.state = 'pending' AND deadlines.kind IN ('reminder', 'overdue')),"
        f" {queue_cte(12)} {NOTIFY_QUEUED}",
        carnet_number,
        [p.key for p in rows],
        [p.kind for p in rows],
        [p.due_at for p in rows],
        [p.country for p in rows],
        ["{" + ",".join(map(str, p.items)) + "}" for p in rows],
        [p.office_timezone for p in rows],
        [p.carnet_expiry for p in rows],
        [p.last_day for p in rows],
        [p.days_before for p in rows],
        now,
        *queue_args(queued),
    )


async def move_watch(conn: asyncpg.Connection, carnet_number: str, m: Move, expiry: date | None, now: datetime) -> None:
    """An item's watch follows its goods to the successor carnet (R5/R6); it keeps its office time zone: the goods
    have not moved, only their carnet."""
    await conn.execute(
        "UPDATE watched_items SET carnet_number = $3, final_date = $4, carnet_expiry = $5, notice_limit = $6,"
        " updated_at = $7 WHERE carnet_number = $1 AND item_number = $2",
        carnet_number,
        m.item_number,
        m.successor,
        m.final_date,
        expiry,
        m.notice_limit,
        now,
    )


async def release(conn: asyncpg.Connection, carnet_number: str, items: list[int]) -> None:
    await conn.execute(
        "DELETE FROM watched_items WHERE carnet_number = $1 AND item_number = ANY($2::int[])", carnet_number, items
    )
