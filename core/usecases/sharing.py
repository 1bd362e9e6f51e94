"""R1: the holder shares a carnet with a representative, or stops sharing it. Only the holder decides; a
representative acts on the carnet only while it is shared with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import asyncpg

from core import holder_repository as holders


@dataclass(frozen=True)
class ShareResult:
    """`outcome`: unknown (no such carnet, or the party cannot see it), forbidden (a representative
    may not share), added / already (share), removed / not_shared (revoke)."""

    outcome: Literal["unknown", "forbidden", "added", "already", "removed", "not_shared"]
    representative_ids: tuple[str, ...] = ()


async def share(
    conn: asyncpg.Connection, number: str, party: str, representative_id: str, sealed_key: str | None = None
) -> ShareResult:
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
        return ShareResult("added", await holders.add_representative(conn, number, representative_id))


async def revoke(conn: asyncpg.Connection, number: str, party: str, representative_id: str) -> ShareResult:
    """The holder `party` stops sharing the carnet with `representative_id`."""
    async with conn.transaction():
        row = await _lock_for_holder(conn, number, party)
        if isinstance(row, ShareResult):
            return row
        if representative_id not in row["representative_ids"]:
            return ShareResult("not_shared", tuple(row["representative_ids"]))
        await _set_recipient(conn, number, representative_id, None)
        return ShareResult("removed", await holders.remove_representative(conn, number, representative_id))


async def _lock_for_holder(conn: asyncpg.Connection, number: str, party: str) -> ShareResult | asyncpg.Record:
    row = await holders.lock_shares(conn, number)
    if row is None or (row["holder_id"] != party and party not in row["representative_ids"]):
        return ShareResult("unknown")
    if row["holder_id"] != party:
        return ShareResult("forbidden")
    return row


async def _set_recipient(conn: asyncpg.Connection, number: str, recipient_id: str, sealed_key: str | None) -> None:
    """Add, replace (or with None remove) one recipient's sealed key of the carnet's document, if it has one.

    Removing the key stops serving it; a representative who kept the data key could still open the
    ciphertext they already fetched, which no server can take back."""
    document = await holders.document(conn, number)
    if document is None:
        return
    kept = [r for r in document["recipients"] if r["recipient_id"] != recipient_id]
    if sealed_key is not None:
        kept.append({"recipient_id": recipient_id, "sealed_key": sealed_key})
    document["recipients"] = kept
    await holders.set_document(conn, number, document)
