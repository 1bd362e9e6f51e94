"""Publishing an outbox row straight after its transaction commits, without the relay's transaction.

The writer keeps each queued row in memory (`Hints`, keyed by message id) and flags it `direct` in the
outbox. The statement that queues rows NOTIFYs the relay with the ids of its direct rows; PostgreSQL delivers
a NOTIFY only when the transaction commits, and in commit order, so the relay of the process that wrote the
rows learns from it which rows committed, publishes them from memory and deletes them later, many per
statement, in its next take (`TAKE_BATCH`'s `done`). Relays of other processes hold no hint for those ids and
pass over them.

Nothing is lost on the way: a direct row is still in the outbox until its publication is acknowledged and
then deleted; the relay's take passes over direct rows younger than `DIRECT_GRACE_S` (their writer is
publishing them) and takes older ones like any other (the writer crashed, or the broker refused it), so a
crash costs a duplicate at most, which the consumers' inboxes absorb.

Per-key order: a row is queued direct only when no earlier row of its topic and key is still in the outbox
(in any process); otherwise it goes the relay's way, which holds it back until the earlier one is gone. One
process publishes its direct rows in the order their transactions committed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

#: Statements queuing more rows than this (bulk issuance) go the relay's way: its batches are cheaper per row,
#: and the NOTIFY payload (8,000 bytes at most) carries about 55 bytes per direct row.
DIRECT_MAX_ROWS = 64
#: Rows larger than this go the relay's way (an issued carnet's sealed document): the memory a writer keeps for
#: its relay stays small however large the messages it queues.
DIRECT_MAX_BYTES = 64 * 1024
#: How long the relay's take leaves a direct row to its writer. Longer than a publish normally takes; a row
#: whose writer crashed goes out this much later.
DIRECT_GRACE_S = 3.0
#: Hints no notification claimed (the transaction rolled back, or the row went the relay's way) are dropped
#: after this, or when the store is full: the row is in the outbox either way.
HINT_TTL_S = 30.0
HINT_CAP = 4096
HINT_BYTES_CAP = 32 * 1024 * 1024


@dataclass(slots=True, frozen=True)
class Hint:
    topic: str
    key: bytes | None
    headers: str
    payload: bytes
    at: float  # monotonic, when queued


class Hints:
    """The rows this process queued direct, until its relay publishes them or they expire. Bounded by count
    and age; `active` counts the relays of this process that publish direct (without one, nothing is flagged
    direct, and rows wait for no grace)."""

    def __init__(
        self,
        cap: int = HINT_CAP,
        ttl_s: float = HINT_TTL_S,
        monotonic: Callable[[], float] = time.monotonic,
        bytes_cap: int = HINT_BYTES_CAP,
    ):
        self.cap = cap
        self.ttl_s = ttl_s
        self.bytes_cap = bytes_cap
        self.monotonic = monotonic
        self.active = 0
        self._rows: dict[str, Hint] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._rows)

    def wanted(self, rows: int) -> bool:
        return self.active > 0 and 0 < rows <= DIRECT_MAX_ROWS

    def add(self, message_id: UUID, topic: str, key: bytes | None, headers: str, payload: bytes) -> None:
        now = self.monotonic()
        rows = self._rows
        size = _size(headers, payload)
        # Insertion order is age order: the oldest are at the front.
        while rows and (
            len(rows) >= self.cap
            or self._bytes + size > self.bytes_cap
            or next(iter(rows.values())).at < now - self.ttl_s
        ):
            self._bytes -= _size((gone := rows.pop(next(iter(rows)))).headers, gone.payload)
        rows[str(message_id)] = Hint(topic, key, headers, payload, now)
        self._bytes += size

    def take(self, message_id: str) -> Hint | None:
        hint = self._rows.pop(message_id, None)
        if hint is not None:
            self._bytes -= _size(hint.headers, hint.payload)
        return hint

    @property
    def bytes(self) -> int:
        return self._bytes


def _size(headers: str, payload: bytes) -> int:
    return len(headers) + len(payload)


def parse_notice(payload: str) -> tuple[bool, list[tuple[int, str]]]:
    """(whether the relay should take, the (id, message id) of the direct rows) from a NOTIFY payload: '' or a
    leading '+' asks for a take (rows that are not direct, or a writer that names none); the rest is
    `id:message_id` pairs separated by commas. A malformed pair is skipped (its row waits for the take)."""
    take = payload == "" or payload.startswith("+")
    direct: list[tuple[int, str]] = []
    for part in payload.lstrip("+").split(","):
        row_id, sep, message_id = part.partition(":")
        if sep and row_id.isdigit() and len(message_id) == 36:
            direct.append((int(row_id), message_id))
    return take, direct


def row_of(row_id: int, message_id: str, hint: Hint) -> dict[str, Any]:
    """The hint as the relay's publisher reads a taken outbox row (`publish_batches`)."""
    return {
        "id": row_id,
        "message_id": message_id,
        "topic": hint.topic,
        "key": hint.key,
        "headers": hint.headers,
        "payload": hint.payload,
        "queued_at": hint.at,
    }


#: The process's store: the relay that publishes a row direct is the one in the process that queued it.
HINTS = Hints()
