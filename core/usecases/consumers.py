"""The core's topic consumers: each record goes to the one use case its payload names."""

from __future__ import annotations

import asyncpg

from contracts.messages import (
    CancellationPosted,
    CarnetIssued,
    DuplicateCarnetIssued,
    ItemsAccountedFor,
    Payload,
    ReplacementCarnetIssued,
)
from core.usecases import cancellations, commits, intake, lifecycle
from core.usecases.context import Ledger
from runtime.consumer import Inbound


async def issuance_event(ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
    p = inbound.payload
    if isinstance(p, CarnetIssued):
        await intake.record_carnet(ledger, conn, inbound)  # type: ignore[arg-type]
    elif isinstance(p, DuplicateCarnetIssued):
        await lifecycle.duplicate(ledger, conn, inbound, p)
    elif isinstance(p, ReplacementCarnetIssued):
        await lifecycle.replacement(ledger, conn, inbound, p)
    # IssuanceRejected shares the topic; the ledger has nothing to record for it.


async def issuance_events(ledger: Ledger, conn: asyncpg.Connection, batch: list[Inbound[Payload]]) -> None:
    """Bulk issuance: a batch's new carnets in two statements, then the rest one by one, in order
    (a duplicate or replacement always follows its original, which is then on file)."""
    await intake.record_carnets(ledger, conn, [i for i in batch if isinstance(i.payload, CarnetIssued)])  # type: ignore[misc]
    for i in batch:
        if not isinstance(i.payload, CarnetIssued):
            await issuance_event(ledger, conn, i)


async def customs_event(ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
    if isinstance(inbound.payload, ItemsAccountedFor):
        await lifecycle.account_for(ledger, conn, inbound, inbound.payload)
    elif isinstance(inbound.payload, CancellationPosted):
        await cancellations.cancel_transaction(ledger, conn, inbound, inbound.payload)
    else:
        await commits.record_commit(ledger, conn, inbound)  # type: ignore[arg-type]
