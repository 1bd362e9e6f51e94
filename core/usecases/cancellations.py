"""Undo a committed crossing with the holder's cancellation code and the officer's reason."""

from __future__ import annotations

import logging
from uuid import uuid4

import asyncpg

from contracts.messages import (
    CancellationPosted,
    CancellationRefused,
    ConfirmationRequested,
    ItemLocation,
    Payload,
    Reason,
    TransactionCancelled,
)
from contracts.topics import CUSTOMS_LEDGER, NOTIFICATION_REQUESTS, TRANSACTIONS
from core import history, history_store, repository as repo, transaction_repository as transactions_repo
from core.domain import LifecycleRefused
from core.domain.cancellation import cancel
from core.usecases.context import PRODUCER, Ledger
from runtime.consumer import Inbound
from runtime.outbox import add_many, emit, envelope_for

log = logging.getLogger(__name__)


async def cancel_transaction(
    ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[Payload], c: CancellationPosted
) -> None:
    """Decided once per cancellation id: a refusal is recorded and published, never raised."""
    if await transactions_repo.cancellation_decided(conn, c.cancellation_id):
        return
    now = ledger.clock()
    found = await transactions_repo.committed_by_code(conn, c.transaction_code, lock=True)
    loaded = await repo.load_carnet(conn, found["carnet_number"], lock=True) if found else None
    try:
        if found is None or loaded is None or found["carnet_number"] != c.carnet_number:
            raise LifecycleRefused(
                [
                    Reason(
                        rule="cancellation",
                        code="not_committed",
                        message=(
                            f"no committed transaction of carnet {c.carnet_number} has transaction code {c.transaction_code}"
                        ),
                    )
                ]
            )
        committed = transactions_repo.committed_of(found)
        carnet = cancel(loaded[0], committed, c.cancellation_code, c.country)
    except LifecycleRefused as exc:
        await transactions_repo.record_cancellation_request(
            conn, c.cancellation_id, c.carnet_number, c.transaction_code, c.officer_id, "refused", exc.reasons, now
        )
        # Only the gateway that posted it acts on a refusal: on its topic, not on the crossings' one.
        await emit(
            conn,
            CUSTOMS_LEDGER.name,
            CancellationRefused(
                cancellation_id=c.cancellation_id,
                carnet_number=c.carnet_number,
                transaction_code=c.transaction_code,
                reasons=exc.reasons,
                refused_at=now,
            ),
            key=c.carnet_number,
            producer=PRODUCER,
            cause=inbound.envelope,
        )
        ledger.metrics.cancellations(exc.reasons[0].code or "refused").inc()
        log.warning(
            "cancellation %s of %s on carnet %s refused (message %s): %s",
            c.cancellation_id,
            c.transaction_code,
            c.carnet_number,
            inbound.envelope.message_id,
            exc,
        )
        return
    items = sorted(committed.items_after)
    await repo.save_carnet_state(conn, carnet, items)
    await transactions_repo.mark_cancelled(
        conn, found["transaction_id"], found["declaration_id"], c.cancellation_id, now, c.officer_id, c.reason
    )
    await transactions_repo.record_cancellation_request(
        conn, c.cancellation_id, c.carnet_number, c.transaction_code, c.officer_id, "cancelled", [], now
    )
    locations = [
        ItemLocation(
            item_number=n,
            location=carnet.items[n].location,
            country=carnet.items[n].country,
            final_date=carnet.items[n].final_date,
        )
        for n in items
    ]
    record = {
        "cancellation_id": c.cancellation_id,
        "transaction_id": found["transaction_id"],
        "transaction_code": c.transaction_code,
        "kind": committed.kind.value,
        "sequence": committed.sequence,
        "reason": c.reason,
        "office_id": c.office_id,
        "officer_id": c.officer_id,
        "posted_at": c.posted_at,
        "item_locations": [loc.model_dump() for loc in locations],
    }
    appended = await history_store.append_entry(conn, carnet.number, history.CANCELLATION, record, now)
    outcome = TransactionCancelled(
        cancellation_id=c.cancellation_id,
        transaction_id=found["transaction_id"],
        carnet_number=carnet.number,
        transaction_code=c.transaction_code,
        kind=committed.kind,
        country=committed.country,
        items=items,
        sequence=committed.sequence,
        reason=c.reason,
        office_id=c.office_id,
        office_timezone=c.office_timezone,
        officer_id=c.officer_id,
        carnet_expiry=carnet.expiry_date,
        item_locations=locations,
        cancelled_at=now,
        history_head=appended.head,
    )
    # The claims worker follows the goods on the ledger's topic; the gateway that posted it, on its own.
    cancelled = envelope_for(outcome, key=carnet.number, producer=PRODUCER, cause=inbound.envelope)
    await add_many(
        conn,
        [
            (TRANSACTIONS.name, carnet.number, cancelled, outcome),
            (
                CUSTOMS_LEDGER.name,
                carnet.number,
                envelope_for(outcome, key=carnet.number, producer=PRODUCER, cause=inbound.envelope),
                outcome,
            ),
        ],
    )
    await emit(
        conn,
        NOTIFICATION_REQUESTS.name,
        ConfirmationRequested(
            confirmation_id=uuid4(),
            carnet_number=carnet.number,
            recipient_ids=[carnet.holder_id, *carnet.representative_ids],
            transaction_id=found["transaction_id"],
            kind=committed.kind,
            country=committed.country,
            items=items,
            decision="cancelled",
            recorded_at=now,
            history_position=appended.position,
        ),
        key=carnet.number,
        producer=PRODUCER,
        cause=cancelled,
    )
    ledger.metrics.cancellations("cancelled").inc()
