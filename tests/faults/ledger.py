"""Count, from the services' own records, what became of every acknowledged commit.

Only the tables the promise is about are read: the gateway's commit log (customs_gateway.commits), the core's
ledger (core.transactions, with core.declarations to find a declaration's token) and the notifier's delivery
log (notifier.deliveries). No service internals, so the services can change how they get there.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import asyncpg

from tests.faults.load import Crossing


async def count(
    conn: asyncpg.Connection, crossings: list[Crossing], recipients: list[str], webhook_ids: list[str]
) -> dict[str, Any]:
    numbers = sorted({c.carnet_number for c in crossings})
    # The gateway logs a commit by token; the core knows which declaration each token signs.
    logged = await conn.fetch(
        "SELECT d.declaration_id::text AS declaration_id, g.commit_id::text AS commit_id "
        "FROM customs_gateway.commits g JOIN core.declarations d ON d.token_id = g.token_id "
        "WHERE g.carnet_number = ANY($1)",
        numbers,
    )
    recorded = await conn.fetch(
        "SELECT transaction_id::text AS transaction_id, declaration_id::text AS declaration_id, "
        "commit_id::text AS commit_id, decision FROM core.transactions WHERE carnet_number = ANY($1)",
        numbers,
    )
    deliveries = await conn.fetch(
        "SELECT confirmation_id::text AS confirmation_id, recipient_id, status, body FROM notifier.deliveries "
        "WHERE carnet_number = ANY($1)",
        numbers,
    )

    log_by_declaration = Counter(r["declaration_id"] for r in logged)
    commit_of = {r["declaration_id"]: r["commit_id"] for r in logged}
    rows_by_declaration: dict[str, list[asyncpg.Record]] = {}
    for r in recorded:
        rows_by_declaration.setdefault(r["declaration_id"], []).append(r)
    delivered: Counter[tuple[str, str]] = Counter()  # (transaction id, recipient) -> delivered confirmations
    for d in deliveries:
        body = d["body"] if isinstance(d["body"], dict) else json.loads(d["body"])
        if d["status"] == "delivered":
            delivered[(body["data"]["transaction_id"], d["recipient_id"])] += 1

    acked = [c for c in crossings if c.outcome == "acknowledged"]
    figures: dict[str, Any] = Counter()
    problems: list[str] = []
    for c in acked:
        logs, rows = log_by_declaration[c.declaration_id], rows_by_declaration.get(c.declaration_id, [])
        figures["logged_once"] += logs == 1
        figures["recorded"] += len(rows) == 1
        figures["lost"] += not rows
        figures["duplicates"] += max(0, len(rows) - 1)
        if logs != 1 or len(rows) != 1:
            problems.append(
                f"{c.carnet_number} declaration {c.declaration_id}: {logs} gateway log rows, {len(rows)} ledger rows"
            )
        if c.commit_id is not None and commit_of.get(c.declaration_id) not in (None, c.commit_id):
            problems.append(
                f"{c.declaration_id}: the gateway logged {commit_of[c.declaration_id]}, answered {c.commit_id}"
            )
        for row in rows:
            figures["ledger_refusals"] += row["decision"] != "committed"
            if row["commit_id"] != commit_of.get(c.declaration_id):
                problems.append(
                    f"{c.declaration_id}: the ledger recorded commit {row['commit_id']}, "
                    f"the gateway logged {commit_of.get(c.declaration_id)}"
                )
            for recipient in recipients:
                n = delivered[(row["transaction_id"], recipient)]
                figures["confirmations"] += n == 1
                figures["confirmations_missing"] += n == 0
                figures["confirmation_duplicates"] += max(0, n - 1)
                if n != 1:
                    problems.append(
                        f"{c.carnet_number} transaction {row['transaction_id']}: {n} delivered "
                        f"confirmations to {recipient}"
                    )
    acked_ids = {c.declaration_id for c in acked}
    figures["logged_not_acknowledged"] = sum(1 for r in logged if r["declaration_id"] not in acked_ids)
    figures["confirmations_expected"] = len(acked) * len(recipients)
    figures["webhook_receipts"] = len(webhook_ids)
    figures["webhook_redeliveries"] = len(webhook_ids) - len(set(webhook_ids))
    keys = (
        "logged_once",
        "recorded",
        "lost",
        "duplicates",
        "ledger_refusals",
        "confirmations_expected",
        "confirmations",
        "confirmations_missing",
        "confirmation_duplicates",
        "logged_not_acknowledged",
        "webhook_receipts",
        "webhook_redeliveries",
    )
    return {**{k: int(figures[k]) for k in keys}, "problems": problems[:20]}


def settled(figures: dict[str, Any]) -> bool:
    """Every acknowledged commit recorded and confirmed to everyone (duplicates would still show in the figures)."""
    return figures["lost"] == 0 and figures["confirmations_missing"] == 0
