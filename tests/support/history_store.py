"""What the core's history tests share: a schema-only core service, seeded chains, writes past the append-only
trigger."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from core import history_store
from core.history import CROSSING, DUTY_RECEIPT
from runtime.service import Service
from tests.support.core import insert_carnet_row

NUMBER = "FR2600000010"
OTHER = "FR2600000028"
PARIS = ZoneInfo("Europe/Paris")


def build(settings: Any, *, clock: Any) -> Service:
    """The core's schema and pool only (core/migrations, 0003 included), without core.app's wiring, which
    needs the wallet identity key and is not what these tests are about."""
    return Service("core", settings, Path(history_store.__file__).parent / "migrations", clock=clock)


def crossing(n: int, kind: str, country: str, items: list[int]) -> dict[str, Any]:
    """Typed values (UUIDs, aware datetimes in a local zone) and keys jsonb will reorder (it sorts by length first)."""
    return {
        "transaction_id": UUID(int=n),
        "declaration_id": UUID(int=100 + n),
        "commit_id": UUID(int=200 + n),
        "kind": kind,
        "country": country,
        "items": items,
        "sequence": 1,
        "decision": "committed",
        "office_id": f"{country}-OFFICE",
        "office_timezone": "Europe/Paris",
        "officer_id": "officer-0042",
        "decided_at": datetime(2026, 11, 22, 9, 31, n, 123456, tzinfo=PARIS),
        "item_locations": [
            {"item_number": i, "location": "exported", "country": None, "final_date": None} for i in items
        ],
        "note": "Zürich → 東京",
        "big": 2**70,
    }


RECORDS = [
    (CROSSING, crossing(1, "exportation", "FR", [1, 2])),
    (CROSSING, crossing(2, "importation", "CH", [1, 2])),
    (DUTY_RECEIPT, {"items": [2], "country": "CH", "receipt_date": date(2027, 1, 5)}),
]


async def add_carnet(conn: asyncpg.Connection, number: str = NUMBER) -> None:
    await insert_carnet_row(conn, number)


async def append_in_transaction(
    conn: asyncpg.Connection, number: str, event: str, record: dict[str, Any], at: datetime
) -> str:
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM carnets WHERE carnet_number = $1 FOR UPDATE", number)  # as the core does
        return await history_store.append(conn, number, event, record, at)


async def seeded(service: Any, clock: Any) -> list[str]:
    heads = []
    async with service.pool.acquire() as conn:
        await add_carnet(conn)
        for i, (event, record) in enumerate(RECORDS):
            heads.append(await append_in_transaction(conn, NUMBER, event, record, clock() + timedelta(minutes=i)))
    return heads


async def tamper(conn: asyncpg.Connection, sql: str, *args: Any) -> None:
    """Write past the append-only trigger, as the table's owner could."""
    async with conn.transaction():
        await conn.execute("ALTER TABLE history DISABLE TRIGGER history_append_only")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE history ENABLE TRIGGER history_append_only")
