"""Issued carnets taken into the ledger, one by one or a bulk issuance's batch at once (R1)."""

from __future__ import annotations

import logging

import asyncpg

from contracts.messages import CarnetIssued
from core import repository as repo
from core.usecases.context import Ledger
from runtime.consumer import Inbound

log = logging.getLogger(__name__)


async def record_carnet(ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[CarnetIssued]) -> None:
    if await repo.insert_carnet(conn, inbound.payload):
        ledger.metrics.carnets.inc()
    else:
        await _known_number(ledger, conn, inbound)


async def record_carnets(ledger: Ledger, conn: asyncpg.Connection, issued: list[Inbound[CarnetIssued]]) -> None:
    """A batch's new carnets in two statements; a number already on file (or twice in the batch: the
    second is compared, as later ones are) is compared with what the ledger has."""
    first: dict[str, Inbound[CarnetIssued]] = {}
    again: list[Inbound[CarnetIssued]] = []
    for i in issued:
        if i.payload.carnet_number in first:
            again.append(i)
        else:
            first[i.payload.carnet_number] = i
    created = await repo.insert_carnets(conn, [i.payload for i in first.values()])
    ledger.metrics.carnets.inc(len(created))
    for number, i in first.items():
        if number not in created:
            await _known_number(ledger, conn, i)
    for i in again:
        await _known_number(ledger, conn, i)


async def _known_number(ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[CarnetIssued]) -> None:
    p = inbound.payload
    if await repo.carnet_identity(conn, p.carnet_number) != (p.holder_id, p.general_list_digest):
        # R1: numbers are unique worldwide; a different carnet under a known number is an issuer
        # fault. The first one stands; this one is refused loudly, never merged.
        ledger.metrics.number_collisions.inc()
        log.error(
            "carnet number collision on %s (message %s, request %s): a different carnet already has "
            "this number; ignored",
            p.carnet_number,
            inbound.envelope.message_id,
            p.request_id,
        )
