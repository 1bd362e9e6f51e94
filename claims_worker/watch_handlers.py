"""Thin handlers of the claims worker's watch list: it follows the ledger (ata.transactions.v1) and learns whom
to remind from the confirmations (ata.notifications.requests.v1), each in its consumer's transaction."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from claims_worker import domain, repository as repo, watch_repository as watch_repo
from claims_worker.metrics import ClaimsMetrics
from contracts import claims as c
from contracts.kinds import DeclarationKind
from contracts.messages import (
    ConfirmationRequested,
    ItemLocationsChanged,
    Payload,
    TransactionCancelled,
    TransactionRecorded,
)
from contracts.topics import CLAIMS_EVENTS
from runtime.clock import Clock
from runtime.commit_hooks import once_committed
from runtime.consumer import Inbound
from runtime.outbox import Queued, envelope_for

log = logging.getLogger(__name__)
PRODUCER = "claims_worker"


class WatchListHandlers:
    """The watch list of items away from home follows the ledger (R13, R19, R20, R27)."""

    def __init__(self, metrics: ClaimsMetrics, clock: Clock) -> None:
        self.metrics = metrics
        self.clock = clock

    # --- the ledger (ata.transactions.v1) and whom to remind (ata.notifications.requests.v1) ----

    async def ledger_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        if isinstance(inbound.payload, ItemLocationsChanged):
            await self.locations_changed(conn, inbound)  # type: ignore[arg-type]
        elif isinstance(inbound.payload, TransactionRecorded | TransactionCancelled):
            await self.transaction_recorded(conn, inbound)  # type: ignore[arg-type]
        # CancellationRefused: nothing moved.

    async def locations_changed(self, conn: asyncpg.Connection, inbound: Inbound[ItemLocationsChanged]) -> None:
        ch = inbound.payload
        moves, released = domain.changes(ch)
        if ch.successor and ch.successor_expiry:
            await repo.set_expiry(conn, ch.successor, ch.successor_expiry, self.clock())
        for m in moves:
            await watch_repo.move_watch(conn, ch.carnet_number, m, ch.successor_expiry, self.clock())
        if released:
            await watch_repo.release(conn, ch.carnet_number, released)
        await self.replan(conn, ch.carnet_number)
        if ch.successor:
            await self.replan(conn, ch.successor)
        self.metrics.watch_changes("moved").inc(len(moves))
        self.metrics.watch_changes("released").inc(len(released))

    async def transaction_recorded(
        self, conn: asyncpg.Connection, inbound: Inbound[TransactionRecorded | TransactionCancelled]
    ) -> None:
        t, now = inbound.payload, self.clock()
        watch, done = domain.watches(t)
        if watch or done:
            # At most two statements, whatever the items: the writes with the plan's inputs as they leave them, then
            # the plan if it changed.
            home = (
                isinstance(t, TransactionRecorded)
                and t.decision == "committed"
                and t.kind is DeclarationKind.REIMPORTATION
            )
            inputs, abroad, pending = await watch_repo.record_transaction(
                conn,
                carnet_number=t.carnet_number,
                carnet_expiry=t.carnet_expiry,
                office_timezone=t.office_timezone,
                transaction_id=t.transaction_id,
                now=now,
                watch=watch,
                done=done,
                abroad_of=done if home else [],
            )
            await self.replace_plan(
                conn, t.carnet_number, inputs, self.home_without_departure(inbound, abroad), pending
            )
        else:
            await repo.set_expiry(conn, t.carnet_number, t.carnet_expiry, now)
        decided, watched, released = (
            t.decision if isinstance(t, TransactionRecorded) else "cancelled",
            len(watch),
            len(done),
        )

        def count() -> None:
            self.metrics.transactions(decided).inc()
            self.metrics.watch_changes("watched").inc(watched)
            self.metrics.watch_changes("released").inc(released)

        once_committed(count)

    def home_without_departure(self, inbound: Inbound[Payload], abroad: dict[str, list[int]]) -> list[Queued]:
        """R27 (seed 001): goods re-imported home while the watch list still had them abroad or in transit
        (`abroad`, per country): their departure from that country was never validated. Flag the regularization
        fee that country's customs may charge "even if a claim does not occur"."""
        t = inbound.payload
        flags: list[Queued] = []
        for country, numbers in abroad.items():
            log.warning(
                "claims: carnet %s items %s came home without a validated departure from %s (message %s): "
                "R27 fee flagged",
                t.carnet_number,
                numbers,
                country,
                inbound.envelope.message_id,
            )  # type: ignore[attr-defined]
            flag = c.RegularizationFeeFlagged(
                claim_id=None,
                carnet_number=t.carnet_number,
                country=country,
                items=numbers,  # type: ignore[attr-defined]
                reason=f"re-imported home without a validated departure from {country}",
                flagged_at=self.clock(),
            )
            envelope = envelope_for(flag, key=t.carnet_number, producer=PRODUCER, cause=inbound.envelope)  # type: ignore[attr-defined]
            flags.append((CLAIMS_EVENTS.name, t.carnet_number, envelope, flag))  # type: ignore[attr-defined]
            once_committed(self.metrics.fee_flags("reimportation").inc)
        return flags

    async def notification_request(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        """The holder and representatives a crossing was confirmed to are the ones to remind (R19)."""
        p = inbound.payload
        if isinstance(p, ConfirmationRequested):
            await repo.set_recipients(conn, p.carnet_number, p.recipient_ids, self.clock())
        # ReminderRequested is ours: nothing to learn from it.

    async def replan(self, conn: asyncpg.Connection, carnet_number: str) -> None:
        await self.replace_plan(conn, carnet_number, await watch_repo.plan_inputs(conn, carnet_number), [])

    async def replace_plan(
        self,
        conn: asyncpg.Connection,
        carnet_number: str,
        inputs: watch_repo.PlanInputs,
        queued: list[Queued],
        pending: set[tuple[Any, ...]] | None = None,
    ) -> None:
        """R19: recompute the carnet's reminders and overdue checks from the watch list and seizures;
        items already under a claim are chased by the claim, not planned again. `queued` goes with it.
        `pending`: the carnet's pending ones (watch_repo.plan_rows), when known: the same plan again writes nothing."""
        claimed, watching, seized = inputs
        watched = [w for w in watching if (w.country, w.item_number) not in claimed]
        planned = domain.plan(watched, seized)
        if queued or pending is None or watch_repo.plan_rows(planned) != pending:
            await watch_repo.replace_planned(conn, carnet_number, planned, self.clock(), queued)
