"""Raw SQL over asyncpg for the gateway's own schema: the audit log, carnet status, carnets and declarations
on file, commits and transfers. Offices, officers and sessions are in customs_gateway/officer_repository.py,
the trust list in customs_gateway/trust_list_repository.py, cancellations in
customs_gateway/cancellation_repository.py."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic_core import to_json

from contracts.messages import CarnetIssued, CustomsCommitPosted
from customs_gateway.domain import Blocked, CarnetOnFile
from runtime.outbox import NOTIFY_QUEUED, Queued, queue_args, queue_cte


async def audit(
    conn: asyncpg.Connection,
    at: datetime,
    action: str,
    outcome: str,
    *,
    officer_id: str | None = None,
    office_id: str | None = None,
    carnet_number: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, officer_id, action, office_id, carnet_number, detail, outcome)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
        at,
        officer_id,
        action,
        office_id,
        carnet_number,
        json.dumps(detail or {}, default=str),
        outcome,
    )


async def audit_entries(
    conn: asyncpg.Connection, officer_id: str | None, carnet_number: str | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, at, officer_id, action, office_id, carnet_number, detail, outcome FROM audit_log"
        " WHERE ($1::text IS NULL OR officer_id = $1) AND ($2::text IS NULL OR carnet_number = $2)"
        " ORDER BY id LIMIT $3",
        officer_id,
        carnet_number,
        limit,
    )


async def set_carnet_status(
    conn: asyncpg.Connection,
    number: str,
    status: str,
    rule: str,
    successor: str | None,
    reason: str,
    changed_at: datetime,
) -> asyncpg.Record:
    """Latest change wins; an older change arriving late does not undo a newer one. Returns the status in force."""
    await conn.execute(
        "INSERT INTO carnet_status (carnet_number, status, rule, successor, reason, changed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (carnet_number) DO UPDATE SET status = EXCLUDED.status,"
        " rule = EXCLUDED.rule, successor = EXCLUDED.successor, reason = EXCLUDED.reason, changed_at = EXCLUDED.changed_at"
        " WHERE carnet_status.changed_at <= EXCLUDED.changed_at",
        number,
        status,
        rule,
        successor,
        reason,
        changed_at,
    )
    return await conn.fetchrow(
        "SELECT status, rule, successor, reason FROM carnet_status WHERE carnet_number = $1", number
    )


async def blocked_carnets(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT carnet_number, status, rule, successor, reason FROM carnet_status WHERE status <> 'active'"
    )


# --- carnets and declarations on file (issue 4) ---------------------------------------------------------------


async def insert_carnet_on_file(
    conn: asyncpg.Connection,
    number: str,
    home_country: str,
    countries: list[str],
    issue_date: date,
    expiry_date: date,
    digest: str,
    items: list[dict[str, Any]],
) -> None:
    """An issued carnet never changes: the first copy stays."""
    await conn.execute(
        "INSERT INTO carnets_on_file (carnet_number, home_country, countries, issue_date, expiry_date,"
        " general_list_digest, items) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) ON CONFLICT DO NOTHING",
        number,
        home_country,
        countries,
        issue_date,
        expiry_date,
        digest,
        json.dumps(items),
    )


async def insert_carnets_on_file(conn: asyncpg.Connection, carnets: list[CarnetIssued]) -> None:
    """Many at once (bulk issuance), one statement; as `insert_carnet_on_file`, the first copy stays."""
    await conn.execute(
        "INSERT INTO carnets_on_file (carnet_number, home_country, countries, issue_date, expiry_date,"
        " general_list_digest, items)"
        " SELECT u.n, u.home, ARRAY(SELECT jsonb_array_elements_text(u.countries::jsonb)), u.issued, u.expires,"
        "  u.digest, u.items::jsonb"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::text[], $7::text[])"
        "  AS u(n, home, countries, issued, expires, digest, items)"
        " ON CONFLICT DO NOTHING",
        # pydantic-core writes the JSON (lists of str, the items' models) at a few times json.dumps' speed.
        [c.carnet_number for c in carnets],
        [c.nga for c in carnets],
        [to_json(c.countries).decode() for c in carnets],
        [c.issue_date for c in carnets],
        [c.expiry_date for c in carnets],
        [c.general_list_digest for c in carnets],
        [to_json(c.items).decode() for c in carnets],
    )


async def copy_carnet_on_file(conn: asyncpg.Connection, original: str, duplicate: str) -> bool:
    """R5: the duplicate carries the original's list under its own number. False if the original is not on file."""
    return bool(
        await conn.fetchval(
            "WITH src AS (SELECT * FROM carnets_on_file WHERE carnet_number = $1),"
            " ins AS (INSERT INTO carnets_on_file (carnet_number, home_country, countries, issue_date, expiry_date,"
            " general_list_digest, items) SELECT $2, home_country, countries, issue_date, expiry_date, general_list_digest,"
            " items FROM src ON CONFLICT DO NOTHING)"
            " SELECT EXISTS (SELECT 1 FROM src)",
            original,
            duplicate,
        )
    )


def _carnet(row: asyncpg.Record | None) -> CarnetOnFile | None:
    if row is None or row["carnet_number"] is None:
        return None
    items = json.loads(row["items"])
    return CarnetOnFile(
        row["carnet_number"],
        row["home_country"],
        tuple(row["countries"]),
        row["expiry_date"],
        row["general_list_digest"],
        {int(i["item_number"]): (int(i["quantity"]), str(i["origin_country"])) for i in items},
    )


