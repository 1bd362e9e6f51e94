"""Issue 10.1: crash tests under load. While commits stream into the gateway, every service is killed with
SIGKILL and restarted in turn, PostgreSQL is killed and restarted, and the embedded broker is restarted together
with the services. Afterwards every acknowledged commit must be in the gateway's commit log once, in the core's
ledger once, and confirmed once to the holder and once to the representative.

The stack here owns its PostgreSQL and broker (it must be able to kill them), so KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL are ignored. The figures go to stdout and to var/faults/latest.json.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.processes import free_port
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.e2e.test_demo_scenario import free_port_offset
from tests.faults import ledger
from tests.faults.load import CommitLoad, declare_all, issue_carnets, open_parties

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RESULTS = Path(__file__).resolve().parents[2] / "var" / "faults" / "latest.json"
CARNETS = 110             # three crossings each
RATE = 4.0                # commits started per second
PHASES = 8                # each fault and the stretch after the last one gets its share of the commits
CONCURRENCY = 6           # commits in flight at most
UNDER_LOAD_S = 3.0        # load between two faults
CRASH_ORDER = ("customs_gateway", "core", "notifier", "claims_worker", "issuer")
SETTLE_TIMEOUT_S = 120.0


async def test_r8_r11_every_acknowledged_commit_is_recorded_once_and_confirmed_once_through_crashes(
        tmp_path, monkeypatch):
    """R8 (a voucher is used once) and R11 (an item crosses once from where it is) must survive crashes: no
    acknowledged commit lost, none recorded or confirmed twice."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "ATA_KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "ATA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    offset = free_port_offset()
    stack = LocalStack(tmp_path / "stack", ephemeral=True, kafka_port=free_port(), postgres_port=free_port(),
                       service_ports={s: DEFAULT_PORTS[s] + offset for s in SERVICES}, progress=lambda _: None)
    faults: list[dict[str, Any]] = []
    running: asyncio.Task[None] | None = None
    async with stack, httpx.AsyncClient(timeout=10) as http:
        conn = await asyncpg.connect(stack.database_url)
        parties = await open_parties(http, stack)
        try:
            today = datetime.now(timezone.utc).date()  # the services date crossings by their own clocks
            numbers = await issue_carnets(http, stack, parties, CARNETS, today)
            crossings = await declare_all(http, stack, parties, numbers, conn)
            setup_s = time.monotonic() - started
            share = len(crossings) // PHASES
            load = CommitLoad(http, stack.endpoints["customs_gateway"], parties.officer, crossings, rate=RATE,
                              concurrency=CONCURRENCY, allowed=share)
            running = asyncio.create_task(load.run())

            async def fault(name: str, act: Callable[[], Awaitable[None]]) -> None:
                await asyncio.sleep(UNDER_LOAD_S)
                # Strike while a commit is in flight where we can (a commit takes milliseconds at this rate), so a
                # kill can land between the gateway's commit and its answer.
                await _until(lambda: load.in_flight > 0, "a commit in flight", 2.0, required=False)
                sent_before = load.tally()["commits_sent"]
                before, in_flight, pending = load.tally()["acknowledged"], load.in_flight, load.pending
                t0 = time.monotonic()
                await act()
                faults.append({"fault": name, "restart_s": round(time.monotonic() - t0, 1),
                               "acknowledged_before": before, "in_flight_before": in_flight,
                               "commits_pending_before": pending,
                               "commits_started_during": load.tally()["commits_sent"] - sent_before})
                load.allow(share)

            async def broker_restart() -> None:
                # The embedded broker keeps messages in memory only, so a restart loses what was published and
                # not yet consumed: drain first (the durable records are PostgreSQL's), then restart it with
                # every service. Commits keep arriving at a gateway that is down, and are retried.
                load.pause()
                await _drained(conn, load, parties)
                stack.kill_services()
                load.resume()
                await stack.restart_kafka()

            load_started = time.monotonic()
            for name in CRASH_ORDER:
                await fault(f"kill -9 {name}", lambda name=name: stack.crash_service(name))
            await fault("kill -9 postgresql", stack.crash_postgres)
            # Reconnect our own connection after the database came back.
            await conn.close()
            conn = await asyncpg.connect(stack.database_url)
            await fault("restart broker with all services", broker_restart)
            await asyncio.sleep(UNDER_LOAD_S)
            load.pause()
            load_s = time.monotonic() - load_started
            await _until(lambda: load.in_flight == 0, "the commits in flight to be answered", 60)
            settle_started = time.monotonic()
            figures = await _settle(conn, load, parties)
            settle_s = time.monotonic() - settle_started
        finally:
            if running is not None:  # paused and idle by now, or the test failed half-way
                running.cancel()
            await parties.stop()
            await conn.close()

    tally = load.tally()
    report = {
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "carnets": CARNETS, "rate_per_s": RATE, "concurrency": CONCURRENCY,
        **tally, **{k: v for k, v in figures.items() if k != "problems"},
        "faults": faults, "problems": figures["problems"],
        "seconds": {"setup": round(setup_s, 1), "under_load": round(load_s, 1), "settle": round(settle_s, 1),
                    "total": round(time.monotonic() - started, 1)},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("\nfault figures:", json.dumps(report, indent=2))

    acknowledged = tally["acknowledged"]
    assert figures["problems"] == [], figures["problems"]
    assert figures["lost"] == 0 and figures["duplicates"] == 0
    assert figures["recorded"] == figures["logged_once"] == acknowledged
    assert figures["confirmations"] == figures["confirmations_expected"] == 2 * acknowledged
    assert figures["confirmation_duplicates"] == 0 and figures["ledger_refusals"] == 0
    # Every commit sent got an answer, and none was refused: the faults cost retries, not decisions.
    assert tally["refused"] == tally["unanswered"] == 0 and acknowledged == tally["commits_sent"]
    assert figures["logged_not_acknowledged"] == 0
    # The load really ran through every fault: commits were failing and retried, and more were to come each time.
    assert tally["failed_attempts"] > 0
    assert len(faults) == PHASES - 1 and all(f["commits_pending_before"] > 0 for f in faults), faults
    assert acknowledged >= 100


async def _until(done: Callable[[], bool], what: str, timeout: float, *, required: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            if required:
                raise TimeoutError(f"timed out waiting for {what}")
            return
        await asyncio.sleep(0.005)


async def _figures(conn: asyncpg.Connection, load: CommitLoad, parties: Any) -> dict[str, Any]:
    ids = [i for r in parties.receivers.values() for i in r.webhook_ids]
    return await ledger.count(conn, load.crossings, list(parties.receivers), ids)


async def _drained(conn: asyncpg.Connection, load: CommitLoad, parties: Any, timeout: float = 60.0) -> None:
    """No commit in flight, and every acknowledged one recorded and confirmed."""
    await _until(lambda: load.in_flight == 0, "the commits in flight to be answered", timeout)
    deadline = time.monotonic() + timeout
    while not ledger.settled(await _figures(conn, load, parties)):
        if time.monotonic() > deadline:
            raise TimeoutError("the pipeline did not drain before the broker restart")
        await asyncio.sleep(0.5)
    await asyncio.sleep(2.0)  # what follows a confirmation (claims watch list, delivery events) settles too


async def _settle(conn: asyncpg.Connection, load: CommitLoad, parties: Any) -> dict[str, Any]:
    """Poll until every acknowledged commit is recorded and confirmed, then a little longer for anything that
    would arrive twice; on timeout, the figures as they are (the assertions say what is missing)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    figures = await _figures(conn, load, parties)
    while not ledger.settled(figures) and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        figures = await _figures(conn, load, parties)
    await asyncio.sleep(3.0)  # a redelivered commit or confirmation would be applied by now
    return await _figures(conn, load, parties)
