"""Bulk commits: a customs system posts the decisions of a whole inspection at once, machine to machine (R18).

Each item goes through the single commit's use case (`GatewayUseCases.commit`): the same checks, the same
audit rows and the same idempotence per token (a token already decided, before or earlier in the same batch,
answers "replayed"). The items share one connection and one transaction, a savepoint each: an item the
database refuses is rolled back alone, a refused item keeps its audit row, and the whole batch costs one
commit (one WAL flush, one outbox NOTIFY) instead of one per item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from uuid import UUID

import asyncpg

from customs_gateway.domain import Check, CommitRefused, MismatchRefused, Office, Verification
from customs_gateway.usecases.facade import GatewayUseCases

log = logging.getLogger(__name__)

#: Items of one batch: an inspection's declarations (a lorry, a flight's cargo), well under the body limit.
MAX_ITEMS = 200


@dataclass(frozen=True)
class BulkItem:
    token: str
    decision: str
    final_date: date | None = None
    refusal_reason: str | None = None


@dataclass(frozen=True)
class ItemOutcome:
    """What the single route would have answered for this item: 202 with the commit, or its refusal."""

    status: int
    reason: str | None = None  # None: accepted; else the single route's reason code
    message: str | None = None
    commit_id: UUID | None = None
    verification: Verification | None = None
    mismatches: tuple[Check, ...] = ()

    @property
    def outcome(self) -> str:
        return "accepted" if self.reason is None else self.reason


async def commit_batch(
    handlers: GatewayUseCases, conn: asyncpg.Connection, officer_id: str, office: Office, items: list[BulkItem]
) -> list[ItemOutcome]:
    """Every item decided in request order; the outcomes in the same order."""
    async with conn.transaction():
        outcomes = [await _one(handlers, conn, officer_id, office, i, item) for i, item in enumerate(items)]
    for outcome in outcomes:  # counted once the batch is committed
        handlers.metrics.bulk_items(outcome.outcome).inc()
    return outcomes


async def _one(
    handlers: GatewayUseCases, conn: asyncpg.Connection, officer_id: str, office: Office, index: int, item: BulkItem
) -> ItemOutcome:
    if item.decision == "refused" and not (item.refusal_reason or "").strip():
        return ItemOutcome(422, "reason_required", "a refusal states its reason")
    try:
        return await _attempt(handlers, conn, officer_id, office, item)
    except asyncpg.UniqueViolationError as exc:
        if exc.table_name != "commits":
            return _failed(officer_id, office, index, exc)
        # A concurrent commit of the same token won after this item read the commit log: the savepoint is rolled
        # back, and asked again the item reads the decision and answers "replayed", audited, as the single route.
    except asyncpg.PostgresError as exc:
        return _failed(officer_id, office, index, exc)
    try:
        return await _attempt(handlers, conn, officer_id, office, item)
    except asyncpg.PostgresError as exc:
        return _failed(officer_id, office, index, exc)


async def _attempt(
    handlers: GatewayUseCases, conn: asyncpg.Connection, officer_id: str, office: Office, item: BulkItem
) -> ItemOutcome:
    async with conn.transaction():  # a savepoint: a refusal's audit row stays, a database error goes alone
        try:
            commit_id, v = await handlers.commit(
                conn, officer_id, office, item.token, item.decision, item.final_date, item.refusal_reason
            )
        except CommitRefused as exc:
            mismatches = tuple(exc.mismatches) if isinstance(exc, MismatchRefused) else ()
            return ItemOutcome(exc.status, exc.reason, str(exc), mismatches=mismatches)
    return ItemOutcome(202, commit_id=commit_id, verification=v)


def _failed(officer_id: str, office: Office, index: int, exc: asyncpg.PostgresError) -> ItemOutcome:
    log.error(
        "bulk commit item %d of officer %s at office %s rolled back: %s", index, officer_id, office.office_id, exc
    )
    return ItemOutcome(500, "error", "this item could not be recorded; post it again")
