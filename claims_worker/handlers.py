"""Thin handler of the claims worker: keep the watch list in step with the ledger."""

from __future__ import annotations

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from claims_worker import domain
from contracts.messages import ItemLocationsChanged, Payload, TransactionCancelled, TransactionRecorded
from runtime.consumer import Inbound
from runtime.service import Clock


class ClaimsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transactions = Counter("ata_claims_transactions_seen_total", "Transactions taken into the watch list.",
                                    ["decision"], registry=registry).labels
        self.watch_changes = Counter("ata_claims_watch_changes_total", "Items added to or released from the watch list.",
                                     ["change"], registry=registry).labels


class ClaimsHandlers:
    def __init__(self, metrics: ClaimsMetrics, clock: Clock) -> None:
        self.metrics = metrics
        self.clock = clock

    async def ledger_event(self, conn: asyncpg.Connection, inbound: Inbound[Payload]) -> None:
        if isinstance(inbound.payload, ItemLocationsChanged):
            await self.locations_changed(conn, inbound)  # type: ignore[arg-type]
        elif isinstance(inbound.payload, TransactionRecorded | TransactionCancelled):
            await self.transaction_recorded(conn, inbound)  # type: ignore[arg-type]
        # CancellationRefused: nothing moved.

    async def locations_changed(self, conn: asyncpg.Connection, inbound: Inbound[ItemLocationsChanged]) -> None:
        c = inbound.payload
        moves, released = domain.changes(c)
        for m in moves:
            # The watch keeps its office time zone: the goods have not moved, only their carnet.
            await conn.execute(
                "UPDATE watched_items SET carnet_number = $3, final_date = $4, carnet_expiry = $5, notice_limit = $6,"
                " updated_at = $7 WHERE carnet_number = $1 AND item_number = $2",
                c.carnet_number, m.item_number, m.successor, m.final_date, c.successor_expiry, m.notice_limit, self.clock())
        if released:
            await conn.execute("DELETE FROM watched_items WHERE carnet_number = $1 AND item_number = ANY($2::int[])",
                               c.carnet_number, released)
        self.metrics.watch_changes("moved").inc(len(moves))
        self.metrics.watch_changes("released").inc(len(released))

    async def transaction_recorded(self, conn: asyncpg.Connection,
                                   inbound: Inbound[TransactionRecorded | TransactionCancelled]) -> None:
        t = inbound.payload
        watch, done = domain.watches(t)
        if watch:
            await conn.executemany(
                "INSERT INTO watched_items (carnet_number, item_number, location, country, final_date, carnet_expiry,"
                " notice_limit, office_timezone, last_transaction_id, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
                " ON CONFLICT (carnet_number, item_number) DO UPDATE SET location = EXCLUDED.location,"
                " country = EXCLUDED.country, final_date = EXCLUDED.final_date, carnet_expiry = EXCLUDED.carnet_expiry,"
                " notice_limit = EXCLUDED.notice_limit, office_timezone = EXCLUDED.office_timezone,"
                " last_transaction_id = EXCLUDED.last_transaction_id, updated_at = EXCLUDED.updated_at",
                [(t.carnet_number, w.item_number, w.location, w.country, w.final_date, t.carnet_expiry, w.notice_limit,
                  t.office_timezone, t.transaction_id, self.clock()) for w in watch],
            )
        if done:
            await conn.execute("DELETE FROM watched_items WHERE carnet_number = $1 AND item_number = ANY($2::int[])",
                               t.carnet_number, done)
        self.metrics.transactions(t.decision if isinstance(t, TransactionRecorded) else "cancelled").inc()
        self.metrics.watch_changes("watched").inc(len(watch))
        self.metrics.watch_changes("released").inc(len(done))
