"""The per-carnet hash chain in the core's database (issue 3, item 7): the table is append-only and tampering is
detected."""

from __future__ import annotations

import json

import asyncpg
import pytest

from core import history_store
from core.history import LINK_BROKEN, POSITION_GAP, RECORD_ALTERED, link
from tests.support.history_store import NUMBER, build, seeded, tamper


async def test_the_table_refuses_updates_and_deletes(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        await seeded(service, clock)
        async with service.pool.acquire() as conn:
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("UPDATE history SET event = 'x' WHERE position = 1")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("DELETE FROM history WHERE position = 3")
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
                await conn.execute("TRUNCATE history")
            assert (await history_store.check(conn, NUMBER)).ok


@pytest.mark.parametrize(
    ("sql", "args", "broken_at", "reason"),
    [
        (
            "UPDATE history SET record = jsonb_set(record, '{country}', '\"DE\"') WHERE position = 2",
            (),
            2,
            RECORD_ALTERED,
        ),
        (
            "UPDATE history SET record = jsonb_set(record, '{items}', '[1, 2.0]') WHERE position = 3",
            (),
            3,
            RECORD_ALTERED,
        ),
        ("UPDATE history SET record = record - 'big' WHERE position = 1", (), 1, RECORD_ALTERED),
        ("UPDATE history SET event = 'closed' WHERE position = 2", (), 2, RECORD_ALTERED),
        (
            "UPDATE history SET recorded_at = recorded_at + interval '1 microsecond' WHERE position = 1",
            (),
            1,
            RECORD_ALTERED,
        ),
        ("UPDATE history SET hash = $1 WHERE position = 3", (bytes(32),), 3, RECORD_ALTERED),
        ("DELETE FROM history WHERE position = 2", (), 2, POSITION_GAP),
        ("UPDATE history SET prev_hash = $1 WHERE position = 2", (bytes(32),), 2, LINK_BROKEN),
    ],
)
async def test_a_tampered_row_is_detected(settings, clock, running, sql, args, broken_at, reason):
    service = build(settings, clock=clock)
    async with running(service):
        await seeded(service, clock)
        async with service.pool.acquire() as conn:
            await tamper(conn, sql, *args)
            check = await history_store.check(conn, NUMBER)
    assert (check.ok, check.broken_at, check.reason) == (False, broken_at, reason)


async def test_a_self_consistent_rewrite_is_caught_by_the_next_row(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        await seeded(service, clock)
        async with service.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM history WHERE position = 2")
            forged = {**json.loads(row["record"]), "items": [1]}
            forged_hash = link(
                bytes(row["prev_hash"]),
                {
                    "carnet_number": NUMBER,
                    "position": 2,
                    "event": row["event"],
                    "recorded_at": row["recorded_at"],
                    "record": forged,
                },
            )
            await tamper(
                conn,
                "UPDATE history SET record = $1::jsonb, hash = $2 WHERE position = 2",
                json.dumps(forged),
                forged_hash,
            )
            check = await history_store.check(conn, NUMBER)
    assert (check.ok, check.broken_at, check.reason) == (False, 3, LINK_BROKEN)
