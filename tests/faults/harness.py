"""The crash tests' run: a stack, a steady stream of commits, faults one after another under that load, then the
ledger count. Which faults, on which broker, is each test's (test_crashes_under_load.py, test_broker_faults.py).

The stack owns its PostgreSQL and broker (it must be able to kill them), so KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL are ignored. The figures go to stdout and to var/faults/<name>.json.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.processes import free_port
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.faults import ledger
from tests.faults.load import CommitLoad, Parties, declare_all, issue_carnets, open_parties
from tests.support.ports import free_port_offset

RESULTS = Path(__file__).resolve().parents[2] / "var" / "faults"
CARNETS = 110  # three crossings each
RATE = 4.0  # commits started per second
CONCURRENCY = 6  # commits in flight at most
UNDER_LOAD_S = 3.0  # load between two faults
SETTLE_TIMEOUT_S = 120.0

#: A fault's name and its act; the act may answer a detail for the report (which node it killed, say).
Fault = tuple[str, Callable[[], Awaitable[str | None]]]


@dataclass
class Run:
    """What a fault plan may act on while the load runs."""

    stack: LocalStack
    load: CommitLoad
    parties: Parties
    conn: asyncpg.Connection

    async def reconnect(self) -> None:
        """Our own connection, after PostgreSQL came back."""
        await self.conn.close()
        self.conn = await asyncpg.connect(self.stack.database_url)

    async def drained(self, timeout: float = 120.0) -> None:
        """No commit in flight, and every acknowledged one recorded and confirmed."""
        await until(lambda: self.load.in_flight == 0, "the commits in flight to be answered", timeout)
        deadline = time.monotonic() + timeout
        while not ledger.settled(figures := await self.figures()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipeline did not drain before the broker restart: {figures}")
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # what follows a confirmation (claims watch list, delivery events) settles too

    async def figures(self) -> dict[str, Any]:
        ids = [i for r in self.parties.receivers.values() for i in r.webhook_ids]
        return await ledger.count(self.conn, self.load.crossings, list(self.parties.receivers), ids)

    async def settle(self) -> dict[str, Any]:
        """Poll until every acknowledged commit is recorded and confirmed, then a little longer for anything that
        would arrive twice; on timeout, the figures as they are (the assertions say what is missing)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        figures = await self.figures()
        while not ledger.settled(figures) and time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            figures = await self.figures()
        await asyncio.sleep(3.0)  # a redelivered commit or confirmation would be applied by now
        return await self.figures()


async def until(done: Callable[[], bool], what: str, timeout: float, *, required: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            if required:
                raise TimeoutError(f"timed out waiting for {what}")
            return
        await asyncio.sleep(0.005)


async def run_under_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, broker: str, plan: Callable[[Run], list[Fault]]
) -> dict[str, Any]:
    """Start the stack on `broker`, run the load through the faults `plan` names, check and return the report."""
    for var in ("KAFKA_BOOTSTRAP_SERVERS", "ATA_KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "ATA_DATABASE_URL"):
        monkeypatch.delenv(var, raising=False)
    started = time.monotonic()
    offset = free_port_offset()
    stack = LocalStack(
        tmp_path / "stack",
        ephemeral=True,
        kafka_port=free_port(),
        postgres_port=free_port(),
        service_ports={s: DEFAULT_PORTS[s] + offset for s in SERVICES},
        progress=lambda _: None,
        broker=broker,
    )
    faults: list[dict[str, Any]] = []
    running: asyncio.Task[None] | None = None
    async with stack, httpx.AsyncClient(timeout=10) as http:
        conn = await asyncpg.connect(stack.database_url)
        parties = await open_parties(http, stack)
        run: Run | None = None
        try:
            today = datetime.now(UTC).date()  # the services date crossings by their own clocks
            numbers = await issue_carnets(http, stack, parties, CARNETS, today)
            crossings = await declare_all(http, stack, parties, numbers, conn)
            setup_s = time.monotonic() - started
            load = CommitLoad(
                http,
                stack.endpoints["customs_gateway"],
                parties.officer,
                crossings,
                rate=RATE,
                concurrency=CONCURRENCY,
                allowed=0,
            )
            run = Run(stack, load, parties, conn)
            steps = plan(run)
            share = len(crossings) // (len(steps) + 1)
            load.allow(share)
            running = asyncio.create_task(load.run())
            load_started = time.monotonic()
            for fault_name, act in steps:
                await asyncio.sleep(UNDER_LOAD_S)
                # Strike while a commit is in flight where we can (a commit takes milliseconds at this rate), so a
                # kill can land between the gateway's commit and its answer.
                await until(lambda: load.in_flight > 0, "a commit in flight", 2.0, required=False)
                sent_before = load.tally()["commits_sent"]
                before, in_flight, pending = load.tally()["acknowledged"], load.in_flight, load.pending
                t0 = time.monotonic()
                detail = await act()
                faults.append(
                    {
                        "fault": fault_name + (f" ({detail})" if detail else ""),
                        "restart_s": round(time.monotonic() - t0, 1),
                        "acknowledged_before": before,
                        "in_flight_before": in_flight,
                        "commits_pending_before": pending,
                        "commits_started_during": load.tally()["commits_sent"] - sent_before,
                    }
                )
                load.allow(share)
            await asyncio.sleep(UNDER_LOAD_S)
            load.pause()
            load_s = time.monotonic() - load_started
            await until(lambda: load.in_flight == 0, "the commits in flight to be answered", 60)
            settle_started = time.monotonic()
            figures = await run.settle()
            settle_s = time.monotonic() - settle_started
        finally:
            if running is not None:  # paused and idle by now, or the test failed half-way
                running.cancel()
            await parties.stop()
            await (run.conn if run is not None else conn).close()

    tally = load.tally()
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "broker": broker,
        "carnets": CARNETS,
        "rate_per_s": RATE,
        "concurrency": CONCURRENCY,
        **tally,
        **{k: v for k, v in figures.items() if k != "problems"},
        "faults": faults,
        "problems": figures["problems"],
        "seconds": {
            "setup": round(setup_s, 1),
            "under_load": round(load_s, 1),
            "settle": round(settle_s, 1),
            "total": round(time.monotonic() - started, 1),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
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
    assert len(faults) == len(steps) and all(f["commits_pending_before"] > 0 for f in faults), faults
    assert acknowledged >= 100
    return report
