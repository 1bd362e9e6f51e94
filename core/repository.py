"""Raw SQL over asyncpg for the core's ledger: carnets, their items and declarations. Transactions and their
cancellation are in core/transaction_repository.py, the signing keys and trust lists in
core/signing_key_repository.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic_core import to_json

from contracts.messages import CarnetIssued
from core.domain import Carnet, Item
from runtime.outbox import NOTIFY_QUEUED, Queued, queue_args, queue_cte


async def insert_carnet(conn: asyncpg.Connection, c: CarnetIssued) -> bool:
    created = await conn.fetchval(
        "INSERT INTO carnets (carnet_number, home_country, countries, issue_date, expiry_date, holder_id,"
        " representative_ids, general_list_digest, document, request_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10) ON CONFLICT DO NOTHING RETURNING true",
        c.carnet_number,
        c.nga,
        c.countries,
        c.issue_date,
        c.expiry_date,
        c.holder_id,
        c.representative_ids,
        c.general_list_digest,
        _document_json(c),
        c.request_id,
    )
    if created:
        await conn.executemany(
            "INSERT INTO items (carnet_number, item_number, quantity, origin_country) VALUES ($1, $2, $3, $4)",
            [(c.carnet_number, i.item_number, i.quantity, i.origin_country) for i in c.items],
        )
    return bool(created)


async def insert_carnets(conn: asyncpg.Connection, issued: list[CarnetIssued]) -> set[str]:
    """Many new carnets with their items in two statements (bulk issuance); returns the numbers
    created. A number already on file is left as it is, for the caller to compare (R1)."""
    created = {
        r["carnet_number"]
        for r in await conn.fetch(
            "INSERT INTO carnets (carnet_number, home_country, countries, issue_date, expiry_date, holder_id,"
            " representative_ids, general_list_digest, document, request_id)"
            # Lists travel as JSON text: unnest cannot take arrays of differing lengths.
            " SELECT u.n, u.home, ARRAY(SELECT jsonb_array_elements_text(u.countries::jsonb)), u.issued, u.expires, u.holder,"
            "  ARRAY(SELECT jsonb_array_elements_text(u.reps::jsonb)), u.digest, u.doc::jsonb, u.req"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[], $6::text[], $7::text[], $8::text[],"
            "  $9::text[], $10::text[]) AS u(n, home, countries, issued, expires, holder, reps, digest, doc, req)"
            " ON CONFLICT DO NOTHING RETURNING carnet_number",
            # pydantic-core writes the JSON lists at a few times json.dumps' speed (bulk issuance).
            [c.carnet_number for c in issued],
            [c.nga for c in issued],
            [to_json(c.countries).decode() for c in issued],
            [c.issue_date for c in issued],
            [c.expiry_date for c in issued],
            [c.holder_id for c in issued],
            [to_json(c.representative_ids).decode() for c in issued],
            [c.general_list_digest for c in issued],
            [_document_json(c) for c in issued],
            [c.request_id for c in issued],
        )
    }
    items = [(c.carnet_number, i) for c in issued if c.carnet_number in created for i in c.items]
    if items:
        await conn.execute(
            "INSERT INTO items (carnet_number, item_number, quantity, origin_country)"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[])",
            [n for n, _ in items],
            [i.item_number for _, i in items],
            [i.quantity for _, i in items],
            [i.origin_country for _, i in items],
        )
    return created


def _document_json(c: CarnetIssued) -> str | None:
    return c.document.model_dump_json() if c.document is not None else None


async def carnet_identity(conn: asyncpg.Connection, number: str) -> tuple[str, str] | None:
    """(holder id, general-list digest): what a repeated CarnetIssued for this number must carry again."""
    row = await conn.fetchrow("SELECT holder_id, general_list_digest FROM carnets WHERE carnet_number = $1", number)
    return None if row is None else (row["holder_id"], row["general_list_digest"])


async def carnet_exists(conn: asyncpg.Connection, number: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM carnets WHERE carnet_number = $1", number))


# The carnet row and its items in one round trip.
_ITEM = "ROW(i.item_number, i.location, i.country, i.final_date, i.exported_by, i.entered_by, i.note)"
_CARNET_WITH_ITEMS = (
    f"SELECT c.*, ARRAY(SELECT {_ITEM} FROM items i WHERE i.carnet_number = c.carnet_number ORDER BY i.item_number)"
    " AS item_rows FROM carnets c WHERE c.carnet_number = $1"
)
#: The carnet locked, then what the lock guards read through the *_now functions (migration 0009): the
#: statement's own subqueries would see its snapshot, taken before it waited for the lock. `{number}` is
#: what names the carnet; the statement then selects `c.*` and `ITEMS_NOW` from `c`.
LOCKED_CARNET = "c AS MATERIALIZED (SELECT * FROM carnets WHERE carnet_number = {number} FOR UPDATE)"
ITEMS_NOW = f"ARRAY(SELECT {_ITEM} FROM items_now(c.carnet_number) i)"


async def load_carnet(
    conn: asyncpg.Connection, number: str, *, lock: bool = False, sequences_of: str | None = None
) -> tuple[Carnet, asyncpg.Record] | None:
    """The carnet with its items; `lock` serialises every change to one carnet. `sequences_of` (a kind,
    with `lock`): the row's `sequences` are the voucher numbers of that kind in use along its chain (R8)."""
    if not lock:
        row = await conn.fetchrow(_CARNET_WITH_ITEMS, number)
    else:
        used = ", ARRAY(SELECT sequences_now(c.carnet_number, $2)) AS sequences" if sequences_of else ""
        row = await conn.fetchrow(
            f"WITH {LOCKED_CARNET.format(number='$1')} SELECT c.*, {ITEMS_NOW} AS item_rows{used} FROM c",
            number,
            *([sequences_of] if sequences_of else []),
        )
    return None if row is None else (carnet_of(row), row)


