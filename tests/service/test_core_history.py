"""The per-carnet hash chain in the core's database (issue 3, item 7): appends, tamper detection, the HTTP route."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import fastapi
import httpx
import pytest
from prometheus_client import CollectorRegistry

from core import history_store
from core.history import CROSSING, DUTY_RECEIPT, GENESIS, LINK_BROKEN, POSITION_GAP, RECORD_ALTERED, canonical, link
from core.history_api import history_router
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
    return {"transaction_id": UUID(int=n), "declaration_id": UUID(int=100 + n), "commit_id": UUID(int=200 + n),
            "kind": kind, "country": country, "items": items, "sequence": 1, "decision": "committed",
            "office_id": f"{country}-OFFICE", "office_timezone": "Europe/Paris", "officer_id": "officer-0042",
            "decided_at": datetime(2026, 11, 22, 9, 31, n, 123456, tzinfo=PARIS),
            "item_locations": [{"item_number": i, "location": "exported", "country": None, "final_date": None} for i in items],
            "note": "Zürich → 東京", "big": 2**70}


RECORDS = [(CROSSING, crossing(1, "exportation", "FR", [1, 2])),
           (CROSSING, crossing(2, "importation", "CH", [1, 2])),
           (DUTY_RECEIPT, {"items": [2], "country": "CH", "receipt_date": date(2027, 1, 5)})]


async def add_carnet(conn: asyncpg.Connection, number: str = NUMBER) -> None:
    await insert_carnet_row(conn, number)


async def append_in_transaction(conn: asyncpg.Connection, number: str, event: str, record: dict[str, Any],
                                at: datetime) -> str:
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


def client(app: fastapi.FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://core")


# --- the store -------------------------------------------------------------------------------------------


async def test_appended_records_form_a_verified_chain_that_survives_jsonb(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        heads = await seeded(service, clock)
        async with service.pool.acquire() as conn:
            check = await history_store.check(conn, NUMBER)
            chain = await history_store.entries(conn, NUMBER)
            raw = await conn.fetch("SELECT record::text AS text FROM history ORDER BY position")
    assert (check.ok, check.length, check.head, check.broken_at, check.reason) == (True, 3, heads[-1], None, None)
    assert [e.position for e in chain] == [1, 2, 3]
    assert [e.event for e in chain] == [CROSSING, CROSSING, DUTY_RECEIPT]
    assert chain[0].prev_hash == GENESIS and chain[1].prev_hash == chain[0].hash and chain[2].prev_hash == chain[1].hash
    assert [e.hash.hex() for e in chain] == heads
    assert [e.recorded_at for e in chain] == [clock() + timedelta(minutes=i) for i in range(3)]
    # Stored as the JSON-native form that was hashed: strings for UUIDs and UTC instants, exact big integers.
    assert chain[0].record["transaction_id"] == str(UUID(int=1))
    assert chain[0].record["decided_at"] == "2026-11-22T08:31:01.123456Z"
    assert chain[0].record["big"] == 2**70 and chain[0].record["note"] == "Zürich → 東京"
    assert chain[2].record["receipt_date"] == "2027-01-05"
    # jsonb keeps its own key order and spacing, not the hashed bytes; verification re-encodes what it decodes.
    assert raw[0]["text"].encode() != canonical(RECORDS[0][1])
    assert json.loads(raw[0]["text"]) == chain[0].record
    # The hash covers the carnet number, position, event and recording time as well as the record.
    first = chain[0]
    assert first.hash == link(GENESIS, {"carnet_number": NUMBER, "position": 1, "event": CROSSING,
                                        "recorded_at": clock(), "record": RECORDS[0][1]})


async def test_a_known_carnet_without_events_has_an_empty_verified_chain(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), service.pool.acquire() as conn:
        await add_carnet(conn)
        check = await history_store.check(conn, NUMBER)
    assert (check.ok, check.length, check.head) == (True, 0, GENESIS.hex())


async def test_chains_are_per_carnet(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        await seeded(service, clock)
        async with service.pool.acquire() as conn:
            await add_carnet(conn, OTHER)
            head = await append_in_transaction(conn, OTHER, CROSSING, RECORDS[0][1], clock())
            other = await history_store.entries(conn, OTHER)
            assert (await history_store.check(conn, OTHER)).ok and (await history_store.check(conn, NUMBER)).ok
            # The same record at the same place of another carnet hashes differently: chains cannot be transplanted.
            first = (await history_store.entries(conn, NUMBER))[0]
    assert [e.position for e in other] == [1] and other[0].prev_hash == GENESIS
    assert head != first.hash.hex()


async def test_append_needs_a_transaction_a_known_carnet_and_a_canonical_record(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), service.pool.acquire() as conn:
        await add_carnet(conn)
        with pytest.raises(RuntimeError, match="transaction"):
            await history_store.append(conn, NUMBER, CROSSING, {"a": 1}, clock())
        with pytest.raises(LookupError):
            await append_in_transaction(conn, OTHER, CROSSING, {"a": 1}, clock())
        with pytest.raises(ValueError):
            await append_in_transaction(conn, NUMBER, CROSSING, {"weight": 2.5}, clock())
        with pytest.raises(ValueError):
            await append_in_transaction(conn, NUMBER, CROSSING, {"a": 1}, datetime(2026, 11, 22, 9, 30))  # naive
        with pytest.raises(ValueError):
            await append_in_transaction(conn, NUMBER, "", {"a": 1}, clock())
        assert await conn.fetchval("SELECT count(*) FROM history") == 0


async def test_concurrent_appends_to_one_carnet_are_serialised_by_its_row_lock(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service):
        async with service.pool.acquire() as conn:
            await add_carnet(conn)

        async def one(i: int) -> str:
            async with service.pool.acquire() as conn, conn.transaction():
                # No lock taken by the caller here: append takes the carnet's row lock itself.
                head = await history_store.append(conn, NUMBER, CROSSING, {"n": i}, clock())
                await asyncio.sleep(0.01)  # hold the lock a little, so the others queue behind it
                return head

        heads = await asyncio.gather(*(one(i) for i in range(4)))
        async with service.pool.acquire() as conn:
            check = await history_store.check(conn, NUMBER)
            chain = await history_store.entries(conn, NUMBER)
    assert check.ok and check.length == 4
    assert sorted(e.record["n"] for e in chain) == [0, 1, 2, 3]
    assert {e.hash.hex() for e in chain} == set(heads)


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


@pytest.mark.parametrize(("sql", "args", "broken_at", "reason"), [
    ("UPDATE history SET record = jsonb_set(record, '{country}', '\"DE\"') WHERE position = 2", (), 2, RECORD_ALTERED),
    ("UPDATE history SET record = jsonb_set(record, '{items}', '[1, 2.0]') WHERE position = 3", (), 3, RECORD_ALTERED),
    ("UPDATE history SET record = record - 'big' WHERE position = 1", (), 1, RECORD_ALTERED),
    ("UPDATE history SET event = 'closed' WHERE position = 2", (), 2, RECORD_ALTERED),
    ("UPDATE history SET recorded_at = recorded_at + interval '1 microsecond' WHERE position = 1", (), 1, RECORD_ALTERED),
    ("UPDATE history SET hash = $1 WHERE position = 3", (bytes(32),), 3, RECORD_ALTERED),
    ("DELETE FROM history WHERE position = 2", (), 2, POSITION_GAP),
    ("UPDATE history SET prev_hash = $1 WHERE position = 2", (bytes(32),), 2, LINK_BROKEN),
])
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
            forged_hash = link(bytes(row["prev_hash"]), {"carnet_number": NUMBER, "position": 2, "event": row["event"],
                                                         "recorded_at": row["recorded_at"], "record": forged})
            await tamper(conn, "UPDATE history SET record = $1::jsonb, hash = $2 WHERE position = 2",
                         json.dumps(forged), forged_hash)
            check = await history_store.check(conn, NUMBER)
    assert (check.ok, check.broken_at, check.reason) == (False, 3, LINK_BROKEN)


# --- the HTTP route ----------------------------------------------------------------------------------------


async def test_history_route_returns_the_verified_chain(settings, clock, running):
    service = build(settings, clock=clock)
    registry = CollectorRegistry()
    app = fastapi.FastAPI()
    app.include_router(history_router(lambda: service.pool, registry=registry))
    async with running(service):
        heads = await seeded(service, clock)
        async with client(app) as http:
            response = await http.get(f"/v1/carnets/{NUMBER}/history")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("carnet_number", "verified", "length", "head", "broken_at", "problem")} == {
        "carnet_number": NUMBER, "verified": True, "length": 3, "head": heads[-1], "broken_at": None, "problem": None}
    assert [r["position"] for r in body["records"]] == [1, 2, 3]
    assert [r["hash"] for r in body["records"]] == heads
    assert [r["prev_hash"] for r in body["records"]] == [GENESIS.hex(), *heads[:2]]
    assert body["records"][0]["event"] == CROSSING
    assert body["records"][0]["record"]["decided_at"] == "2026-11-22T08:31:01.123456Z"
    assert datetime.fromisoformat(body["records"][1]["recorded_at"]) == clock() + timedelta(minutes=1)
    assert registry.get_sample_value("ata_history_verifications_total", {"outcome": "verified"}) == 1
    assert registry.get_sample_value("ata_history_verifications_total", {"outcome": "broken"}) == 0


async def test_history_route_shows_a_tampered_chain_as_unverified(settings, clock, running):
    service = build(settings, clock=clock)
    registry = CollectorRegistry()
    app = fastapi.FastAPI()
    app.include_router(history_router(lambda: service.pool, registry=registry))
    async with running(service):
        await seeded(service, clock)
        async with service.pool.acquire() as conn:
            await tamper(conn, "UPDATE history SET record = jsonb_set(record, '{items}', '[1]') WHERE position = 2")
        async with client(app) as http:
            body = (await http.get(f"/v1/carnets/{NUMBER}/history")).json()
    assert (body["verified"], body["broken_at"], body["problem"], body["length"]) == (False, 2, RECORD_ALTERED, 3)
    assert body["records"][1]["record"]["items"] == [1]  # shown as stored, flagged by the check
    assert registry.get_sample_value("ata_history_verifications_total", {"outcome": "broken"}) == 1


async def test_history_route_404_empty_and_422(settings, clock, running):
    service = build(settings, clock=clock)
    app = fastapi.FastAPI()
    app.include_router(history_router(lambda: service.pool))
    async with running(service):
        async with service.pool.acquire() as conn:
            await add_carnet(conn)
        async with client(app) as http:
            unknown = await http.get(f"/v1/carnets/{OTHER}/history")
            empty = await http.get(f"/v1/carnets/{NUMBER}/history")
            malformed = await http.get("/v1/carnets/fr123/history")
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert empty.status_code == 200
    assert empty.json() == {"carnet_number": NUMBER, "verified": True, "length": 0, "head": GENESIS.hex(),
                            "broken_at": None, "problem": None, "records": []}
    assert malformed.status_code == 422


async def test_history_route_applies_the_given_dependencies_and_is_documented(settings, clock, running):
    service = build(settings, clock=clock)
    seen: list[str] = []

    async def authenticate(request: fastapi.Request) -> None:
        seen.append(request.url.path)
        if request.headers.get("authorization") != "Bearer holder":
            raise fastapi.HTTPException(401)

    app = fastapi.FastAPI()
    app.include_router(history_router(lambda: service.pool, [fastapi.Depends(authenticate)]))
    async with running(service):
        await seeded(service, clock)
        async with client(app) as http:
            refused = await http.get(f"/v1/carnets/{NUMBER}/history")
            allowed = await http.get(f"/v1/carnets/{NUMBER}/history", headers={"authorization": "Bearer holder"})
    assert refused.status_code == 401 and allowed.status_code == 200 and len(seen) == 2
    spec = app.openapi()
    operation = spec["paths"]["/v1/carnets/{carnet_number}/history"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/HistoryOut")
    assert "404" in operation["responses"]
    documented = spec["components"]["schemas"]["HistoryOut"]["properties"]
    assert {"verified", "length", "head", "broken_at", "problem", "records"} <= set(documented)
    assert operation["parameters"][0]["schema"]["pattern"] == r"^[A-Z]{2}[0-9]{10}$"


async def test_history_route_shows_a_carnet_only_to_who_may_see_it(settings, clock, running):
    service = build(settings, clock=clock)

    def caller(request: fastapi.Request) -> str | None:
        return request.headers.get("x-party")

    async def holds(conn: asyncpg.Connection, number: str, party: str | None) -> bool:
        return bool(await conn.fetchval("SELECT true FROM carnets WHERE carnet_number = $1 AND holder_id = $2", number, party))

    app = fastapi.FastAPI()
    app.include_router(history_router(lambda: service.pool, party=fastapi.Depends(caller), may_see=holds))
    async with running(service):
        await seeded(service, clock)
        async with client(app) as http:
            mine = await http.get(f"/v1/carnets/{NUMBER}/history", headers={"x-party": "hld_1"})
            theirs = await http.get(f"/v1/carnets/{NUMBER}/history", headers={"x-party": "hld_2"})
            unknown = await http.get(f"/v1/carnets/{OTHER}/history", headers={"x-party": "hld_1"})
    assert mine.status_code == 200 and mine.json()["verified"] and mine.json()["length"] == 3
    assert theirs.status_code == 404 and unknown.status_code == 404
    assert theirs.json() == {"detail": {"reasons": [{"rule": "R1", "message": f"unknown carnet {NUMBER}"}]}}


async def test_recorded_at_in_any_zone_verifies(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), service.pool.acquire() as conn:
        await add_carnet(conn)
        await append_in_transaction(conn, NUMBER, CROSSING, {"a": 1}, datetime(2026, 11, 22, 10, 30, tzinfo=PARIS))
        await append_in_transaction(conn, NUMBER, CROSSING, {"a": 2}, datetime(2026, 11, 22, 9, 31, tzinfo=UTC))
        assert (await history_store.check(conn, NUMBER)).ok
