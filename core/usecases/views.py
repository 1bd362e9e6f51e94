"""What the holder API reads (no writes): each answer in the calls it needs, None for a carnet that is unknown
or not the caller's alike (R1: the API does not tell strangers which carnet numbers exist)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from contracts.messages import SealedDocument
from core import (
    history_store,
    holder_repository as holders,
    repository as repo,
    transaction_repository as transactions_repo,
)
from core.history import ChainCheck
from core.history_store import HistoryEntry

MaySee = Callable[[asyncpg.Connection, str, Any], Awaitable[Any]]

#: The carnets the party holds or represents, newest first (one query).
carnets = holders.carnets_of
#: The declaration if the party may see its carnet (one query).
declaration = holders.declaration_for
#: A customs gateway's typed-code lookup: the declaration under this canonical transaction code (one query).
declaration_by_code = repo.declaration_by_code


async def carnet(
    conn: asyncpg.Connection, number: str, party: str
) -> tuple[asyncpg.Record, list[asyncpg.Record]] | None:
    """The carnet row with the party's role, and its items."""
    row = await holders.carnet_for(conn, number, party)
    return None if row is None else (row, await holders.items(conn, number))


async def transactions(conn: asyncpg.Connection, number: str, party: str) -> list[asyncpg.Record] | None:
    """Every customs decision recorded on the carnet."""
    if await holders.role_on(conn, number, party) is None:
        return None
    return await transactions_repo.transactions(conn, number)


async def verified_history(
    conn: asyncpg.Connection, number: str, caller: Any, may_see: MaySee | None
) -> tuple[list[HistoryEntry], ChainCheck] | None:
    """The carnet's hash chain read in one statement and verified; `may_see(conn, number, caller)`, when given,
    must be truthy for the caller to see it."""
    if may_see is not None and not await may_see(conn, number, caller):
        return None
    chain = await history_store.entries(conn, number)
    if not chain and not await repo.carnet_exists(conn, number):
        return None
    return chain, history_store.check_entries(number, chain)


async def sealed_document(
    conn: asyncpg.Connection, number: str, party: str
) -> tuple[asyncpg.Record, SealedDocument | None] | None:
    """The carnet's document with only the party's own sealed key (None beside the row when nothing is
    sealed for the party: a carnet issued without a document, or a representative it was not resealed for)."""
    row = await holders.document_for(conn, number, party)
    if row is None:
        return None
    document = SealedDocument.model_validate_json(row["document"]) if row["document"] else None
    mine = [r for r in document.recipients if r.recipient_id == party] if document else []
    return row, document.model_copy(update={"recipients": mine}) if document and mine else None