def carnet_of(row: asyncpg.Record, prefix: str = "") -> Carnet:
    """The carnet in a row of the columns above (`prefix`: how a statement that also returns others names them)."""
    return Carnet(
        number=row[prefix + "carnet_number"],
        home_country=row[prefix + "home_country"],
        countries=tuple(row[prefix + "countries"]),
        expiry_date=row[prefix + "expiry_date"],
        holder_id=row[prefix + "holder_id"],
        representative_ids=tuple(row[prefix + "representative_ids"]),
        active=row[prefix + "active"],
        status=row[prefix + "status"],
        successor=row[prefix + "successor"],
        items={i[0]: Item(*i) for i in row[prefix + "item_rows"]},
    )


#: The carnet row's own state ($1 the number, $2 active, $3 status, $4 successor).
SET_CARNET_STATE = "UPDATE carnets SET active = $2, status = $3, successor = $4 WHERE carnet_number = $1"


async def save_carnet_state(
    conn: asyncpg.Connection, carnet: Carnet, moved: list[int], before: Carnet | None = None
) -> None:
    """`before`: the carnet as loaded; the carnet row is then written only if its own fields changed
    (most crossings move items and leave activation, status and successor as they were)."""
    if before is None or (before.active, before.status, before.successor) != (
        carnet.active,
        carnet.status,
        carnet.successor,
    ):
        await conn.execute(SET_CARNET_STATE, carnet.number, carnet.active, carnet.status, carnet.successor)
    if moved:
        await conn.execute(move_items(2), carnet.number, *moved_args(carnet, moved))


