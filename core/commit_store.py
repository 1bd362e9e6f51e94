"""A customs commit's two statements besides the inbox's (core/usecases/commits.py): one read, one write.

The read locks the declaration, then its carnet (the order every commit takes them in), and reads what the
carnet's lock guards after the lock was granted (repository.LOCKED_CARNET). The write makes the whole
decision in one statement: the carnet's state, its items, the declaration's status, the transaction, the
history entry hashed onto the head the read returned, and the messages to send. A single statement is atomic,
and the history's primary key refuses a second entry at one position, so a head read under a forgotten lock
fails the commit instead of forking the chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from contracts.messages import Reason
from core import history_store, repository as repo, transaction_repository as transactions_repo
from core.domain import Carnet
from runtime.outbox import NOTIFY_QUEUED, Queued, queue_args, queue_cte

_CARNET_COLUMNS = (
    "carnet_number",
    "home_country",
    "countries",
    "expiry_date",
    "holder_id",
    "representative_ids",
    "active",
    "status",
    "successor",
)

# `d.*` and the carnet's columns prefixed `c_` (both have a carnet number, a status and a creation time).
_LOAD = (
    "WITH d AS MATERIALIZED (SELECT * FROM declarations WHERE token_id = $1 FOR UPDATE), "
    + repo.LOCKED_CARNET.format(number="(SELECT carnet_number FROM d)")
    + " SELECT d.*, "
    + ", ".join(f"c.{n} AS c_{n}" for n in _CARNET_COLUMNS)
    + f", {repo.ITEMS_NOW} AS c_item_rows, h.head_position, h.head_hash"
    " FROM d LEFT JOIN c ON true LEFT JOIN LATERAL history_head_now(c.carnet_number) h ON true"
)


@dataclass(frozen=True)
class Loaded:
    declaration: asyncpg.Record  # the declarations row, locked
    carnet: Carnet  # locked, with its items
    head: tuple[int, bytes] | None  # the history's newest (position, hash); None while it is empty


async def load(conn: asyncpg.Connection, token_id: UUID) -> Loaded | None:
    """The declaration a token was issued for and its carnet, both locked; None for a token never issued."""
    row = await conn.fetchrow(_LOAD, token_id)
    if row is None:
        return None
    head = None if row["head_position"] is None else (row["head_position"], bytes(row["head_hash"]))
    return Loaded(row, repo.carnet_of(row, "c_"), head)


_TRANSACTION_COLUMNS = (
    "transaction_id",
    "declaration_id",
    "commit_id",
    "kind",
    "country",
    "items",
    "sequence",
    "decision",
    "reasons",
    "office_id",
    "officer_id",
    "decided_at",
    "recorded_at",
    "cancellation_code",
    "items_before",
    "items_after",
    "active_before",
)
_JSONB = {"reasons", "items_before", "items_after"}
_FIRST_TRANSACTION = 12  # after the carnet ($1), its state ($2..$4) and the moved items ($5..$11)
_FIRST_ENTRY = _FIRST_TRANSACTION + len(_TRANSACTION_COLUMNS)
_FIRST_QUEUED = _FIRST_ENTRY + 7


def _param(name: str, n: int) -> str:
    return f"${n}::jsonb" if name in _JSONB else f"${n}"


_RECORD = (
    # The carnet row only when its own fields change (most crossings move items only).
    f"WITH stated AS ({repo.SET_CARNET_STATE} AND (active, status, successor) IS DISTINCT FROM ($2, $3, $4)),"
    f" moved AS ({repo.move_items(5)}),"
    # The declaration's status is its decision: a redelivered commit finds it decided and is ignored.
    f" decided AS (UPDATE declarations SET status = ${_FIRST_TRANSACTION + _TRANSACTION_COLUMNS.index('decision')}"
    f" WHERE declaration_id = ${_FIRST_TRANSACTION + _TRANSACTION_COLUMNS.index('declaration_id')}),"
    " recorded AS (INSERT INTO transactions (carnet_number, "
    + ", ".join(_TRANSACTION_COLUMNS)
    + ") VALUES ($1, "
    + ", ".join(_param(name, _FIRST_TRANSACTION + i) for i, name in enumerate(_TRANSACTION_COLUMNS))
    + f")), {history_store.insert_entry(_FIRST_ENTRY)}, {queue_cte(_FIRST_QUEUED)} {NOTIFY_QUEUED}"
)


async def record(
    conn: asyncpg.Connection,
    carnet: Carnet,
    moved: list[int],
    transaction: dict[str, Any],
    reasons: list[Reason],
    undo: transactions_repo.Undo | None,
    entry: history_store.Entry | None,
    queued: list[Queued],
) -> None:
    """The decision, in one statement. `carnet`: its state after the decision (the loaded one for a refusal,
    with `moved` empty); `transaction`: the transaction's columns but reasons and the undo data; `entry`: the
    history entry of a committed crossing (None for a refusal, which changes no history)."""
    columns = {
        **transaction,
        "reasons": json.dumps([r.model_dump() for r in reasons]),
        "cancellation_code": undo.code if undo else None,
        "items_before": transactions_repo.items_json(undo.before) if undo else None,
        "items_after": transactions_repo.items_json(undo.after) if undo else None,
        "active_before": undo.active_before if undo else None,
    }
    await conn.execute(
        _RECORD,
        carnet.number,
        carnet.active,
        carnet.status,
        carnet.successor,
        *repo.moved_args(carnet, moved),
        *(columns[name] for name in _TRANSACTION_COLUMNS),
        *(entry.args() if entry else [None] * 7),
        *queue_args(queued),
    )
