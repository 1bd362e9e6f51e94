"""Thin handlers of the notifier: queue deliveries from requests; a worker sends them."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx

from contracts.claims import ReminderRequested
from contracts.messages import ConfirmationDelivered, ConfirmationRequested
from contracts.topics import NOTIFICATION_EVENTS
from notifier import domain, egress, repository as repo, webpush
from notifier.handover import HandOver
from notifier.metrics import NotifierMetrics
from runtime import commit_hooks
from runtime.background import BackgroundLoop, LoopMetrics
from runtime.clock import Clock
from runtime.consumer import Inbound
from runtime.outbox import envelope_for

log = logging.getLogger(__name__)
PRODUCER = "notifier"
BATCH = 50


@dataclass(frozen=True)
class PushSettings:
    vapid: webpush.Vapid | None
    ttl_s: int


class NotifierHandlers:
    def __init__(
        self,
        metrics: NotifierMetrics,
        clock: Clock,
        *,
        timeout_s: float,
        max_attempts: int,
        guard: egress.Guard,
        push: PushSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.metrics = metrics
        self.guard = guard
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.push = push or PushSettings(None, 86400)
        self.rng = rng
        self.batch = BATCH  # deliveries (one per lane) one pass takes
        self.wake = asyncio.Event()
        # The lease outlasts one attempt's timeout: a row comes back only if its worker died mid-attempt.
        self.lease = timedelta(seconds=timeout_s * 2 + 5)
        self.handover = HandOver(self.wake)

    async def confirmation_requested(
        self, conn: asyncpg.Connection, inbound: Inbound[ConfirmationRequested | ReminderRequested]
    ) -> None:
        c = inbound.payload
        if isinstance(c, ReminderRequested):
            # A final-date reminder from the claims worker (R19): the same delivery path, its own event type;
            # the reminder id dedupes deliveries as a confirmation id does.
            event_type, delivery_key, requested_at = "reexport.reminder", c.reminder_id, c.requested_at
        else:
            event_type, delivery_key, requested_at = f"transaction.{c.decision}", c.confirmation_id, c.recorded_at
        now = self.clock()
        body = json.dumps({"type": event_type, "timestamp": now.isoformat(), "data": c.model_dump(mode="json")})
        # The first attempt is taken here only if the worker runs in this process and the commit can hand the
        # rows to it (runtime.commit_hooks); otherwise the deliveries are due now, for the scan (notifier.handover).
        hand = self.handover.accepting() and commit_hooks.collecting()
        rows = await repo.queue_deliveries(
            conn,
            recipient_ids=c.recipient_ids,
            confirmation_id=delivery_key,
            carnet_number=c.carnet_number,
            event_type=event_type,
            body=body,
            now=now,
            requested_at=requested_at,
            lease_until=now + self.lease if hand else None,
        )
        if not rows:
            commit_hooks.once_committed(self.metrics.unreachable.inc)
            log.warning(
                "%s %s for carnet %s (message %s): no endpoint for %s",
                event_type,
                delivery_key,
                c.carnet_number,
                inbound.envelope.message_id,
                ", ".join(c.recipient_ids),
            )
            return
        handed = [r for r in rows if r["handed"]]
        if handed:
            commit_hooks.after_commit(lambda: self.handover.put(handed))

    def worker(self, pool: Callable[[], asyncpg.Pool], metrics: LoopMetrics, **options: Any) -> BackgroundLoop:
        """The loop that sends deliveries: those the consumer handed over (notifier.handover), then the due ones
        when a scan is due (a NOTIFY, a lane freed, a period gone by); at once again after a full batch; through
        database outages (runtime/background.py)."""
        client: httpx.AsyncClient | None = None

        async def deliver() -> bool:
            nonlocal client
            if client is None:
                client = self.http_client()
            self.handover.open = True
            more = await self.deliver_handed(pool(), client)
            if self.handover.scan_due():
                more = await self.deliver_due(pool(), client) >= self.batch or more
            return more

        async def close() -> None:
            self.handover.close()
            if client is not None:
                await client.aclose()

        return BackgroundLoop(
            "delivery-worker",
            deliver,
            period_s=1.0,
            metrics=metrics,
            pool=pool,
            channel=repo.WAKE_CHANNEL,
            wake=self.wake,
            on_exit=close,
            on_notify=lambda _payload: self.handover.ask_scan(),
            **options,
        )

    def http_client(self) -> httpx.AsyncClient:
        """The only client deliveries go through: every connection checked by the egress guard, no redirects."""
        return egress.client(self.guard, self.timeout_s)

    async def deliver_handed(self, pool: asyncpg.Pool, client: httpx.AsyncClient) -> bool:
        """Push what the consumer handed over, each the head of its lane (distinct lanes): no statement before
        the push. Answers whether more wait."""
        rows, late = self.handover.take(self.batch, self.clock(), timedelta(seconds=self.timeout_s))
        for row in late:
            log.warning(
                "delivery %s of carnet %s (confirmation %s) waited past its lease for its first push: left to the "
                "due scan",
                row["delivery_id"],
                row["carnet_number"],
                row["confirmation_id"],
            )
        await asyncio.gather(*(self._attempt(pool, client, row) for row in rows))
        return len(self.handover) > 0

    async def deliver_due(self, pool: asyncpg.Pool, client: httpx.AsyncClient) -> int:
        self.handover.scanning()
        async with pool.acquire() as conn:
            rows = await repo.claim_due(conn, self.clock(), self.lease, self.batch)
        # One delivery per (endpoint, carnet) lane at most (repo.claim_due): concurrent across lanes, in order within.
        await asyncio.gather(*(self._attempt(pool, client, row) for row in rows))
        return len(rows)

    async def _send(self, client: httpx.AsyncClient, row: asyncpg.Record, at: datetime) -> int:
        """One HTTP request on the delivery's channel; its status code, or an exception."""
        body = row["body"].encode() if isinstance(row["body"], str) else json.dumps(row["body"]).encode()
        egress.check_url(row["url"], self.guard.policy)  # registered under another policy: checked again
        if row["channel"] == "webpush":
            if self.push.vapid is None:
                raise DeliveryImpossible("webpush_disabled", "web push is not configured (ATA_VAPID_PRIVATE_KEY_PATH)")
            confirmation = domain.is_transaction(row["event_type"])
            try:
                headers, content = webpush.build_request(
                    self.push.vapid,
                    row["url"],
                    row["p256dh"],
                    row["auth"],
                    body,
                    now=at,
                    ttl_s=self.push.ttl_s,
                    # A confirmation is awaited at the border; a reminder can wait for the phone's next wake-up.
                    urgency="high" if confirmation else "normal",
                    topic=webpush.topic_for(str(row["confirmation_id"])),
                )
            except webpush.PayloadTooLarge as exc:
                raise DeliveryImpossible("payload_too_large", str(exc)) from exc
            except webpush.SubscriptionKeyError as exc:
                raise DeliveryImpossible("subscription_keys", str(exc)) from exc
        else:
            content = body
            headers = domain.headers(
                domain.signing_secrets(row["secret"], row["previous_secret"], row["previous_secret_until"], at),
                str(row["delivery_id"]),
                int(at.timestamp()),
                body,
            )
        async with asyncio.timeout(self.timeout_s):  # the whole attempt, not each of httpx's phases
            # Streamed and never read: only the status counts, and a receiver's body, however large, stays unread.
            async with client.stream("POST", row["url"], content=content, headers=headers) as response:
                return response.status_code

    async def _attempt(self, pool: asyncpg.Pool, client: httpx.AsyncClient, row: asyncpg.Record) -> None:
        channel = row["channel"]
        started, at = time.perf_counter(), self.clock()
        # `error` is a category (delivery_attempts, the recipient's log); the detail goes to the operator's log only.
        status_code, error, detail = None, None, ""
        if not row["endpoint_active"]:
            result, error = "gone", "endpoint_disabled"
        else:
            try:
                status_code = await self._send(client, row, at)
                error = None if 200 <= status_code < 300 else f"http_{status_code}"
                result = domain.outcome(status_code, channel)
            except DeliveryImpossible as exc:
                result, error, detail = "rejected", exc.category, str(exc)
            except egress.Blocked as exc:
                # An address may change (DNS): retried on the schedule; a URL the policy refuses never will.
                result = "retry" if exc.category in ("blocked_address", "dns") else "rejected"
                error, detail = exc.category, str(exc)
            except (httpx.HTTPError, TimeoutError, OSError) as exc:
                result, error, detail = "retry", egress.failure_category(exc), f"{type(exc).__name__}: {exc}"
        if error is not None and error != "endpoint_disabled":
            self.metrics.failures(channel, error).inc()
        duration_ms = (time.perf_counter() - started) * 1000
        made = row["attempts"] - row["attempts_before_replay"]
        delay = domain.next_delay(made, self.rng) if result == "retry" and made < self.max_attempts else None
        ended = (
            "delivered"
            if result == "delivered"
            else (result if result != "retry" else "exhausted" if delay is None else None)
        )
        more = False
        if result == "delivered":
            now = self.clock()
            delivered = ConfirmationDelivered(
                confirmation_id=row["confirmation_id"],
                carnet_number=row["carnet_number"],
                recipient_id=row["recipient_id"],
                channel=channel,
                endpoint_id=row["endpoint_id"],
                attempts=row["attempts"],
                delivered_at=now,
            )
            envelope = envelope_for(delivered, key=row["carnet_number"], producer=PRODUCER)
            async with pool.acquire() as conn:  # one statement: the log, the lane and the event (no BEGIN/COMMIT)
                more = await repo.log_delivered(
                    conn,
                    row["delivery_id"],
                    row["attempts"],
                    at,
                    status_code or 0,
                    duration_ms,
                    now,
                    [(NOTIFICATION_EVENTS.name, row["carnet_number"], envelope, delivered)],
                )
            if domain.is_transaction(row["event_type"]):
                self.metrics.latency(channel).observe(max(0.0, (now - row["requested_at"]).total_seconds()))
        else:
            await self._record_failure(pool, row, result, at, status_code, error, duration_ms, delay, made)
        self.metrics.attempts(channel, result).inc()
        if ended is not None:
            self.metrics.deliveries(channel, ended).inc()
            if result != "delivered" or more:
                # The carnet's next delivery to this endpoint may go now. A delivered one says whether there is
                # one: a pass that finds nothing is a statement and a transaction per confirmation.
                self.handover.ask_scan()
        if result != "delivered":
            log.warning(
                "delivery %s of carnet %s (confirmation %s) to %s (%s): attempt %d %s%s%s",
                row["delivery_id"],
                row["carnet_number"],
                row["confirmation_id"],
                row["recipient_id"],
                channel,
                row["attempts"],
                error,
                f" ({detail})" if detail else "",
                "" if delay is not None else "; dead-lettered",
            )

    async def _record_failure(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        result: str,
        at: datetime,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        delay: timedelta | None,
        made: int,
    ) -> None:
        """A failed attempt's log row, then its next attempt or the delivery's end, in one transaction."""
        channel = row["channel"]
        async with pool.acquire() as conn, conn.transaction():
            await repo.log_attempt(conn, row["delivery_id"], row["attempts"], at, status_code, error, duration_ms)
            if delay is not None:
                await repo.reschedule(conn, row["delivery_id"], at + delay, error or "unknown")
                return
            if result == "gone" and row["endpoint_active"]:
                # Webhook 410 (Standard Webhooks) or push 404/410 (RFC 8030): the receiver wants no more.
                await repo.disable_endpoint(conn, row["endpoint_id"], f"{channel} answered {error}")
            reason = {
                "gone": f"endpoint gone: {error}",
                "rejected": f"rejected: {error}",
                "retry": f"{made} attempts failed, last: {error}",
            }[result]
            await repo.kill(conn, row["delivery_id"], reason, row["attempts"], at)


class DeliveryImpossible(Exception):
    """This message cannot be sent on this endpoint however often it is tried."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(detail)
        self.category = category
