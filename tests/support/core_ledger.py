"""What the core's life-cycle service tests share: the ledger's rows and snapshots, the life-cycle counter, and items
that stop being liable. The helpers every core test shares are in tests/support/core.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.topics import CUSTOMS_COMMITS, ISSUANCE_EVENTS
from core.app import build
from tests.service.conftest import outbox
from tests.support.core import NUMBER, fetch, goods_in, issue, publish, replacement_carnet, with_key
from tests.support.databases import snapshot
from tests.support.messages import items_accounted_for, replacement_issued


async def items_of(service: Any, number: str) -> dict[int, dict[str, Any]]:
    rows = await fetch(service, "SELECT * FROM items WHERE carnet_number = $1", number)
    return {r["item_number"]: dict(r) for r in rows}


async def carnet_row(service: Any, number: str) -> dict[str, Any] | None:
    rows = await fetch(service, "SELECT * FROM carnets WHERE carnet_number = $1", number)
    return dict(rows[0]) if rows else None


async def state(service: Any) -> dict[str, list[tuple]]:
    async with service.pool.acquire() as conn:
        return await snapshot(conn, "core")


def without_inbox(snap: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    return {k: v for k, v in snap.items() if k != "inbox"}


def lifecycle(service: Any, event: str, outcome: str) -> float:
    return service.registry.get_sample_value("ata_carnet_lifecycle_total", {"event": event, "outcome": outcome}) or 0.0


def status_changes(queued: list[dict[str, Any]]) -> list[tuple[str, str | None, str, str, str | None]]:
    return [
        (m["topic"], m["key"], m["payload"]["status"], m["payload"]["rule"], m["payload"]["successor"])
        for m in queued
        if m["type"] == "CarnetStatusChanged"
    ]


# --- R6: replacement --------------------------------------------------------------------------------


REQUESTED = datetime(2027, 10, 1, 8, 0, tzinfo=UTC)
APPROVED = datetime(2027, 10, 3, 8, 0, tzinfo=UTC)


async def stop_being_liable(settings: Any, clock: Any, running: Any, event: str) -> list[dict[str, Any]]:
    """Goods in CH, then a duty receipt for item 2 (R17) or a replacement taking both over (R6): what was queued."""
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        await goods_in(service, broker, key, clock, "CH", [1, 2])
        before = len(await outbox(service))
        if event == "duty_receipt":
            await publish(broker, items_accounted_for(NUMBER, [2], "CH", clock.now), CUSTOMS_COMMITS.name, NUMBER)
        else:
            clock.now = APPROVED  # R6: the ledger receives the approval when it is given
            await publish(
                broker,
                replacement_issued(NUMBER, replacement_carnet(), REQUESTED, APPROVED),
                ISSUANCE_EVENTS.name,
                NUMBER,
            )
        assert lifecycle(service, event, "applied") == 1
        return (await outbox(service))[before:]
