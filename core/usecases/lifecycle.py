"""A carnet's life outside crossings: duplicates (R5), replacements (R6), duty receipts (R17), closure (R7)."""

from __future__ import annotations

import logging

import asyncpg

from contracts.messages import (
    CarnetStatusChanged,
    CarnetSuccessionDecided,
    DuplicateCarnetIssued,
    ItemLocation,
    ItemLocationsChanged,
    ItemsAccountedFor,
    Payload,
    Reason,
    ReplacementCarnetIssued,
)
from contracts.topics import CARNET_STATUS, CUSTOMS_LEDGER, ISSUANCE_OUTCOMES, TRANSACTIONS
from core import domain, history, history_store, repository as repo
from core.domain import LifecycleRefused
from core.usecases.context import PRODUCER, Ledger
from runtime.consumer import Inbound
from runtime.outbox import add_many, emit, envelope_for

log = logging.getLogger(__name__)


async def duplicate(
    ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[Payload], d: DuplicateCarnetIssued
) -> None:
    """R5: the duplicate takes over; the original is voided."""
    loaded = await repo.load_carnet(conn, d.original_number, lock=True)
    if loaded is None:
        # Same key as the original's CarnetIssued, so it cannot be still on its way: truly unknown.
        return await _unknown_original(
            ledger, conn, inbound, d.request_id, "duplicate", d.original_number, d.duplicate_number
        )
    original, row = loaded
    try:
        voided, copy = domain.duplicate(original, d.duplicate_number)
    except LifecycleRefused as exc:
        await _decided(ledger, conn, inbound, d.request_id, "duplicate", d.original_number, d.duplicate_number, exc)
        return _refused(ledger, "duplicate", d.original_number, inbound, exc)
    await repo.save_carnet_state(conn, voided, [])
    await repo.insert_successor(conn, copy, row)
    now = ledger.clock()
    # Both chains say it: the original where it ends, the duplicate where it begins.
    await history_store.append(conn, original.number, history.DUPLICATE, d.model_dump(), now)
    await history_store.append(conn, copy.number, history.DUPLICATE, d.model_dump(), now)
    await _status(
        ledger,
        conn,
        inbound,
        original.number,
        "voided",
        "R5",
        copy.number,
        f"replaced by duplicate {copy.number} ({d.reason})",
    )
    await _moved(ledger, conn, inbound, original.number, "duplicate", "R5", copy.left_home(), copy)
    await _decided(ledger, conn, inbound, d.request_id, "duplicate", original.number, copy.number)
    ledger.metrics.lifecycle("duplicate", "applied").inc()


async def replacement(
    ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[Payload], r: ReplacementCarnetIssued
) -> None:
    """R6: the replacement takes over the items abroad, if its times agree with the ledger's clock."""
    loaded = await repo.load_carnet(conn, r.original_number, lock=True)
    if loaded is None:
        return await _unknown_original(
            ledger, conn, inbound, r.request_id, "replacement", r.original_number, r.replacement.carnet_number
        )
    original, row = loaded
    new = r.replacement
    fresh = domain.Carnet(
        number=new.carnet_number,
        home_country=new.nga,
        countries=tuple(new.countries),
        expiry_date=new.expiry_date,
        holder_id=new.holder_id,
        representative_ids=tuple(new.representative_ids),
        items={i.item_number: domain.Item(i.item_number) for i in new.items},
    )
    book = ledger.policy()
    try:
        kept, taken_over, moved = domain.replacement(
            original, fresh, r.requested_at, r.approved_at, book.for_country, now=ledger.clock()
        )
    except LifecycleRefused as exc:
        await _decided(ledger, conn, inbound, r.request_id, "replacement", r.original_number, new.carnet_number, exc)
        for code in {x.code for x in exc.reasons} & domain.R6_CLOCK_CODES:
            ledger.metrics.r6_timestamps_refused(code).inc()
        return _refused(ledger, "replacement", r.original_number, inbound, exc)
    await repo.save_carnet_state(conn, kept, moved)
    await repo.insert_successor(conn, taken_over, row, issued=new)
    record = {
        "request_id": r.request_id,
        "original_number": original.number,
        "replacement_number": new.carnet_number,
        "requested_at": r.requested_at,
        "approved_at": r.approved_at,
        "items_transferred": sorted(moved),
    }
    for number in (original.number, new.carnet_number):
        await history_store.append(conn, number, history.REPLACEMENT, record, ledger.clock())
    await _moved(
        ledger, conn, inbound, original.number, "replacement", "R6", [taken_over.items[n] for n in moved], taken_over
    )
    await _decided(ledger, conn, inbound, r.request_id, "replacement", original.number, new.carnet_number)
    ledger.metrics.lifecycle("replacement", "applied").inc()


async def account_for(
    ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[Payload], a: ItemsAccountedFor
) -> None:
    """R17: items customs accounted for with a duty receipt; raises LookupError for an unknown carnet."""
    loaded = await repo.load_carnet(conn, a.carnet_number, lock=True)
    if loaded is None:
        raise LookupError(f"duty receipt {a.duty_receipt} names unknown carnet {a.carnet_number}")
    try:
        carnet = domain.account_for(loaded[0], a.items, a.country, a.duty_receipt)
    except LifecycleRefused as exc:
        return _refused(ledger, "duty_receipt", a.carnet_number, inbound, exc)
    await repo.save_carnet_state(conn, carnet, sorted(set(a.items)))
    await history_store.append(conn, a.carnet_number, history.DUTY_RECEIPT, a.model_dump(), ledger.clock())
    await _moved(
        ledger, conn, inbound, a.carnet_number, "duty_receipt", "R17", [carnet.items[n] for n in sorted(set(a.items))]
    )
    ledger.metrics.lifecycle("duty_receipt", "applied").inc()


