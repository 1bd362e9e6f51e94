"""The claims worker as its service tests drive it: goods imported with a final date, the outbox drained and
summarised, the scheduler, and a claim noticed (R19, R20)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from contracts.envelope import parse_type
from contracts.kinds import DeclarationKind as K
from contracts.topics import NOTIFICATION_REQUESTS, TRANSACTIONS, Topic
from tests.support.messages import confirmation_requested, transaction_recorded, wire

NUMBER = "FR2600000010"
EXPIRY = date(2027, 11, 21)
FINAL = date(2027, 3, 31)
ZURICH = ZoneInfo("Europe/Zurich")


def local(day: date, at: time = time(0), tz: ZoneInfo = ZURICH) -> datetime:
    return datetime.combine(day, at, tz).astimezone(UTC)


async def send(broker: Any, topic: Topic, payload: Any) -> None:
    body, headers, _ = wire(payload, producer="test", subject=payload.carnet_number)
    await broker.publish(body, topic.name, key=payload.carnet_number.encode(), headers=headers)


async def goods_imported(
    broker: Any,
    clock: Any,
    number: str = NUMBER,
    final: date = FINAL,
    items: tuple[int, ...] = (1, 2),
    tz: str = "Europe/Zurich",
    expiry: date = EXPIRY,
) -> None:
    """Exported from France, imported into Switzerland with a final date, confirmed to hld_1 and rep_1."""
    await send(broker, NOTIFICATION_REQUESTS, confirmation_requested(number, ["hld_1", "rep_1"], clock.now))
    await send(
        broker,
        TRANSACTIONS,
        transaction_recorded(
            number, K.EXPORTATION, "FR", [(i, "exported", None, None) for i in items], clock.now, carnet_expiry=expiry
        ),
    )
    await send(
        broker,
        TRANSACTIONS,
        transaction_recorded(
            number,
            K.IMPORTATION,
            "CH",
            [(i, "abroad", "CH", final) for i in items],
            clock.now,
            office_id="CH-GVA-AIR",
            office_timezone=tz,
            carnet_expiry=expiry,
        ),
    )


async def drain(service: Any) -> list[dict[str, Any]]:
    """What the service queued since the last drain, oldest first (as a relay would take it)."""
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("DELETE FROM outbox RETURNING id, topic, key, headers, payload")
    return [
        {
            "topic": r["topic"],
            "key": bytes(r["key"]).decode(),
            "type": parse_type(json.loads(r["headers"])["ce_type"])[0],
            "payload": json.loads(bytes(r["payload"])),
        }
        for r in sorted(rows, key=lambda r: r["id"])
    ]


def summary(events: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    out = []
    for e in events:
        p = e["payload"]
        if e["type"] == "ClaimStateChanged":
            out.append((e["type"], p["to_state"], p["rule"], p["on"], p["next_deadline"]))
        elif e["type"] == "ReminderRequested":
            out.append((e["type"], str(p["days_before"]), p["final_date"]))
        else:
            out.append((e["type"],))
    return out


def scheduler(service: Any) -> Any:
    return service.state["scheduler"]


async def noticed(service: Any, broker: Any, clock: Any, **kw: Any) -> UUID:
    await goods_imported(broker, clock, **kw)
    clock.now = local(date(2027, 4, 1))
    await scheduler(service).run_once(service.pool)
    (notice,) = [e for e in await drain(service) if e["type"] == "ClaimNoticeIssued"]
    return UUID(notice["payload"]["claim_id"])


async def publish_recorded(broker: Any, payload: Any) -> tuple[bytes, dict[str, str]]:
    """A TransactionRecorded (or any message of the transactions topic) as the core publishes it."""
    body, headers, _ = wire(payload, producer="core", subject=payload.carnet_number)
    await broker.publish(body, TRANSACTIONS.name, key=payload.carnet_number.encode(), headers=headers)
    return body, headers
