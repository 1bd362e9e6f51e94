"""Cancelling a committed transaction: the officer gives the reason, the holder's cancellation code is the
consent, and the core decides (it alone knows the code and where the goods are now). The gateway checks what
it can first, so a typo costs no round trip, and learns the outcome from ata.customs.ledger.v1."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import asyncpg

from contracts.messages import CancellationPosted, CancellationRefused, Payload, TransactionCancelled
from contracts.topics import CUSTOMS_COMMITS
from contracts.txcode import TransactionCodeError, parse_transaction_code
from customs_gateway import cancellation_repository as cancellation_repo, repository as repo
from customs_gateway.domain import CommitRefused, Office, RateLimited
from customs_gateway.usecases import lookups
from customs_gateway.usecases.context import PRODUCER, Gateway
from runtime.consumer import Inbound
from runtime.outbox import emit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CancellationAsked:
    cancellation_id: UUID
    carnet_number: str
    transaction_code: str
    status: str


def _code(gw: Gateway, text: str, reason: str, what: str) -> str:
    try:
        return parse_transaction_code(text)
    except TransactionCodeError as exc:
        gw.metrics.cancellations(reason).inc()
        raise CommitRefused(reason, f"{what}: {exc}") from exc


async def ask(
    gw: Gateway,
    conn: asyncpg.Connection,
    officer_id: str,
    office: Office,
    transaction_code: str,
    cancellation_code: str,
    reason: str,
) -> CancellationAsked:
    """Check characters first, then the officer's rate limit (codes must not be guessable by trying),
    then the commit log: only a transaction committed here, by customs of the officer's country (R18)."""
    code = _code(gw, transaction_code, "bad_code", "transaction code")
    consent = _code(gw, cancellation_code, "bad_cancellation_code", "cancellation code")
    now = gw.clock()
    wait = await lookups.take_lookup(gw, conn, officer_id)
    if wait is not None:
        gw.metrics.cancellations("rate_limited").inc()
        await repo.audit(
            conn,
            now,
            "cancellation",
            "rate_limited",
            officer_id=officer_id,
            office_id=office.office_id,
            detail={"transaction_code": code},
        )
        raise RateLimited(wait)
    committed = await cancellation_repo.committed_by_code(conn, code)
    refusal = None
    if committed is None:
        refusal = CommitRefused("not_committed", "no transaction committed with this code at this gateway", 404)
    elif committed["country"] != office.country:
        refusal = CommitRefused(
            "wrong_country", f"only customs of {committed['country']} may cancel this transaction", 403
        )
    if refusal is not None:
        gw.metrics.cancellations(refusal.reason).inc()
        await repo.audit(
            conn,
            now,
            "cancellation",
            refusal.reason,
            officer_id=officer_id,
            office_id=office.office_id,
            carnet_number=committed["carnet_number"] if committed else None,
            detail={"transaction_code": code},
        )
        raise refusal
    assert committed is not None
    cancellation_id, at = uuid4(), now.astimezone(ZoneInfo(office.timezone))
    async with conn.transaction():
        live = await cancellation_repo.insert_cancellation(
            conn,
            cancellation_id=cancellation_id,
            commit_id=committed["commit_id"],
            transaction_code=code,
            carnet_number=committed["carnet_number"],
            office_id=office.office_id,
            officer_id=officer_id,
            reason=reason,
            posted_at=at,
        )
        if live is None:
            await emit(
                conn,
                CUSTOMS_COMMITS.name,
                CancellationPosted(
                    cancellation_id=cancellation_id,
                    carnet_number=committed["carnet_number"],
                    transaction_code=code,
                    cancellation_code=consent,
                    reason=reason,
                    country=office.country,
                    office_id=office.office_id,
                    office_timezone=office.timezone,
                    officer_id=officer_id,
                    posted_at=at,
                ),
                key=committed["carnet_number"],
                producer=PRODUCER,
            )
        await repo.audit(
            conn,
            at,
            "cancellation",
            "posted" if live is None else f"already_{live}",
            officer_id=officer_id,
            office_id=office.office_id,
            carnet_number=committed["carnet_number"],
            detail={
                "transaction_code": code,
                "reason": reason,
                "cancellation_id": str(cancellation_id) if live is None else None,
            },
        )
    if live is not None:
        gw.metrics.cancellations(f"already_{live}").inc()
        raise CommitRefused(f"already_{live}", f"a cancellation of this transaction is already {live}", 409)
    gw.metrics.cancellations("posted").inc()
    return CancellationAsked(cancellation_id, committed["carnet_number"], code, "pending")


async def ledger_event(gw: Gateway, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
    """The core's decision on a cancellation; every other ledger event is not the gateway's business."""
    p = inbound.payload
    if isinstance(p, TransactionCancelled):
        decided = await cancellation_repo.decide_cancellation(conn, p.cancellation_id, "cancelled", [], p.cancelled_at)
        outcome = "cancelled"
    elif isinstance(p, CancellationRefused):
        decided = await cancellation_repo.decide_cancellation(
            conn, p.cancellation_id, "refused", [r.model_dump() for r in p.reasons], p.refused_at
        )
        outcome = "refused"
        if decided:
            log.warning(
                "cancellation %s of %s on carnet %s refused by the core (message %s): %s",
                p.cancellation_id,
                p.transaction_code,
                p.carnet_number,
                inbound.envelope.message_id,
                "; ".join(r.message for r in p.reasons),
            )
    else:
        return
    if decided:
        gw.metrics.cancellations(f"core_{outcome}").inc()


async def cancellation(conn: asyncpg.Connection, cancellation_id: UUID, country: str) -> asyncpg.Record | None:
    """A cancellation asked by customs of `country` (R18), with the core's decision once made; else None."""
    row = await cancellation_repo.cancellation(conn, cancellation_id)
    return row if row is not None and row["country"] == country else None
