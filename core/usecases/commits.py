"""A customs decision on a declaration's token, recorded in the ledger: re-checked (R9, R12), applied to the
items, chained into the carnet's history and confirmed to the holder."""

from __future__ import annotations

import logging
from uuid import uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from contracts.kinds import DeclarationKind
from contracts.messages import ConfirmationRequested, CustomsCommitPosted, ItemLocation, Reason, TransactionRecorded
from contracts.topics import NOTIFICATION_REQUESTS, TRANSACTIONS
from contracts.txcode import new_transaction_code
from core import (
    commit_store,
    domain,
    history,
    history_store,
    transaction_repository as transactions_repo,
)
from core.domain import Crossing
from core.usecases.context import PRODUCER, Ledger
from runtime.commit_hooks import once_committed
from runtime.consumer import Inbound
from runtime.outbox import envelope_for

log = logging.getLogger(__name__)


async def record_commit(ledger: Ledger, conn: asyncpg.Connection, inbound: Inbound[CustomsCommitPosted]) -> None:
    """Raises LookupError for a token the core never issued (the consumer dead-letters it).

    Two statements besides the inbox's (core/commit_store.py): the declaration and its carnet read under
    their locks, then the decision written; what the decision writes is computed here in between."""
    c = inbound.payload
    loaded = await commit_store.load(conn, c.token_id)
    if loaded is None:
        raise LookupError(f"commit {c.commit_id} names token {c.token_id}, which the core never issued")
    found, metrics = loaded.declaration, ledger.metrics
    if found["status"] != "pending":
        once_committed(metrics.ignored_commits.inc)
        log.warning(
            "commit %s for carnet %s (message %s): declaration %s already %s; ignored",
            c.commit_id,
            c.carnet_number,
            inbound.envelope.message_id,
            found["declaration_id"],
            found["status"],
        )
        return
    carnet = loaded.carnet
    kind = DeclarationKind(found["kind"])
    items = list(found["items"])
    crossing = Crossing.of(kind, found["country"], items, closes=found["closes"], intended_use=found["intended_use"])
    reasons = _mismatches(c, found)
    decision = c.decision
    tz = _zone(c.office_timezone)
    book = ledger.policy()
    policy = book.for_country(c.country)
    if decision == "refused":
        reasons.append(
            Reason(rule="customs", code="refused_by_customs", message=c.refusal_reason or "refused by customs")
        )
    else:
        # The ledger is re-checked at the moment and in the time zone of the office (R12).
        reasons += domain.check_declaration(carnet, crossing, c.decided_at, policy, book.label(c.country), tz)
        reasons += domain.check_final_date(carnet, c.final_date)
        if reasons:
            decision = "refused"
            log.warning(
                "commit %s for carnet %s (message %s) refused by the ledger: %s",
                c.commit_id,
                c.carnet_number,
                inbound.envelope.message_id,
                "; ".join(r.message for r in reasons),
            )
    undo = None
    if decision == "committed":
        final = domain.final_date_for(carnet, kind, c.final_date, c.decided_at, tz, policy)
        before, active_before = {n: carnet.items[n] for n in items}, carnet.active
        carnet = domain.apply_crossing(carnet, crossing, found["sequence"], final)
        # The holder's consent code for cancelling this crossing, and what undoing it restores.
        undo = transactions_repo.Undo(
            new_transaction_code(), before, {n: carnet.items[n] for n in items}, active_before
        )
    transaction_id, now = uuid4(), ledger.clock()
    recorded = TransactionRecorded(
        transaction_id=transaction_id,
        carnet_number=carnet.number,
        declaration_id=found["declaration_id"],
        commit_id=c.commit_id,
        kind=kind,
        country=c.country,
        items=items,
        sequence=found["sequence"],
        decision=decision,
        office_id=c.office_id,
        office_timezone=c.office_timezone,
        carnet_expiry=carnet.expiry_date,
        item_locations=[
            ItemLocation(
                item_number=n,
                location=carnet.items[n].location,
                country=carnet.items[n].country,
                final_date=carnet.items[n].final_date,
            )
            for n in items
        ],
        recorded_at=now,
    )
    entry = None
    if decision == "committed":
        # Hashed onto the head read under the carnet's lock; inserted with the decision below.
        entry = history_store.next_entry(
            carnet.number,
            loaded.head,
            history.CROSSING,
            history.crossing_record(recorded, officer_id=c.officer_id, decided_at=c.decided_at),
            now,
        )
        recorded = recorded.model_copy(update={"history_head": entry.appended.head})
        position = entry.position
    else:  # a refusal changes no history: it was judged against the newest entry
        position = loaded.head[0] if loaded.head else 0
    confirm = ConfirmationRequested(
        confirmation_id=uuid4(),
        carnet_number=carnet.number,
        recipient_ids=[carnet.holder_id, *carnet.representative_ids],
        transaction_id=transaction_id,
        kind=kind,
        country=c.country,
        items=items,
        decision=decision,
        recorded_at=now,
        history_position=position,
    )
    env = envelope_for(recorded, key=carnet.number, producer=PRODUCER, cause=inbound.envelope)
    await commit_store.record(
        conn,
        carnet,
        items if decision == "committed" else [],
        {
            "transaction_id": transaction_id,
            "declaration_id": found["declaration_id"],
            "commit_id": c.commit_id,
            "kind": kind.value,
            "country": c.country,
            "items": items,
            "sequence": found["sequence"],
            "decision": decision,
            "office_id": c.office_id,
            "officer_id": c.officer_id,
            "decided_at": c.decided_at,
            "recorded_at": now,
        },
        reasons,
        undo,
        entry,
        [
            (TRANSACTIONS.name, carnet.number, env, recorded),
            (
                NOTIFICATION_REQUESTS.name,
                carnet.number,
                envelope_for(confirm, key=carnet.number, producer=PRODUCER, cause=env),
                confirm,
            ),
        ],
    )
    waited = max((now - found["created_at"]).total_seconds(), 0.0)

    def count() -> None:  # once committed: a batch that falls back runs this handler again
        metrics.transactions(kind.value, c.country, decision).inc()
        metrics.declaration_to_decision(kind.value, decision).observe(waited)

    once_committed(count)


def _mismatches(c: CustomsCommitPosted, declaration: asyncpg.Record) -> list[Reason]:
    """The commit must be for exactly what was declared and signed."""
    out = []
    if c.carnet_number != declaration["carnet_number"] or c.transaction_code != declaration["transaction_code"]:
        out.append(Reason(rule="R9", message="the commit does not match the declaration's carnet or transaction code"))
    if (
        c.kind.value != declaration["kind"]
        or sorted(c.items) != list(declaration["items"])
        or c.country != declaration["country"]
    ):
        out.append(Reason(rule="R9", message="the commit's kind, country or items differ from the declaration"))
    return out


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return domain.LATEST_ZONE
