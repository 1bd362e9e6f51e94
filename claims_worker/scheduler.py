"""The deadline scheduler: acts on every due deadline exactly once, in due order, across restarts
and across worker instances.

One deadline per transaction: take the oldest due pending row `FOR UPDATE SKIP LOCKED` (another
instance skips it while we hold it), act, write the outbox rows and mark the row acted, commit.
A crash before the commit leaves the row pending for the next pass or instance; after it, the row
is acted and never taken again. "Now" is the injected clock, so a downtime is caught up by the
first pass after it, oldest deadline first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, uuid4, uuid5
from zoneinfo import ZoneInfo

import asyncpg

from claims_worker import claims as machine, repository as repo
from claims_worker.handlers import ClaimsHandlers
from contracts import claims as c
from contracts.claims import ClaimState as S
from contracts.deadlines import r19_overdue_at, r20_discharged_at
from contracts.periods import local_date
from contracts.topics import CLAIMS_NGA_NOTICES, NOTIFICATION_REQUESTS
from runtime.background import BackgroundLoop, LoopMetrics
from runtime.clock import Clock
from runtime.outbox import emit

log = logging.getLogger(__name__)
PRODUCER = "claims_worker"
MAX_ATTEMPTS = 5
#: Deadlines one pass of the loop acts on at most; the next pass follows at once.
PASS_LIMIT = 500
RETRY_AFTER = timedelta(minutes=5)
#: The horizon of `ata_claims_deadlines_within_7d`: the R19 reminders' last-but-one step (30/7/1 days before).
SOON = timedelta(days=7)
#: Reminder ids are derived from the deadline, so a reminder rebuilt from the same row has the same id.
REMINDER_NAMESPACE = uuid5(NAMESPACE_URL, "urn:ata:claims:reminder")


class Scheduler:
    def __init__(
        self, handlers: ClaimsHandlers, clock: Clock, *, instance: str | None = None, poll_s: float = 30.0
    ) -> None:
        self.handlers = handlers
        self.metrics = handlers.metrics
        self.clock = clock
        self.instance = instance or uuid4().hex[:12]
        self.poll_s = poll_s

    def loop(self, pool: Callable[[], asyncpg.Pool], metrics: LoopMetrics, **options: Any) -> BackgroundLoop:
        """Act on what is due every poll interval, through database outages (runtime/background.py); a
        catch-up goes in passes of PASS_LIMIT deadlines, so a long one is not taken for a stuck loop."""

        async def act_on_due() -> bool:
            return await self.run_once(pool(), limit=PASS_LIMIT) >= PASS_LIMIT

        return BackgroundLoop(
            "claims-scheduler", act_on_due, period_s=self.poll_s, metrics=metrics, pool=pool, **options
        )

    async def run_once(self, pool: asyncpg.Pool, *, limit: int | None = None) -> int:
        """Act on every deadline due at the clock's now (at most `limit`); returns how many this instance acted on."""
        now, acted = self.clock(), 0
        while limit is None or acted < limit:
            async with pool.acquire() as conn:
                row = None
                try:
                    async with conn.transaction():
                        row = await repo.take_due(conn, now)
                        if row is None:
                            break
                        outcome = await self.act(conn, row, now)
                        await repo.mark_acted(conn, row["deadline_id"], outcome, now, self.instance)
                except (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError):
                    raise  # the surroundings, not the deadline: the row stays pending
                except Exception as exc:
                    if row is None:
                        raise
                    await self.failed(conn, row, exc, now)
                    continue
            self.metrics.deadlines_acted(row["kind"], outcome).inc()
            acted += 1
        await self.measure(pool, now)
        return acted

    async def failed(self, conn: asyncpg.Connection, row: asyncpg.Record, exc: Exception, now: datetime) -> None:
        attempts = await repo.mark_failed(
            conn, row["deadline_id"], f"{type(exc).__name__}: {exc}", now + RETRY_AFTER, MAX_ATTEMPTS
        )
        self.metrics.deadlines_failed(row["kind"]).inc()
        log.exception(
            "claims scheduler: deadline %s (%s) of carnet %s failed, attempt %d of %d",
            row["deadline_id"],
            row["kind"],
            row["carnet_number"],
            attempts,
            MAX_ATTEMPTS,
        )

    async def measure(self, pool: asyncpg.Pool, now: datetime) -> None:
        async with pool.acquire() as conn:
            stats = await repo.due_stats(conn, now)
            counts = await repo.claim_counts(conn)
            soon = await repo.pending_soon(conn, now, now + SOON)
        self.metrics.deadlines_due.set(stats["due"])
        for kind in repo.ACTION_DEADLINES:
            self.metrics.deadlines_soon(kind).set(soon.get(kind, 0))
        self.metrics.lag.set((now - stats["oldest"]).total_seconds() if stats["oldest"] else 0.0)
        for state in S:
            self.metrics.by_state(state.value).set(counts.get(state.value, 0))

    # --- acting ---------------------------------------------------------------------------------

    async def act(self, conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> str:
        kind = row["kind"]
        if kind == "reminder":
            return await self.remind(conn, row, now)
        if kind == "overdue":
            return await self.overdue(conn, row, now)
        claim = await repo.claim_for_update(conn, row["claim_id"])
        today = local_date(now, ZoneInfo(row["office_timezone"]))
        if claim is None:
            raise LookupError(f"deadline {row['deadline_id']} names no claim {row['claim_id']}")
        if kind == "evidence_window" and claim.state is S.NOTICED:
            await self.handlers.apply(conn, machine.expire_evidence_window(claim, today), now, None)
            claim = await repo.claim_for_update(conn, claim.claim_id)
            assert claim is not None
            return "memo_issued" if await self.handlers.issue_memo(conn, claim, now, None) else "awaiting_duties"
        if kind == "payment" and claim.state is S.DUTY_MEMO:
            await self.handlers.apply(conn, machine.payment_overdue(claim, today), now, None)
            return "payment_overdue"
        if kind == "refund_window" and claim.state is S.PAID:
            await self.handlers.apply(conn, machine.close_refund_window(claim, today), now, None)
            return "settled"
        return "stale"  # the claim moved on before its deadline (evidence came, payment made)

    async def remind(self, conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> str:
        tz = ZoneInfo(row["office_timezone"])
        if now >= r19_overdue_at(row["last_day"], [], tz):
            return "stale"  # caught up after the final date itself: the overdue check takes over
        items = await repo.items_still_chased(conn, row["carnet_number"], row["country"], list(row["items"]))
        if not items:
            return "stale"
        recipients = await repo.recipients(conn, row["carnet_number"])
        if not recipients:
            log.warning(
                "claims scheduler: no recipient known for carnet %s; reminder %s not sent",
                row["carnet_number"],
                row["dedupe_key"],
            )
            return "no_recipient"
        await emit(
            conn,
            NOTIFICATION_REQUESTS.name,
            c.ReminderRequested(
                reminder_id=uuid5(REMINDER_NAMESPACE, f"{row['carnet_number']}:{row['dedupe_key']}"),
                carnet_number=row["carnet_number"],
                recipient_ids=recipients,
                country=row["country"],
                items=items,
                final_date=row["last_day"],
                days_before=row["days_before"],
                requested_at=now,
            ),
            key=row["carnet_number"],
            producer=PRODUCER,
        )
        return "sent"

    async def overdue(self, conn: asyncpg.Connection, row: asyncpg.Record, now: datetime) -> str:
        """R19 then R20: open the claim and notify the association, or find it discharged."""
        items = await repo.items_still_chased(conn, row["carnet_number"], row["country"], list(row["items"]))
        if not items:
            return "stale"
        tz = ZoneInfo(row["office_timezone"])
        today = local_date(now, tz)
        opened = machine.open_overdue(
            uuid4(),
            row["carnet_number"],
            row["country"],
            tuple(items),
            row["office_timezone"],
            row["carnet_expiry"],
            row["last_day"],
            today,
        )
        await self.handlers.apply(conn, opened, now, None)
        step = machine.give_notice(opened.claim, today)
        await self.handlers.apply(conn, step, now, None)
        s = step.claim
        if s.state is not S.NOTICED:
            log.warning(
                "claims scheduler: carnet %s items %s in %s overdue, but the association is discharged (R20) "
                "since %s: no notice",
                s.carnet_number,
                list(s.items),
                s.country,
                r20_discharged_at(s.carnet_expiry, tz).isoformat(),
            )
            return "discharged"
        assert s.notice_date and s.evidence_deadline
        await emit(
            conn,
            CLAIMS_NGA_NOTICES.name,
            c.ClaimNoticeIssued(
                claim_id=s.claim_id,
                carnet_number=s.carnet_number,
                nga=s.nga,
                country=s.country,
                items=list(s.items),
                reexport_deadline=s.reexport_deadline,
                carnet_expiry=s.carnet_expiry,
                notice_date=s.notice_date,
                evidence_deadline=s.evidence_deadline,
                issued_at=now,
            ),
            key=s.carnet_number,
            producer=PRODUCER,
        )
        return "noticed"
