"""Raw SQL over asyncpg for the core's transactions: what a committed one changed (undone by a cancellation),
the cancellation requests decided, and the transactions a holder sees."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime
from uuid import UUID

import asyncpg

from contracts.kinds import DeclarationKind
from contracts.messages import Reason
from core.domain import Item
from core.domain.cancellation import Committed
from core.repository import set_declaration_status


@dataclass(frozen=True)
class Undo:
    code: str
    before: dict[int, Item]
    after: dict[int, Item]
    active_before: bool


def items_json(items: dict[int, Item]) -> str:
    """What a transaction keeps of items before and after it (undone by a cancellation)."""
    return json.dumps(
        [{**asdict(i), "final_date": i.final_date.isoformat() if i.final_date else None} for i in items.values()]
    )


def _items_from_json(text: str) -> dict[int, Item]:
    items = [
        Item(**{**d, "final_date": date.fromisoformat(d["final_date"]) if d["final_date"] else None})
        for d in json.loads(text)
    ]
    return {i.number: i for i in items}


async def committed_by_code(conn: asyncpg.Connection, code: str, *, lock: bool = False) -> asyncpg.Record | None:
    """The committed transaction of the declaration with this transaction code, if any."""
    return await conn.fetchrow(
        "SELECT t.* FROM transactions t JOIN declarations d USING (declaration_id)"
        " WHERE d.transaction_code = $1 AND t.decision = 'committed'" + (" FOR UPDATE OF t" if lock else ""),
        code,
    )


def committed_of(row: asyncpg.Record) -> Committed:
    return Committed(
        kind=DeclarationKind(row["kind"]),
        country=row["country"],
        sequence=row["sequence"],
        cancellation_code=row["cancellation_code"] or "",
        items_before=_items_from_json(row["items_before"]),
        items_after=_items_from_json(row["items_after"]),
        active_before=bool(row["active_before"]),
        cancelled=row["cancelled_at"] is not None,
    )


async def mark_cancelled(
    conn: asyncpg.Connection,
    transaction_id: UUID,
    declaration_id: UUID,
    cancellation_id: UUID,
    at: datetime,
    officer_id: str,
    reason: str,
) -> None:
    await conn.execute(
        "UPDATE transactions SET cancellation_id = $2, cancelled_at = $3, cancelled_by = $4,"
        " cancellation_reason = $5 WHERE transaction_id = $1",
        transaction_id,
        cancellation_id,
        at,
        officer_id,
        reason,
    )
    await set_declaration_status(conn, declaration_id, "cancelled")


async def record_cancellation_request(
    conn: asyncpg.Connection,
    cancellation_id: UUID,
    carnet_number: str,
    code: str,
    officer_id: str,
    outcome: str,
    reasons: list[Reason],
    at: datetime,
) -> bool:
    """False when this request was already decided (a redelivery under another message id)."""
    return bool(
        await conn.fetchval(
            "INSERT INTO cancellation_requests (cancellation_id, carnet_number, transaction_code, officer_id, outcome,"
            " reasons, decided_at) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) ON CONFLICT DO NOTHING RETURNING true",
            cancellation_id,
            carnet_number,
            code,
            officer_id,
            outcome,
            json.dumps([r.model_dump() for r in reasons]),
            at,
        )
    )


async def cancellation_decided(conn: asyncpg.Connection, cancellation_id: UUID) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM cancellation_requests WHERE cancellation_id = $1)", cancellation_id
        )
    )


async def transactions(conn: asyncpg.Connection, number: str) -> list[asyncpg.Record]:
    """The carnet's transactions as the holder sees them (with the cancellation code of committed ones)."""
    return await conn.fetch(
        "SELECT transaction_id, carnet_number, declaration_id, commit_id, kind, country, items, sequence, decision,"
        " reasons, office_id, officer_id, decided_at, recorded_at, cancellation_code, cancelled_at, cancellation_reason"
        " FROM transactions WHERE carnet_number = $1 ORDER BY recorded_at, transaction_id",
        number,
    )
