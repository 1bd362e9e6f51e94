"""The per-carnet hash chain's HTTP route in the core (issue 3, item 7): the verified chain, tampering, errors,
access."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import fastapi
import httpx
from prometheus_client import CollectorRegistry

from core.history import CROSSING, GENESIS, RECORD_ALTERED
from core.history_api import history_router
from tests.support.history_store import NUMBER, OTHER, add_carnet, build, seeded, tamper


def client(app: fastapi.FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://core")


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
        "carnet_number": NUMBER,
        "verified": True,
        "length": 3,
        "head": heads[-1],
        "broken_at": None,
        "problem": None,
    }
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
    assert empty.json() == {
        "carnet_number": NUMBER,
        "verified": True,
        "length": 0,
        "head": GENESIS.hex(),
        "broken_at": None,
        "problem": None,
        "records": [],
    }
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
        return bool(
            await conn.fetchval("SELECT true FROM carnets WHERE carnet_number = $1 AND holder_id = $2", number, party)
        )

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