def move_items(first: int) -> str:
    """The moved items' new state: $1 the carnet, `moved_args`' seven arrays in $first..$first+6."""
    a, b, c, d, e, f, g = (f"${first + i}" for i in range(7))
    return (
        "UPDATE items SET location = u.location, country = u.country, final_date = u.final_date,"
        " exported_by = u.exported_by, entered_by = u.entered_by, note = u.note"
        f" FROM unnest({a}::int[], {b}::text[], {c}::text[], {d}::date[], {e}::int[], {f}::int[], {g}::text[])"
        " AS u(item_number, location, country, final_date, exported_by, entered_by, note)"
        " WHERE items.carnet_number = $1 AND items.item_number = u.item_number"
    )


def moved_args(carnet: Carnet, moved: list[int]) -> list[list[Any]]:
    rows = [carnet.items[n] for n in moved]
    return [
        moved,
        [i.location for i in rows],
        [i.country for i in rows],
        [i.final_date for i in rows],
        [i.exported_by for i in rows],
        [i.entered_by for i in rows],
        [i.note for i in rows],
    ]


async def insert_successor(
    conn: asyncpg.Connection, carnet: Carnet, original: asyncpg.Record, issued: CarnetIssued | None = None
) -> None:
    """A duplicate (copy of the original's row) or a replacement (its own issued data), with items as given."""
    src = issued
    await conn.execute(
        "INSERT INTO carnets (carnet_number, home_country, countries, issue_date, expiry_date, holder_id,"
        " representative_ids, general_list_digest, active, predecessor, document, request_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)",
        carnet.number,
        original["home_country"],
        list(carnet.countries),
        src.issue_date if src else original["issue_date"],
        carnet.expiry_date,
        carnet.holder_id,
        list(carnet.representative_ids),
        src.general_list_digest if src else original["general_list_digest"],
        carnet.active,
        original["carnet_number"],
        # R5: a duplicate carries the original's document; a replacement its own.
        _document_json(src) if src else original["document"],
        src.request_id if src else original["request_id"],
    )
    quantities = (
        {i.item_number: (i.quantity, i.origin_country) for i in src.items}
        if src
        else {
            r["item_number"]: (r["quantity"], r["origin_country"])
            for r in await conn.fetch(
                "SELECT item_number, quantity, origin_country FROM items WHERE carnet_number = $1",
                original["carnet_number"],
            )
        }
    )
    await conn.executemany(
        "INSERT INTO items (carnet_number, item_number, quantity, origin_country, location, country, final_date,"
        " exported_by, entered_by, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        [
            (
                carnet.number,
                n,
                quantities[n][0],
                quantities[n][1],
                i.location,
                i.country,
                i.final_date,
                i.exported_by,
                i.entered_by,
                i.note,
            )
            for n, i in carnet.items.items()
        ],
    )


async def close_carnet(conn: asyncpg.Connection, number: str, at: datetime, reason: str) -> None:
    await conn.execute(
        "UPDATE carnets SET status = 'closed', closed_at = $2, closing_reason = $3 WHERE carnet_number = $1",
        number,
        at,
        reason,
    )


async def insert_declaration(conn: asyncpg.Connection, queued: list[Queued], **row: Any) -> None:
    """The declaration and the messages it emits (`queued`, the outbox's), in one statement."""
    cols = ", ".join(row)
    args = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await conn.execute(
        f"WITH declared AS (INSERT INTO declarations ({cols}) VALUES ({args})),"
        f" {queue_cte(len(row) + 1)} {NOTIFY_QUEUED}",
        *row.values(),
        *queue_args(queued),
    )


async def declaration(conn: asyncpg.Connection, declaration_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM declarations WHERE declaration_id = $1", declaration_id)


async def declaration_by_code(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    """What a customs gateway needs of a declaration an officer typed the code of (the token text stays here)."""
    return await conn.fetchrow(
        "SELECT transaction_code, carnet_number, kind, country, items, sequence, token_id, token_expires_at"
        " FROM declarations WHERE transaction_code = $1",
        code,
    )


async def set_declaration_status(conn: asyncpg.Connection, declaration_id: UUID, status: str) -> None:
    await conn.execute("UPDATE declarations SET status = $2 WHERE declaration_id = $1", declaration_id, status)
