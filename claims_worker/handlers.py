"""Thin handler of the claims worker: keep the watch list in step with the ledger."""

from __future__ import annotations

import asyncpg
from prometheus_client import CollectorRegistry, Counter

from claims_worker import domain
from contracts.messages import TransactionRecorded
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

    async def transaction_recorded(self, conn: asyncpg.Connection, inbound: Inbound[TransactionRecorded]) -> None:
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
        self.metrics.transactions(t.decision).inc()
        self.metrics.watch_changes("watched").inc(len(watch))
        self.metrics.watch_changes("released").inc(len(done))
