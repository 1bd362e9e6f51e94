"""Core ledger service: TransactionRecorded carries the carnet's history head. End to end through the real handlers, a
real PostgreSQL and the shipped country policy (core/policies/country_policy.json)."""

from __future__ import annotations

from contracts.kinds import DeclarationKind as K
from contracts.topics import TRANSACTIONS
from core import history_store
from core.app import build
from tests.service.conftest import outbox
from tests.support.core import NUMBER, commit, cross, declare, issue, with_key

# --- history head on TransactionRecorded --------------------------------------------------------------


async def test_transaction_recorded_carries_the_history_head(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2])
        async with service.pool.acquire() as conn:
            after_export = await history_store.check(conn, NUMBER)
        await cross(service, broker, key, clock, K.IMPORTATION, "CH", [1, 2])
        async with service.pool.acquire() as conn:
            after_import = await history_store.check(conn, NUMBER)
        created = await declare(service, K.REEXPORTATION, "CH", [1])
        await commit(broker, key, clock, created, decision="refused", refusal_reason="seal broken")
        queued = await outbox(service)
    recorded = [m for m in queued if m["type"] == "TransactionRecorded"]
    assert all((m["topic"], m["key"]) == (TRANSACTIONS.name, NUMBER) for m in recorded)
    assert [m["payload"]["decision"] for m in recorded] == ["committed", "committed", "refused"]
    assert after_export.ok and after_import.ok and (after_export.length, after_import.length) == (1, 2)
    assert recorded[0]["payload"]["history_head"] == after_export.head
    assert recorded[1]["payload"]["history_head"] == after_import.head
    assert after_export.head != after_import.head
    assert recorded[2]["payload"]["history_head"] is None  # a refusal is not appended to the chain
