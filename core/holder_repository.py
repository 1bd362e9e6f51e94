"""Raw SQL for the holder API: what a party may see, and the rows sharing a carnet changes (who may share
is decided in core/usecases/sharing.py).

Every read takes the calling party and returns nothing for a carnet it is neither the holder of
nor a representative on, so the API cannot leak a carnet's existence by mistake. Shares live in
`carnets.representative_ids` (the issuer's representatives plus those the holder added), the
list the core already notifies on every transaction.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import UUID

import asyncpg

Role = Literal["holder", "representative"]

_ROLE = "CASE WHEN c.holder_id = $2 THEN 'holder' ELSE 'representative' END AS role"
_VISIBLE = "(c.holder_id = $2 OR $2 = ANY(c.representative_ids))"


async def carnets_of(conn: asyncpg.Connection, party: str) -> list[asyncpg.Record]:
    """Carnets the party holds or represents, newest first."""
    return await conn.fetch(
        "SELECT c.carnet_number, c.home_country, c.countries, c.expiry_date, c.active, c.holder_id,"
        " c.representative_ids, CASE WHEN c.holder_id = $1 THEN 'holder' ELSE 'representative' END AS role"
        " FROM carnets c WHERE c.holder_id = $1 OR $1 = ANY(c.representative_ids)"
        " ORDER BY c.created_at DESC, c.carnet_number",
        party,
    )


async def carnet_for(conn: asyncpg.Connection, number: str, party: str) -> asyncpg.Record | None:
    """The carnet row with the party's role, or None if unknown or not the party's."""
    return await conn.fetchrow(
        f"SELECT c.*, {_ROLE} FROM carnets c WHERE c.carnet_number = $1 AND {_VISIBLE}", number, party
    )


async def role_on(conn: asyncpg.Connection, number: str, party: str) -> Role | None:
    return await conn.fetchval(
        f"SELECT {_ROLE} FROM carnets c WHERE c.carnet_number = $1 AND {_VISIBLE}", number, party
    )


async def items(conn: asyncpg.Connection, number: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT item_number, location, country, final_date FROM items WHERE carnet_number = $1 ORDER BY item_number",
        number,
    )


async def declaration_for(conn: asyncpg.Connection, declaration_id: UUID, party: str) -> asyncpg.Record | None:
    """The declaration if the party may see its carnet; None for unknown and not-yours alike."""
    return await conn.fetchrow(
        f"SELECT d.*, t.cancellation_code FROM declarations d JOIN carnets c USING (carnet_number)"
        f" LEFT JOIN transactions t ON t.declaration_id = d.declaration_id AND t.decision = 'committed'"
        f" WHERE d.declaration_id = $1 AND {_VISIBLE}",
        declaration_id,
        party,
    )


async def lock_shares(conn: asyncpg.Connection, number: str) -> asyncpg.Record | None:
    """The carnet's holder and representatives, its row locked until the transaction ends: shares and
    declarations of one carnet serialise on it (a declaration in flight sees the representative either
    shared or not, never half-way)."""
    return await conn.fetchrow(
        "SELECT holder_id, representative_ids FROM carnets WHERE carnet_number = $1 FOR UPDATE", number
    )


async def add_representative(conn: asyncpg.Connection, number: str, representative_id: str) -> tuple[str, ...]:
    return tuple(
        await conn.fetchval(
            "UPDATE carnets SET representative_ids = array_append(representative_ids, $2) WHERE carnet_number = $1"
            " RETURNING representative_ids",
            number,
            representative_id,
        )
    )


async def remove_representative(conn: asyncpg.Connection, number: str, representative_id: str) -> tuple[str, ...]:
    return tuple(
        await conn.fetchval(
            "UPDATE carnets SET representative_ids = array_remove(representative_ids, $2) WHERE carnet_number = $1"
            " RETURNING representative_ids",
            number,
            representative_id,
        )
    )


async def document(conn: asyncpg.Connection, number: str) -> dict[str, Any] | None:
    """The carnet's sealed document as stored (None for a carnet issued without one)."""
    raw = await conn.fetchval("SELECT document FROM carnets WHERE carnet_number = $1", number)
    return None if raw is None else json.loads(raw)


async def set_document(conn: asyncpg.Connection, number: str, doc: dict[str, Any]) -> None:
    await conn.execute("UPDATE carnets SET document = $2::jsonb WHERE carnet_number = $1", number, json.dumps(doc))


async def document_for(conn: asyncpg.Connection, number: str, party: str) -> asyncpg.Record | None:
    """The sealed document with what opening it needs, if the party may see the carnet."""
    return await conn.fetchrow(
        f"SELECT c.carnet_number, c.home_country AS nga, c.request_id, c.general_list_digest, c.document"
        f" FROM carnets c WHERE c.carnet_number = $1 AND {_VISIBLE}",
        number,
        party,
    )
