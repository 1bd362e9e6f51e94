"""The gateway's scan and commit path with fewer round trips (issue 9): sessions and carnets on file read once,
the replay check and the audit row in one statement; every scan and commit still audited (R18)."""
# ruff: noqa: F811  (the `gateway` fixture is imported and used as a parameter)

from __future__ import annotations

from datetime import timedelta
from typing import Any

from contracts.topics import ISSUANCE_EVENTS
from customs_gateway.officers import SESSION_CACHE
from tests.support.gateway import FR_OFFICER, audit, auth, carnet_issued, commit, gateway, make_token, publish  # noqa: F401


def cache(g: Any, name: str, outcome: str) -> float:
    return (
        g.service.registry.get_sample_value("ata_gateway_cache_lookups_total", {"cache": name, "outcome": outcome}) or 0
    )


async def test_r18_a_session_ended_elsewhere_stops_working_here_within_the_cache_time(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        first = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        # Another instance logs the officer out: the row goes, this instance still holds the session a moment.
        async with g.service.pool.acquire() as conn:
            await conn.execute("DELETE FROM sessions WHERE officer_id = $1", FR_OFFICER)
        meanwhile = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        hits = cache(g, "session", "hit")
        clock.now += SESSION_CACHE
        later = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
    assert first.status_code == 200 and meanwhile.status_code == 200 and hits >= 1
    assert later.status_code == 401, later.text


async def test_r18_a_cached_session_stops_at_its_expiry_at_once(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now + timedelta(hours=7))
        clock.now += timedelta(hours=8) - timedelta(seconds=1)
        before = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        clock.now += timedelta(seconds=1)
        after = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
    assert before.status_code == 200, before.text
    assert after.status_code == 401


async def test_r18_every_scan_and_commit_is_audited_with_the_replay_in_place_when_the_carnet_is_known(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        token, claims = make_token(g.key, clock.now, items=(1, 3))
        scans = [await g.http.post("/v1/scans", json={"token": token}, headers=auth()) for _ in range(2)]
        posted = await commit(g.http, token)
        replayed = await commit(g.http, token)
        again = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
        entries = await audit(g, carnet_number=claims.carnet_number)
        hits = cache(g, "carnet", "hit")
    assert [r.status_code for r in (*scans, posted, replayed, again)] == [200, 200, 202, 409, 200]
    assert [m["check"] for m in again.json()["mismatches"]] == ["replay"]
    assert hits >= 3  # the second scan, the commits and the last scan found the carnet in memory
    rows = [(e["action"], e["outcome"], e["detail"]["mismatches"], e["detail"].get("commit_id")) for e in entries]
    assert rows == [
        ("scan", "valid", [], None),
        ("scan", "valid", [], None),
        ("commit", "posted", [], posted.json()["commit_id"]),
        ("commit", "replayed", ["replay"], None),
        ("scan", "valid", ["replay"], None),
    ]
    assert entries[2]["detail"]["items"] == [1, 3] and entries[2]["detail"]["by"] == "token"
    assert entries[0]["detail"]["token_id"] == str(claims.token_id) == entries[4]["detail"]["token_id"]