async def close(ledger: Ledger, conn: asyncpg.Connection, carnet_number: str, party: str) -> domain.Closing:
    """R7: the holder returns a discharged carnet. Raises LookupError for an unknown carnet or one that is
    not the party's, LifecycleRefused while an item is still abroad."""
    async with conn.transaction():
        loaded = await repo.load_carnet(conn, carnet_number, lock=True)
        if loaded is None or loaded[0].holder_id != party:
            raise LookupError(carnet_number)
        try:
            closed, closing = domain.close(loaded[0], party)
        except LifecycleRefused as exc:
            _refused(ledger, "closure", carnet_number, None, exc)
            raise
        now = ledger.clock()
        await repo.close_carnet(conn, carnet_number, now, closing.reason)
        await history_store.append(
            conn,
            carnet_number,
            history.CLOSURE,
            {
                "party": party,
                "reason": closing.reason,
                "home": closing.home,
                "accounted": closing.accounted,
                "transferred": closing.transferred,
                "closed_at": now,
            },
            now,
        )
        await _status(ledger, conn, None, carnet_number, "closed", "R7", closed.successor, closing.reason)
    ledger.metrics.lifecycle("closure", "applied").inc()
    return closing


async def _status(
    ledger: Ledger,
    conn: asyncpg.Connection,
    cause: Inbound[Payload] | None,
    number: str,
    status: str,
    rule: str,
    successor: str | None,
    reason: str,
) -> None:
    await emit(
        conn,
        CARNET_STATUS.name,
        CarnetStatusChanged(
            carnet_number=number,
            status=status,
            rule=rule,
            successor=successor,
            reason=reason,
            changed_at=ledger.clock(),
        ),
        key=number,
        producer=PRODUCER,
        cause=cause.envelope if cause else None,
    )


async def _moved(
    ledger: Ledger,
    conn: asyncpg.Connection,
    cause: Inbound[Payload],
    carnet_number: str,
    why: str,
    rule: str,
    items: list[domain.Item],
    successor: domain.Carnet | None = None,
) -> None:
    """Tell watchers of goods abroad (the claims worker) what a non-crossing event did to them."""
    if not items:
        return
    moved = ItemLocationsChanged(
        carnet_number=carnet_number,
        cause=why,
        rule=rule,
        items=[
            ItemLocation(item_number=i.number, location=i.location, country=i.country, final_date=i.final_date)
            for i in items
        ],
        successor=successor.number if successor else None,
        successor_expiry=successor.expiry_date if successor else None,
        changed_at=ledger.clock(),
    )
    topics = [TRANSACTIONS.name]
    if why == "replacement":  # R6: the gateways refuse the original's tokens for these items from now on
        topics.append(CUSTOMS_LEDGER.name)
    await add_many(
        conn,
        [
            (
                topic,
                carnet_number,
                envelope_for(moved, key=carnet_number, producer=PRODUCER, cause=cause.envelope),
                moved,
            )
            for topic in topics
        ],
    )


def _refused(ledger: Ledger, event: str, number: str, inbound: Inbound[Payload] | None, exc: LifecycleRefused) -> None:
    ledger.metrics.lifecycle(event, "refused").inc()
    log.warning(
        "%s for carnet %s refused (message %s): %s", event, number, inbound.envelope.message_id if inbound else "-", exc
    )


async def _decided(
    ledger: Ledger,
    conn: asyncpg.Connection,
    inbound: Inbound[Payload],
    request_id: str,
    kind: str,
    original: str,
    successor: str,
    refused: LifecycleRefused | None = None,
) -> None:
    """Tell the issuer (and through it the NGA that asked) whether the ledger took the successor."""
    await emit(
        conn,
        ISSUANCE_OUTCOMES.name,
        CarnetSuccessionDecided(
            request_id=request_id,
            kind=kind,
            original_number=original,
            successor_number=successor,
            outcome="refused" if refused else "applied",
            reasons=refused.reasons if refused else [],
            decided_at=ledger.clock(),
        ),
        key=original,
        producer=PRODUCER,
        cause=inbound.envelope,
    )


async def _unknown_original(
    ledger: Ledger,
    conn: asyncpg.Connection,
    inbound: Inbound[Payload],
    request_id: str,
    kind: str,
    original: str,
    successor: str,
) -> None:
    """The NGA gets a refusal rather than silence (a dead letter would answer nobody)."""
    rule = "R5" if kind == "duplicate" else "R6"
    log.warning(
        "%s %s names unknown carnet %s (message %s): refused", kind, successor, original, inbound.envelope.message_id
    )
    ledger.metrics.lifecycle(kind, "refused").inc()
    await _decided(
        ledger,
        conn,
        inbound,
        request_id,
        kind,
        original,
        successor,
        LifecycleRefused(
            [Reason(rule=rule, code="unknown_original", message=f"the ledger knows no carnet {original}")]
        ),
    )
