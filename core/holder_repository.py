"""Raw SQL for the holder API: what a party may see, and sharing a carnet with representatives.

Every read takes the calling party and returns nothing for a carnet it is neither the holder of
nor a representative on, so the API cannot leak a carnet's existence by mistake. Shares live in
`carnets.representative_ids` (the issuer's representatives plus those the holder added), the
list the core already notifies on every transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal
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
        f"SELECT c.*, {_ROLE} FROM carnets c WHERE c.carnet_number = $1 AND {_VISIBLE}", number, party)


async def role_on(conn: asyncpg.Connection, number: str, party: str) -> Role | None:
    return await conn.fetchval(f"SELECT {_ROLE} FROM carnets c WHERE c.carnet_number = $1 AND {_VISIBLE}", number, party)


async def items(conn: asyncpg.Connection, number: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT item_number, location, country, final_date FROM items WHERE carnet_number = $1 ORDER BY item_number", number)


async def declaration_for(conn: asyncpg.Connection, declaration_id: UUID, party: str) -> asyncpg.Record | None:
    """The declaration if the party may see its carnet; None for unknown and not-yours alike."""
    return await conn.fetchrow(
        f"SELECT d.*, t.cancellation_code FROM declarations d JOIN carnets c USING (carnet_number)"
        f" LEFT JOIN transactions t ON t.declaration_id = d.declaration_id AND t.decision = 'committed'"
        f" WHERE d.declaration_id = $1 AND {_VISIBLE}",
        declaration_id, party,
    )


@dataclass(frozen=True)
class ShareResult:
    """`outcome`: unknown (no such carnet, or the party cannot see it), forbidden (a representative
    may not share), added / already (share), removed / not_shared (revoke)."""

    outcome: Literal["unknown", "forbidden", "added", "already", "removed", "not_shared"]
    representative_ids: tuple[str, ...] = ()


async def _lock_for_holder(conn: asyncpg.Connection, number: str, party: str) -> ShareResult | asyncpg.Record:
    # FOR UPDATE: shares and declarations of one carnet serialise on its row (a declaration in
    # flight sees the representative either shared or not, never half-way).
    row = await conn.fetchrow(
        "SELECT holder_id, representative_ids FROM carnets WHERE carnet_number = $1 FOR UPDATE", number)
    if row is None or (row["holder_id"] != party and party not in row["representative_ids"]):
        return ShareResult("unknown")
    if row["holder_id"] != party:
        return ShareResult("forbidden")
    return row


async def share(conn: asyncpg.Connection, number: str, party: str, representative_id: str,
                sealed_key: str | None = None) -> ShareResult:
    """The holder `party` shares the carnet with `representative_id`; sharing twice changes nothing but the
    sealed key, when given: the document's data key the holder's wallet sealed for the representative."""
    async with conn.transaction():
        row = await _lock_for_holder(conn, number, party)
        if isinstance(row, ShareResult):
            return row
        if sealed_key is not None:
            await _set_recipient(conn, number, representative_id, sealed_key)
        if representative_id in row["representative_ids"]:
            return ShareResult("already", tuple(row["representative_ids"]))
        updated = await conn.fetchval(
            "UPDATE carnets SET representative_ids = array_append(representative_ids, $2) WHERE carnet_number = $1"
            " RETURNING representative_ids", number, representative_id)
    return ShareResult("added", tuple(updated))


async def revoke(conn: asyncpg.Connection, number: str, party: str, representative_id: str) -> ShareResult:
    """The holder `party` stops sharing the carnet with `representative_id`."""
    async with conn.transaction():
        row = await _lock_for_holder(conn, number, party)
        if isinstance(row, ShareResult):
            return row
        if representative_id not in row["representative_ids"]:
            return ShareResult("not_shared", tuple(row["representative_ids"]))
        await _set_recipient(conn, number, representative_id, None)
        updated = await conn.fetchval(
            "UPDATE carnets SET representative_ids = array_remove(representative_ids, $2) WHERE carnet_number = $1"
            " RETURNING representative_ids", number, representative_id)
    return ShareResult("removed", tuple(updated))


async def _set_recipient(conn: asyncpg.Connection, number: str, recipient_id: str, sealed_key: str | None) -> None:
    """Add, replace (or with None remove) one recipient's sealed key of the carnet's document, if it has one.

    Removing the key stops serving it; a representative who kept the data key could still open the
    ciphertext they already fetched, which no server can take back."""
    raw = await conn.fetchval("SELECT document FROM carnets WHERE carnet_number = $1", number)
    if raw is None:
        return
    document = json.loads(raw)
    kept = [r for r in document["recipients"] if r["recipient_id"] != recipient_id]
    if sealed_key is not None:
        kept.append({"recipient_id": recipient_id, "sealed_key": sealed_key})
    document["recipients"] = kept
    await conn.execute("UPDATE carnets SET document = $2::jsonb WHERE carnet_number = $1", number, json.dumps(document))


async def document_for(conn: asyncpg.Connection, number: str, party: str) -> asyncpg.Record | None:
    """The sealed document with what opening it needs, if the party may see the carnet."""
    return await conn.fetchrow(
        f"SELECT c.carnet_number, c.home_country AS nga, c.request_id, c.general_list_digest, c.document"
        f" FROM carnets c WHERE c.carnet_number = $1 AND {_VISIBLE}", number, party)
