"""What the gateway consumes: carnets on file (issuance), carnet status (R5, R7), the trust topics, items a
replacement took over (R6); and the shared standing a commit reads before it accepts."""

from __future__ import annotations

import logging

import asyncpg

from contracts.messages import (
    CarnetIssued,
    CarnetStatusChanged,
    DuplicateCarnetIssued,
    ItemLocationsChanged,
    Payload,
    ReplacementCarnetIssued,
    SigningKeyPublished,
    TrustListPublished,
)
from customs_gateway import repository as repo
from customs_gateway.domain import Blocked
from customs_gateway.usecases import keys
from customs_gateway.usecases.context import Gateway
from runtime.consumer import Inbound

log = logging.getLogger(__name__)


async def trust_event(gw: Gateway, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
    if isinstance(inbound.payload, TrustListPublished):
        await keys.trust_list(gw, conn, inbound)  # type: ignore[arg-type]
    elif isinstance(inbound.payload, SigningKeyPublished):
        # Unsigned: anyone who can write to the topic could send one. Keys come in signed lists only.
        gw.metrics.trust_lists("unsigned_ignored").inc()
        log.warning("unsigned key %s (message %s) ignored", inbound.payload.kid, inbound.envelope.message_id)
    else:
        await carnet_status(gw, conn, inbound)  # type: ignore[arg-type]


async def carnet_status(gw: Gateway, conn: asyncpg.Connection, inbound: Inbound[CarnetStatusChanged]) -> None:
    s = inbound.payload
    row = await repo.set_carnet_status(conn, s.carnet_number, s.status, s.rule, s.successor, s.reason, s.changed_at)
    if row["status"] == "active":
        gw.blocked.pop(s.carnet_number, None)
    else:
        gw.blocked[s.carnet_number] = Blocked(row["status"], row["rule"], row["successor"], row["reason"])


async def items_moved(gw: Gateway, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
    """R6: the items a replacement took over; the original's tokens for them are refused from now on."""
    p = inbound.payload
    if not isinstance(p, ItemLocationsChanged) or p.cause != "replacement" or p.successor is None:
        return
    items = [i.item_number for i in p.items]
    await repo.record_transfers(conn, p.carnet_number, items, p.successor, p.changed_at)
    gw.transferred.setdefault(p.carnet_number, {}).update({n: p.successor for n in items})


def standing(gw: Gateway, number: str, blocked: Blocked | None, moved: dict[int, str]) -> None:
    """One carnet's status and transfers as every instance's consumers wrote them (read with the commit's other
    reads, repository.before_commit): the caches follow what this instance consumed and reload every
    ATA_GATEWAY_CACHE_REFRESH_S, and another may have consumed a closure since."""
    stale = blocked != gw.blocked.get(number) or moved != gw.transferred.get(number, {})
    gw.metrics.cache("carnet_status", "stale" if stale else "fresh").inc()
    if blocked is None:
        gw.blocked.pop(number, None)
    else:
        gw.blocked[number] = blocked
    if moved:
        gw.transferred[number] = moved


async def issuance_events(gw: Gateway, conn: asyncpg.Connection, batch: list[Inbound[Payload]]) -> None:
    """Bulk issuance: the batch's issued and replacement carnets filed in one statement, then the
    duplicates, in order (a duplicate copies its original, filed before it)."""
    await repo.insert_carnets_on_file(
        conn,
        [
            i.payload.replacement if isinstance(i.payload, ReplacementCarnetIssued) else i.payload  # type: ignore[misc]
            for i in batch
            if isinstance(i.payload, (CarnetIssued, ReplacementCarnetIssued))
        ],
    )
    for i in batch:
        if isinstance(i.payload, DuplicateCarnetIssued):
            await issuance_event(gw, conn, i)


async def issuance_event(gw: Gateway, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
    p = inbound.payload
    if isinstance(p, CarnetIssued):
        await _carnet_on_file(conn, p)
    elif isinstance(p, ReplacementCarnetIssued):
        await _carnet_on_file(conn, p.replacement)
    elif isinstance(p, DuplicateCarnetIssued) and not await repo.copy_carnet_on_file(
        conn, p.original_number, p.duplicate_number
    ):
        log.warning(
            "duplicate %s of %s: the original is not on file (message %s)",
            p.duplicate_number,
            p.original_number,
            inbound.envelope.message_id,
        )
    # IssuanceRejected: nothing was issued


async def _carnet_on_file(conn: asyncpg.Connection, c: CarnetIssued) -> None:
    await repo.insert_carnet_on_file(
        conn,
        c.carnet_number,
        c.nga,
        list(c.countries),
        c.issue_date,
        c.expiry_date,
        c.general_list_digest,
        [i.model_dump() for i in c.items],
    )
