"""The per-carnet hash chain in the core's `history` table (migration 0003); hashing is in core.history.

What is hashed for each row is its *entry*:

    {"carnet_number": ..., "position": n, "event": ..., "recorded_at": <UTC, canonical>, "record": <record>}

so a changed event name, recording time or position is caught like a changed record, and a chain
copied under another carnet number does not verify. `record` is stored as the JSON-native form
that was hashed, and verification recomputes the hash from the decoded jsonb.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from core.history import GENESIS, ChainCheck, canonical, link, to_native, verify


@dataclass(frozen=True)
class HistoryEntry:
    position: int
    event: str
    record: dict[str, Any]
    prev_hash: bytes
    hash: bytes
    recorded_at: datetime


def entry_document(
    carnet_number: str, position: int, event: str, recorded_at: datetime, record: Mapping[str, Any]
) -> dict[str, Any]:
    """What the chain hashes for one row (made canonical by `link`, which refuses what cannot be)."""
    return {
        "carnet_number": carnet_number,
        "position": position,
        "event": event,
        "recorded_at": recorded_at,
        "record": record,
    }


@dataclass(frozen=True)
class Appended:
    position: int
    head: str  # the new head hash, hex


async def append(
    conn: asyncpg.Connection, carnet_number: str, event: str, record: Mapping[str, Any], recorded_at: datetime
) -> str:
    """Append `record` to the carnet's chain; returns the new head hash, hex (`append_entry` for its position)."""
    return (await append_entry(conn, carnet_number, event, record, recorded_at)).head


async def last_position(conn: asyncpg.Connection, carnet_number: str) -> int:
    """The position of the carnet's newest history entry, 0 if it has none."""
    return await conn.fetchval("SELECT COALESCE(max(position), 0) FROM history WHERE carnet_number = $1", carnet_number)


async def append_entry(
    conn: asyncpg.Connection, carnet_number: str, event: str, record: Mapping[str, Any], recorded_at: datetime
) -> Appended:
    """Append `record` to the carnet's chain; returns the new entry's position and the new head hash.

    Call it inside the transaction that makes the change being recorded, after locking the
    carnet's row (`SELECT ... FROM carnets WHERE carnet_number = $1 FOR UPDATE`, as the core does
    before any change): the lock is what keeps two appends from reading the same last position.
    The lock is taken again here, a no-op when the caller holds it, and the primary key refuses a
    second row at one position, so a forgotten lock fails instead of forking the chain.
    Raises LookupError for an unknown carnet, `core.history.NotCanonical` (a ValueError) for a
    record that has no canonical form, and RuntimeError outside a transaction.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("history.append must run inside the caller's transaction")
    if not isinstance(event, str) or not event:
        raise ValueError("an event needs a name")
    if not await conn.fetchval("SELECT true FROM carnets WHERE carnet_number = $1 FOR UPDATE", carnet_number):
        raise LookupError(f"unknown carnet {carnet_number}")
    native = to_native(record)
    last = await conn.fetchrow(
        "SELECT position, hash FROM history WHERE carnet_number = $1 ORDER BY position DESC LIMIT 1", carnet_number
    )
    position, prev = (last["position"] + 1, bytes(last["hash"])) if last else (1, GENESIS)
    digest = link(prev, entry_document(carnet_number, position, event, recorded_at, native))
    await conn.execute(
        "INSERT INTO history (carnet_number, position, event, record, prev_hash, hash, recorded_at)"
        " VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
        carnet_number,
        position,
        event,
        canonical(native).decode("utf-8"),
        prev,
        digest,
        recorded_at,
    )
    return Appended(position, digest.hex())


async def entries(conn: asyncpg.Connection, carnet_number: str) -> list[HistoryEntry]:
    """The carnet's chain, oldest first (one statement: one consistent snapshot)."""
    rows = await conn.fetch(
        "SELECT position, event, record, prev_hash, hash, recorded_at FROM history WHERE carnet_number = $1"
        " ORDER BY position",
        carnet_number,
    )
    return [
        HistoryEntry(
            r["position"],
            r["event"],
            json.loads(r["record"]),
            bytes(r["prev_hash"]),
            bytes(r["hash"]),
            r["recorded_at"],
        )
        for r in rows
    ]


def check_entries(carnet_number: str, chain: list[HistoryEntry]) -> ChainCheck:
    """Verify entries already read (so a caller can show them and their check from one read)."""
    return verify(
        [
            (
                e.position,
                entry_document(carnet_number, e.position, e.event, e.recorded_at, e.record),
                e.prev_hash,
                e.hash,
            )
            for e in chain
        ]
    )


async def check(conn: asyncpg.Connection, carnet_number: str) -> ChainCheck:
    """Read and verify the carnet's chain."""
    return check_entries(carnet_number, await entries(conn, carnet_number))