async def decided_and_carnet(
    conn: asyncpg.Connection, token_id: UUID | None, code: str, number: str
) -> tuple[bool, CarnetOnFile | None]:
    """One round trip: whether the declaration was already decided (a replay), and the carnet on file."""
    row = await conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM commits WHERE token_id = $1 OR transaction_code = $2) AS decided,"
        " c.carnet_number, c.home_country, c.countries, c.expiry_date, c.general_list_digest, c.items"
        " FROM (SELECT 1) one LEFT JOIN carnets_on_file c ON c.carnet_number = $3",
        token_id,
        code,
        number,
    )
    return row["decided"], _carnet(row)


# The audit row's mismatches as domain.verification lists them: the checks failed before "replay", then
# "replay" if the declaration was already decided, then the failed checks after it. The statement below
# knows whether it was only once it ran, so it puts "replay" in its place itself.
_MISMATCHES = (
    "jsonb_build_object('mismatches', $8::text[] || CASE WHEN {replayed} THEN ARRAY['replay']"
    " ELSE ARRAY[]::text[] END || $9::text[])"
)


async def scan_audited(
    conn: asyncpg.Connection,
    token_id: UUID,
    code: str,
    at: datetime,
    officer_id: str,
    office_id: str,
    carnet_number: str,
    detail: dict[str, Any],
    before: list[str],
    after: list[str],
) -> bool:
    """R18 in one round trip: whether the declaration was already decided, and the scan's audit row (outcome
    "valid", its mismatches with "replay" in place when it was). Answers whether it was decided."""
    return bool(
        await conn.fetchval(
            "WITH d AS (SELECT EXISTS (SELECT 1 FROM commits WHERE token_id = $1 OR transaction_code = $2) AS replayed),"
            " a AS (INSERT INTO audit_log (at, officer_id, action, office_id, carnet_number, detail, outcome)"
            " SELECT $3, $4, 'scan', $5, $6, $7::jsonb || "
            + _MISMATCHES.format(replayed="d.replayed")
            + ", 'valid' FROM d)"
            " SELECT replayed FROM d",
            token_id,
            code,
            at,
            officer_id,
            office_id,
            carnet_number,
            json.dumps(detail, default=str),
            before,
            after,
        )
    )


@dataclass(frozen=True)
class BeforeCommit:
    decided: bool
    blocked: Blocked | None
    moved: dict[int, str]
    carnet: CarnetOnFile | None


async def before_commit(
    conn: asyncpg.Connection, number: str, token_id: UUID | None, code: str, *, carnet: bool
) -> BeforeCommit:
    """What a commit reads, in one round trip: whether the declaration was already decided (R18), the carnet's
    status (R5, R7) and the items a replacement took over (R6) as every instance's consumers wrote them, and the
    carnet on file unless `carnet` is False (the caller holds it)."""
    row = await conn.fetchrow(
        "SELECT EXISTS (SELECT 1 FROM commits WHERE token_id = $2 OR transaction_code = $3) AS decided,"
        " s.status, s.rule, s.successor, s.reason,"
        " (SELECT coalesce(jsonb_object_agg(t.item_number::text, t.successor), '{}'::jsonb)"
        "  FROM transferred_items t WHERE t.carnet_number = $1) AS moved,"
        " c.carnet_number, c.home_country, c.countries, c.expiry_date, c.general_list_digest, c.items"
        " FROM (SELECT 1) AS one LEFT JOIN carnet_status s ON s.carnet_number = $1"
        " LEFT JOIN carnets_on_file c ON $4 AND c.carnet_number = $1",
        number,
        token_id,
        code,
        carnet,
    )
    blocked = (
        Blocked(row["status"], row["rule"], row["successor"], row["reason"])
        if row["status"] not in (None, "active")
        else None
    )
    moved = {int(item): successor for item, successor in json.loads(row["moved"]).items()}
    return BeforeCommit(row["decided"], blocked, moved, _carnet(row))


async def commit_posted(
    conn: asyncpg.Connection, commit: CustomsCommitPosted, *, action: str, detail: dict[str, Any], queued: list[Queued]
) -> bool:
    """The commit row (what `commit` posts), its audit row (outcome "posted") and the messages it emits (`queued`,
    the outbox's) in one statement, atomic without a transaction block. False when this token or code was decided
    meanwhile (a concurrent commit of it won: the commit log's unique keys refuse this one, and nothing of it
    stays). Inside a transaction block that refusal aborts the block: it is raised for the caller to roll back."""
    c = commit
    try:
        await conn.execute(
            "WITH c AS (INSERT INTO commits (commit_id, token_id, transaction_code, carnet_number, kind, country, items,"
            " office_id, officer_id, decision, final_date, refusal_reason, decided_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)),"
            " a AS (INSERT INTO audit_log (at, officer_id, action, office_id, carnet_number, detail, outcome)"
            " VALUES ($13, $9, $14, $8, $4, $15::jsonb, 'posted')),"
            f" {queue_cte(16)} {NOTIFY_QUEUED}",
            c.commit_id,
            c.token_id,
            c.transaction_code,
            c.carnet_number,
            c.kind.value,
            c.country,
            c.items,
            c.office_id,
            c.officer_id,
            c.decision,
            c.final_date,
            c.refusal_reason,
            c.decided_at,
            action,
            json.dumps(detail, default=str),
            *queue_args(queued),
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.table_name != "commits" or conn.is_in_transaction():
            raise
        return False
    return True


async def record_transfers(
    conn: asyncpg.Connection, number: str, items: list[int], successor: str, at: datetime
) -> None:
    await conn.executemany(
        "INSERT INTO transferred_items (carnet_number, item_number, successor, changed_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT DO NOTHING",
        [(number, n, successor, at) for n in items],
    )


async def transfers(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT carnet_number, item_number, successor FROM transferred_items")
