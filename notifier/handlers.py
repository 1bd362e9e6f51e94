"""Thin handlers of the notifier: queue deliveries from requests; a worker sends them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import timedelta
from uuid import uuid4

import asyncpg
import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram

from contracts.claims import ReminderRequested
from contracts.messages import ConfirmationDelivered, ConfirmationRequested
from contracts.topics import NOTIFICATION_EVENTS
from notifier import domain, repository as repo
from runtime.consumer import Inbound
from runtime.metrics import LATENCY_BUCKETS
from runtime.outbox import emit
from runtime.service import Clock

log = logging.getLogger(__name__)
PRODUCER = "notifier"
BATCH = 50


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter("ata_deliveries_total", "Deliveries by channel and outcome.", ["channel", "outcome"],
                                  registry=registry).labels
        self.attempts = Counter("ata_delivery_attempts_total", "Delivery attempts by channel and outcome.",
                                ["channel", "outcome"], registry=registry).labels
        self.unreachable = Counter("ata_confirmations_without_endpoint_total",
                                   "Confirmations for recipients with no registered endpoint.", registry=registry)
        self.latency = Histogram("ata_confirmation_latency_seconds",
                                 "Time from transaction recorded to confirmation delivered.", ["channel"],
                                 buckets=LATENCY_BUCKETS, registry=registry).labels


class NotifierHandlers:
    def __init__(self, metrics: NotifierMetrics, clock: Clock, *, timeout_s: float, max_attempts: int) -> None:
        self.metrics = metrics
        self.clock = clock
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.wake = asyncio.Event()

    async def confirmation_requested(self, conn: asyncpg.Connection,
                                     inbound: Inbound[ConfirmationRequested | ReminderRequested]) -> None:
        c = inbound.payload
        if isinstance(c, ReminderRequested):
            # A final-date reminder from the claims worker (R19): the same delivery path, its own event type;
            # the reminder id dedupes deliveries as a confirmation id does.
            event_type, delivery_key, requested_at = "reexport.reminder", c.reminder_id, c.requested_at
        else:
            event_type, delivery_key, requested_at = f"transaction.{c.decision}", c.confirmation_id, c.recorded_at
        endpoints = await repo.active_endpoints(conn, c.recipient_ids)
        if not endpoints:
            self.metrics.unreachable.inc()
            log.warning("%s %s for carnet %s (message %s): no endpoint for %s", event_type, delivery_key,
                        c.carnet_number, inbound.envelope.message_id, ", ".join(c.recipient_ids))
            return
        body = json.dumps({"type": event_type, "timestamp": self.clock().isoformat(), "data": c.model_dump(mode="json")})
        for e in endpoints:
            await repo.add_delivery(conn, delivery_id=uuid4(), confirmation_id=delivery_key, endpoint_id=e["endpoint_id"],
                                    recipient_id=e["recipient_id"], carnet_number=c.carnet_number,
                                    event_type=event_type, body=body, due=self.clock(), requested_at=requested_at)

    async def run_worker(self, pool: asyncpg.Pool) -> None:
        """Send due deliveries until cancelled; woken by NOTIFY, polls once a second otherwise."""
        async with httpx.AsyncClient(timeout=self.timeout_s) as client:
            listener = await pool.acquire()
            wake = lambda *_: self.wake.set()  # noqa: E731
            try:
                await listener.add_listener(repo.WAKE_CHANNEL, wake)
                while True:
                    self.wake.clear()
                    try:
                        sent = await self.deliver_due(pool, client)
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                        log.warning("delivery worker: database unavailable, retrying: %s", exc)
                        sent = 0
                    if sent < BATCH:
                        try:
                            await asyncio.wait_for(self.wake.wait(), timeout=1.0)
                        except TimeoutError:
                            pass
            finally:
                with contextlib.suppress(Exception):
                    await listener.remove_listener(repo.WAKE_CHANNEL, wake)
                await pool.release(listener)

    async def deliver_due(self, pool: asyncpg.Pool, client: httpx.AsyncClient) -> int:
        async with pool.acquire() as conn:
            rows = await repo.claim_due(conn, self.clock(), timedelta(seconds=self.timeout_s * 2), BATCH)
        await asyncio.gather(*(self._attempt(pool, client, row) for row in rows))
        return len(rows)

    async def _attempt(self, pool: asyncpg.Pool, client: httpx.AsyncClient, row: asyncpg.Record) -> None:
        body = row["body"].encode() if isinstance(row["body"], str) else json.dumps(row["body"]).encode()
        started, at = time.perf_counter(), self.clock()
        status_code, error = None, None
        if not row["endpoint_active"]:
            error = "endpoint disabled"
        else:
            headers = domain.headers([row["secret"]], str(row["delivery_id"]), int(at.timestamp()), body)
            try:
                response = await client.post(row["url"], content=body, headers=headers)
                status_code = response.status_code
                error = None if 200 <= status_code < 300 else f"HTTP {status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        duration_ms = (time.perf_counter() - started) * 1000
        result = "gone" if error == "endpoint disabled" else domain.outcome(status_code)
        async with pool.acquire() as conn, conn.transaction():
            await repo.log_attempt(conn, row["delivery_id"], row["attempts"], at, status_code, error, duration_ms)
            if result == "delivered":
                now = self.clock()
                await repo.mark_delivered(conn, row["delivery_id"], now)
                await emit(conn, NOTIFICATION_EVENTS.name, ConfirmationDelivered(
                    confirmation_id=row["confirmation_id"], carnet_number=row["carnet_number"],
                    recipient_id=row["recipient_id"], channel="webhook", endpoint_id=row["endpoint_id"],
                    attempts=row["attempts"], delivered_at=now,
                ), key=row["carnet_number"], producer=PRODUCER)
                self.metrics.latency("webhook").observe(max(0.0, (now - row["requested_at"]).total_seconds()))
            elif result == "gone":
                await repo.disable_endpoint(conn, row["endpoint_id"])
                await repo.reschedule(conn, row["delivery_id"], None, error or "HTTP 410")
            else:
                delay = domain.next_delay(row["attempts"]) if row["attempts"] < self.max_attempts else None
                await repo.reschedule(conn, row["delivery_id"], at + delay if delay else None, error or "unknown")
        self.metrics.attempts("webhook", result).inc()
        if result != "retry" or row["attempts"] >= self.max_attempts:
            self.metrics.deliveries("webhook", "delivered" if result == "delivered" else "dead").inc()
        if result != "delivered":
            log.warning("delivery %s of carnet %s to %s: attempt %d %s", row["delivery_id"], row["carnet_number"],
                        row["recipient_id"], row["attempts"], error)
