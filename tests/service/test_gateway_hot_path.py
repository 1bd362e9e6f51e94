"""The gateway's scan and commit path with fewer round trips (issue 9): sessions and carnets on file read once,
the replay check and the audit row in one statement; every scan and commit still audited (R18)."""
# ruff: noqa: F811  (the `gateway` fixture is imported and used as a parameter)

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

from contracts.topics import ISSUANCE_EVENTS
from customs_gateway import officer_repository, repository
from customs_gateway.domain import CommitRefused
from customs_gateway.officers import SESSION_CACHE
from tests.service.conftest import outbox
from tests.support.gateway import (  # noqa: F401
    EXPIRY,
    FR_OFFICER,
    audit,
    auth,
    carnet_issued,
    commit,
    commits,
    declared,
    gateway,
    make_token,
    publish,
)


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


OTHER = "FR2600000028"  # a carnet not on file: what runs first on a connection, for asyncpg's type look-ups


@asynccontextmanager
async def watched(g: Any) -> AsyncIterator[Any]:
    """One connection of the gateway's pool; `watch(run)` answers the statements the use case `run` sent on it
    and what it answered (or the refusal it raised)."""
    handlers = g.service.state["handlers"]
    async with g.service.pool.acquire() as conn:
        office = await officer_repository.office(conn, "FR-CDG-FRET")

        async def watch(run: Any) -> tuple[list[str], Any]:
            seen: list[str] = []

            def logged(record: Any) -> None:
                seen.append(record.query)

            conn.add_query_logger(logged)
            try:
                result = await run(handlers, conn, office)
            except CommitRefused as exc:
                result = exc
            finally:
                await asyncio.sleep(0)  # asyncpg calls its query loggers soon after each statement, not during it
                conn.remove_query_logger(logged)
            return seen, result

        yield watch


def committing(token: str | None, final_date: date | None = None, **kw: Any) -> Any:
    async def run(handlers: Any, conn: Any, office: Any) -> Any:
        return await handlers.commit(conn, FR_OFFICER, office, token, "committed", final_date, None, **kw)

    return run


async def test_r18_a_commit_is_one_read_and_one_write_and_a_replay_one_read_and_its_audit_row(gateway, clock):
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        token, claims = make_token(g.key, clock.now)
        async with watched(g) as watch:
            first = make_token(g.key, clock.now, carnet_number=OTHER)[0]
            await watch(committing(first))
            await watch(committing(first))
            posted, (commit_id, _) = await watch(committing(token))
            replayed, refusal = await watch(committing(token))
        queued = await outbox(g.service)
        entries = await audit(g, carnet_number=claims.carnet_number)
    # The carnet not in memory yet: one read (replay, status, transfers, carnet on file), then one statement
    # (commit, audit row, outbox) that is atomic alone, without BEGIN and COMMIT.
    assert [q.split(None, 3)[:3] for q in posted] == [["SELECT", "EXISTS", "(SELECT"], ["WITH", "c", "AS"]]
    assert "carnets_on_file" in posted[0] and "carnet_status" in posted[0] and "transferred_items" in posted[0]
    assert "INSERT INTO audit_log" in posted[1] and "INSERT INTO outbox" in posted[1]
    assert isinstance(refusal, CommitRefused) and (refusal.reason, refusal.status) == ("replayed", 409)
    assert len(replayed) == 2 and replayed[1].startswith("INSERT INTO audit_log")
    assert [(q["payload"]["carnet_number"], q["payload"]["commit_id"]) for q in queued][1:] == [
        (claims.carnet_number, str(commit_id))
    ]
    assert [(e["outcome"], e["detail"]["mismatches"]) for e in entries] == [("posted", []), ("replayed", ["replay"])]


async def test_r18_a_commit_that_loses_a_race_with_a_concurrent_one_is_replayed_and_posts_nothing(
    gateway, clock, monkeypatch
):
    """Two officers commit the same token at once: both reads find it undecided, the commit log's unique keys
    let one through; the other answers "replayed", audited, and nothing of it is kept or posted."""
    read = repository.before_commit
    stale = {"left": 0}

    async def before_the_other_commit(*args: Any, **kw: Any) -> Any:
        found = await read(*args, **kw)
        if stale["left"]:
            stale["left"] -= 1
            return dataclasses.replace(found, decided=False)
        return found

    monkeypatch.setattr(repository, "before_commit", before_the_other_commit)
    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        token, claims = make_token(g.key, clock.now)
        first = await commit(g.http, token)
        stale["left"] = 1
        single = await commit(g.http, token)
        stale["left"] = 1  # in a batch, the item's savepoint is rolled back and the item asked again
        bulk = await g.http.post(
            "/v1/commits/batch", json={"items": [{"token": token, "decision": "committed"}]}, headers=auth()
        )
        queued = await outbox(g.service)
        rows = await commits(g.service)
        entries = await audit(g, carnet_number=claims.carnet_number)
    assert first.status_code == 202, first.text
    assert single.status_code == 409 and single.json()["detail"]["reason"] == "replayed"
    assert [(i["status"], i["reason"]) for i in bulk.json()["items"]] == [(409, "replayed")]
    assert stale["left"] == 0
    assert len(rows) == 1 and len(queued) == 1
    assert [(e["outcome"], e["detail"]["mismatches"], e["detail"]["commit_id"]) for e in entries] == [
        ("posted", [], first.json()["commit_id"]),
        ("replayed", ["replay"], None),
        ("replayed", ["replay"], None),
    ]


async def test_r12_r13_a_typed_code_reads_the_carnet_once_and_takes_its_expiry_from_it(gateway, clock):
    def looking(code: str) -> Any:
        async def run(handlers: Any, conn: Any, office: Any) -> Any:
            return await handlers.lookup(conn, FR_OFFICER, office, code)

        return run

    async with gateway() as g:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        code, _ = declared(clock.now)
        async with watched(g) as watch:
            await watch(looking(declared(clock.now, number=OTHER)[0]))
            looked, v = await watch(looking(code))
            _, past_expiry = await watch(committing(None, transaction_code=code, final_date=EXPIRY + timedelta(days=1)))
    # After the rate limit's transaction, one read (replay and carnet on file) and the audit row: the carnet is
    # not read on its own first.
    after_the_limit = looked[looked.index("COMMIT;") + 1 :]
    assert len(after_the_limit) == 2 and "carnets_on_file" in after_the_limit[0]
    assert sum("carnets_on_file" in q for q in looked) == 1
    assert v.declared.carnet_expiry == EXPIRY
    assert isinstance(past_expiry, CommitRefused) and past_expiry.reason == "R13"
