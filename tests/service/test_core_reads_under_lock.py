"""The core reads a carnet's items, history head and voucher numbers in the statement that takes the carnet's
row lock (core/commit_store.py, repository.load_carnet). A statement that waited for that lock must still see
what the lock's previous holder committed: the holder's changes to items, history and declarations are not
visible to the statement's own snapshot, which predates the wait (migration 0009)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from core import commit_store, history_store, repository as repo, transaction_repository as transactions_repo
from runtime.service import Service
from tests.support.core import insert_carnet_row

NUMBER = "FR2600000010"
AT = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


def build(settings: Any, *, clock: Any) -> Service:
    return Service("core", settings, Path(history_store.__file__).parent / "migrations", clock=clock)


async def add_declaration(conn: asyncpg.Connection, sequence: int) -> UUID:
    token_id = uuid4()
    await conn.execute(
        "INSERT INTO declarations (declaration_id, carnet_number, kind, country, items, sequence, transaction_code,"
        " token_id, token, token_expires_at, declared_by)"
        " VALUES ($1, $2, 'exportation', 'FR', '{1}', $3, $4, $5, 'token', $6, 'hld_1')",
        uuid4(),
        NUMBER,
        sequence,
        f"CODE{sequence:04d}",
        token_id,
        AT + timedelta(hours=72),
    )
    return token_id


async def seeded(service: Service) -> UUID:
    async with service.pool.acquire() as conn:
        await insert_carnet_row(conn, NUMBER)
        await conn.execute(
            "INSERT INTO items (carnet_number, item_number, quantity, origin_country) VALUES ($1, 1, 1, 'FR')", NUMBER
        )
        return await add_declaration(conn, 1)


async def while_another_holds_the_lock(service: Service, read: Any, *, carnet_row_too: bool) -> tuple[Any, str]:
    """`read(conn)` started while another transaction holds the carnet's lock, exports item 1, appends a
    history entry and declares voucher 2 (and, with `carnet_row_too`, activates the carnet); answers what
    the read returned once that transaction committed, and the head it appended."""
    async with service.pool.acquire() as holder, service.pool.acquire() as reader:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("SELECT 1 FROM carnets WHERE carnet_number = $1 FOR UPDATE", NUMBER)
        await holder.execute("UPDATE items SET location = 'exported' WHERE carnet_number = $1", NUMBER)
        if carnet_row_too:
            await holder.execute("UPDATE carnets SET active = true WHERE carnet_number = $1", NUMBER)
        head = await history_store.append(holder, NUMBER, "crossing", {"n": 1}, AT)
        await add_declaration(holder, 2)
        async with reader.transaction():
            waiting = asyncio.create_task(read(reader))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "the read did not wait for the carnet's lock"
            await tx.commit()
            return await waiting, head


@pytest.mark.parametrize("carnet_row_too", [False, True], ids=["lock-only", "carnet-row-updated"])
async def test_a_commit_that_waited_for_the_carnet_reads_what_the_previous_holder_committed(
    settings, clock, running, carnet_row_too
):
    service = build(settings, clock=clock)
    async with running(service):
        token_id = await seeded(service)
        loaded, head = await while_another_holds_the_lock(
            service, lambda conn: commit_store.load(conn, token_id), carnet_row_too=carnet_row_too
        )
    assert loaded.declaration["status"] == "pending" and loaded.declaration["sequence"] == 1
    assert loaded.carnet.items[1].location == "exported"
    assert loaded.carnet.active is carnet_row_too
    # The next entry is hashed onto the holder's, not onto the empty chain's genesis (a fork).
    assert loaded.head == (1, bytes.fromhex(head))


@pytest.mark.parametrize("carnet_row_too", [False, True], ids=["lock-only", "carnet-row-updated"])
async def test_a_declaration_that_waited_for_the_carnet_reads_what_the_previous_holder_committed(
    settings, clock, running, carnet_row_too
):
    service = build(settings, clock=clock)
    async with running(service):
        await seeded(service)
        (carnet, row), _ = await while_another_holds_the_lock(
            service,
            lambda conn: repo.load_carnet(conn, NUMBER, lock=True, sequences_of="exportation"),
            carnet_row_too=carnet_row_too,
        )
    assert carnet.items[1].location == "exported"
    assert carnet.active is carnet_row_too
    assert sorted(row["sequences"]) == [1, 2]  # R8: voucher 2 is taken, the next declaration gets 3


async def test_a_commit_written_onto_a_stale_head_is_refused_whole(settings, clock, running):
    """The history's primary key is the last guard of the chain: the commit's single write statement then
    fails as a whole (items, declaration, transaction and outbox rows included)."""
    service = build(settings, clock=clock)
    async with running(service):
        token_id = await seeded(service)
        async with service.pool.acquire() as conn:
            async with conn.transaction():
                loaded = await commit_store.load(conn, token_id)
                await history_store.append(conn, NUMBER, "crossing", {"n": 1}, AT)
            with pytest.raises(asyncpg.UniqueViolationError):
                async with conn.transaction():
                    now = await commit_store.load(conn, token_id)
                    before = now.carnet.items[1]
                    after = replace(before, location="exported", exported_by=1)
                    carnet = replace(now.carnet, items={1: after})
                    # Hashed onto the head as it was before the append: position 1 again.
                    entry = history_store.next_entry(NUMBER, loaded.head, "crossing", {"n": 2}, AT)
                    await commit_store.record(
                        conn,
                        carnet,
                        [1],
                        {
                            "transaction_id": uuid4(),
                            "declaration_id": now.declaration["declaration_id"],
                            "commit_id": uuid4(),
                            "kind": "exportation",
                            "country": "FR",
                            "items": [1],
                            "sequence": 1,
                            "decision": "committed",
                            "office_id": "FR-OFFICE",
                            "officer_id": "officer-1",
                            "decided_at": AT,
                            "recorded_at": AT,
                        },
                        [],
                        transactions_repo.Undo("CANCEL01", {1: before}, {1: after}, False),
                        entry,
                        [],
                    )
        async with service.pool.acquire() as conn:
            assert await conn.fetchval("SELECT location FROM items WHERE carnet_number = $1", NUMBER) == "home"
            assert await conn.fetchval("SELECT status FROM declarations WHERE token_id = $1", token_id) == "pending"
            assert await conn.fetchval("SELECT count(*) FROM transactions") == 0
            assert (await history_store.check(conn, NUMBER)).length == 1
