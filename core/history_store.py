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


@dataclass(frozen=True)
class Entry:
    """A history row hashed onto the head it follows, for `append_entry` or a caller's statement (`insert_entry`)."""

    carnet_number: str
    position: int
    event: str
    record: str  # the canonical JSON that was hashed, for the jsonb column
    prev_hash: bytes
    hash: bytes
    recorded_at: datetime

    @property
    def appended(self) -> Appended:
        return Appended(self.position, self.hash.hex())

    def args(self) -> list[Any]:
        """The parameters of `insert_entry`, in its order."""
        return [
            self.carnet_number,
            self.position,
            self.event,
            self.record,
            self.prev_hash,
            self.hash,
            self.recorded_at,
        ]


def next_entry(
    carnet_number: str,
    head: tuple[int, bytes] | None,
    event: str,
    record: Mapping[str, Any],
    recorded_at: datetime,
) -> Entry:
    """The entry that follows `head` (the newest entry's position and hash, None for an empty chain), which
    must have been read under the carnet's row lock. Raises `core.history.NotCanonical` (a ValueError) for
    a record that has no canonical form."""
    if not isinstance(event, str) or not event:
        raise ValueError("an event needs a name")
    native = to_native(record)
    position, prev = (head[0] + 1, bytes(head[1])) if head else (1, GENESIS)
    digest = link(prev, entry_document(carnet_number, position, event, recorded_at, native))
    return Entry(carnet_number, position, event, canonical(native).decode("utf-8"), prev, digest, recorded_at)


def insert_entry(first: int) -> str:
    """A CTE `chained` inserting `Entry.args()` given in parameters $first..$first+6, for a statement that writes
    the change being recorded too; all seven NULL insert nothing."""
    n, p, e, r, ph, h, at = (f"${first + i}" for i in range(7))
    return (
        "chained AS (INSERT INTO history (carnet_number, position, event, record, prev_hash, hash, recorded_at)"
        f" SELECT {n}::text, {p}::int, {e}::text, {r}::jsonb, {ph}::bytea, {h}::bytea, {at}::timestamptz"
        f" WHERE {p}::int IS NOT NULL)"
    )


#: The carnet's row locked, then its newest entry read after the lock (history_head_now, migration 0009).
_LOCKED_HEAD = (
    "WITH c AS MATERIALIZED (SELECT carnet_number FROM carnets WHERE carnet_number = $1 FOR UPDATE)"
    " SELECT h.head_position, h.head_hash FROM c LEFT JOIN LATERAL history_head_now(c.carnet_number) h ON true"
)


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
    head = await conn.fetchrow(_LOCKED_HEAD, carnet_number)
    if head is None:
        raise LookupError(f"unknown carnet {carnet_number}")
    last = None if head["head_position"] is None else (head["head_position"], bytes(head["head_hash"]))
    entry = next_entry(carnet_number, last, event, record, recorded_at)
    await conn.execute(f"WITH {insert_entry(1)} SELECT 1", *entry.args())
    return entry.appended


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
