"""Two instances of every service behave like one (R8, R11 through replicas): the embedded stack runs a second
process of each service on the same database and broker, the workload is spread across both (issuance through
the second issuer, declarations through the second core, commits through both gateways), and one instance of
each service is killed with SIGKILL and restarted mid-run. Then, from the outside only:

* no acknowledged commit lost or recorded twice, each confirmed once to each recipient (tests/faults/ledger.py);
* per carnet, what each webhook receiver got is in the order the ledger recorded it;
* per key, every record on the transactions and notification topics is in ledger order;
* the typed-code lookup limit is one limit for the officer, not one per gateway instance.

Figures go to stdout and var/faults/many-instances.json.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from contracts.txcode import new_transaction_code
from deploy.local.processes import free_port
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.faults import ledger
from tests.faults.load import CommitLoad, declare_all, issue_carnets, open_parties
from tests.support.ports import free_port_offset

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RESULTS = Path(__file__).resolve().parents[2] / "var" / "faults" / "many-instances.json"
CARNETS = 30  # three crossings each
RATE = 6.0  # commits started per second, across both gateways
LOOKUP_LIMIT = 10  # typed-code lookups a minute per officer (customs_gateway)
SETTLE_TIMEOUT_S = 120.0


class Instance:
    """What open_parties, issue_carnets and declare_all need of a stack, with one service swapped for another
    instance: the calls they make then land on that instance."""

    def __init__(self, stack: LocalStack, **endpoints: str) -> None:
        self.data_dir, self.admin_token, self.nga_api_keys = stack.data_dir, stack.admin_token, stack.nga_api_keys
        self.endpoints = {**stack.endpoints, **endpoints}


async def test_two_instances_of_every_service_keep_order_limits_and_every_commit(tmp_path, monkeypatch):
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "ATA_KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "ATA_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    started = time.monotonic()
    offset = free_port_offset()
    stack = LocalStack(
        tmp_path / "stack",
        ephemeral=True,
        kafka_port=free_port(),
        postgres_port=free_port(),
        service_ports={s: DEFAULT_PORTS[s] + offset for s in SERVICES},
        progress=lambda _: None,
    )
    async with stack, httpx.AsyncClient(timeout=15) as http:
        second = {name: await stack.add_instance(name, free_port()) for name in SERVICES}
        other = {name: svc.base_url for name, svc in second.items()}
        conn = await asyncpg.connect(stack.database_url)
        parties = await open_parties(http, Instance(stack, notifier=other["notifier"]))
        loads: list[CommitLoad] = []
        tasks: list[asyncio.Task[None]] = []
        try:
            today = datetime.now(UTC).date()  # the services date crossings by their own clocks
            numbers = await issue_carnets(http, Instance(stack, issuer=other["issuer"]), parties, CARNETS, today)
            crossings = await declare_all(http, Instance(stack, core=other["core"]), parties, numbers, conn)
            gateways = (stack.endpoints["customs_gateway"], other["customs_gateway"])
            loads = [
                CommitLoad(http, gateway, parties.officer, crossings[i::2], rate=RATE / 2, concurrency=3)
                for i, gateway in enumerate(gateways)
            ]
            tasks = [asyncio.create_task(load.run()) for load in loads]
            await _until(
                lambda: sum(load.tally()["acknowledged"] for load in loads) >= len(crossings) // 4,
                "a quarter of the commits",
                120,
            )
            kills = []
            for name in SERVICES:  # one instance of each, alternating which: both must carry the load
                svc = second[name] if SERVICES.index(name) % 2 else stack.services[name]
                t0 = time.monotonic()
                await stack.crash(svc)
                kills.append({"service": f"{name}#{svc.instance}", "restart_s": round(time.monotonic() - t0, 1)})
            await _until(
                lambda: all(not load.pending and not load.in_flight for load in loads), "every commit answered", 240
            )
            figures = await _settle(conn, loads, parties)
            order = await _delivery_order(conn, parties, numbers)
            topics = await _topic_order(stack.kafka_bootstrap, conn, numbers)
            limit = await _shared_lookup_limit(http, gateways, parties.officer)
        finally:
            for task in tasks:
                task.cancel()
            await parties.stop()
            await conn.close()

    tally = {k: sum(load.tally()[k] for load in loads) for k in loads[0].tally()}
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "carnets": CARNETS,
        "crossings": len(crossings),
        **tally,
        **{k: v for k, v in figures.items() if k != "problems"},
        "kills": kills,
        **order,
        **topics,
        **limit,
        "problems": figures["problems"],
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print("\nmany-instance figures:", json.dumps(report, indent=2))

    acknowledged = tally["acknowledged"]
    assert figures["problems"] == [] and figures["lost"] == 0 and figures["duplicates"] == 0
    assert figures["recorded"] == acknowledged == len(crossings)
    assert figures["confirmations"] == figures["confirmations_expected"] == 2 * acknowledged
    assert figures["confirmation_duplicates"] == 0
    assert report["deliveries_out_of_order"] == 0, report["out_of_order_examples"]
    assert report["topic_inversions"] == 0, report["topic_inversion_examples"]
    assert report["topic_records_checked"] >= 2 * acknowledged
    assert report["lookups_allowed"] == LOOKUP_LIMIT and report["lookups_refused"] >= 1


async def _until(done: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _settle(conn: asyncpg.Connection, loads: list[CommitLoad], parties: Any) -> dict[str, Any]:
    crossings = [c for load in loads for c in load.crossings]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S

    async def figures() -> dict[str, Any]:
        ids = [i for r in parties.receivers.values() for i in r.webhook_ids]
        return await ledger.count(conn, crossings, list(parties.receivers), ids)

    current = await figures()
    while not ledger.settled(current) and time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        current = await figures()
    await asyncio.sleep(3.0)  # a redelivered commit or confirmation would be applied by now
    return await figures()


async def _ledger_order(conn: asyncpg.Connection, numbers: list[str]) -> dict[str, list[str]]:
    """carnet -> its transaction ids in the order the ledger recorded them (the history chain's positions)."""
    rows = await conn.fetch(
        "SELECT carnet_number, record->>'transaction_id' AS transaction_id FROM core.history "
        "WHERE carnet_number = ANY($1) AND record ? 'transaction_id' ORDER BY carnet_number, position",
        numbers,
    )
    order: dict[str, list[str]] = defaultdict(list)
    for r in rows:
        if r["transaction_id"] not in order[r["carnet_number"]]:
            order[r["carnet_number"]].append(r["transaction_id"])
    return order


def _inversions(seen: list[str], ledger_order: list[str]) -> int:
    """Pairs received in the opposite order to the ledger's (each transaction counted at its first arrival)."""
    rank = {t: i for i, t in enumerate(ledger_order)}
    first: list[int] = []
    for t in seen:
        if t in rank and rank[t] not in first:
            first.append(rank[t])
    return sum(1 for i, a in enumerate(first) for b in first[i + 1 :] if a > b)


async def _delivery_order(conn: asyncpg.Connection, parties: Any, numbers: list[str]) -> dict[str, Any]:
    order = await _ledger_order(conn, numbers)
    out_of_order, examples = 0, []
    for recipient, receiver in parties.receivers.items():
        seen: dict[str, list[str]] = defaultdict(list)
        for message in receiver.messages:
            data = message.get("data", {})
            seen[str(data.get("carnet_number"))].append(str(data.get("transaction_id")))
        for number, received in seen.items():
            n = _inversions(received, order.get(number, []))
            out_of_order += n
            if n:
                examples.append(f"{recipient} {number}: received {received}, ledger {order.get(number)}")
    return {"deliveries_out_of_order": out_of_order, "out_of_order_examples": examples[:5]}


async def _topic_order(bootstrap: str, conn: asyncpg.Connection, numbers: list[str]) -> dict[str, Any]:
    """Every record of each carnet on the transactions and notification-request topics, in partition order,
    against the ledger's order."""
    from aiokafka import AIOKafkaConsumer

    from contracts.topics import NOTIFICATION_REQUESTS, TRANSACTIONS

    order = await _ledger_order(conn, numbers)
    wanted = set(numbers)
    inversions, checked, examples = 0, 0, []
    for topic in (TRANSACTIONS.name, NOTIFICATION_REQUESTS.name):
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        seen: dict[str, list[str]] = defaultdict(list)
        try:
            idle = 0
            while idle < 3:
                batch = await consumer.getmany(timeout_ms=1000)
                idle = 0 if batch else idle + 1
                for records in batch.values():
                    for record in records:
                        key = (record.key or b"").decode()
                        if key in wanted:
                            payload = json.loads(record.value)
                            if "transaction_id" in payload:
                                seen[key].append(str(payload["transaction_id"]))
        finally:
            await consumer.stop()
        for number, got in seen.items():
            checked += len(got)
            n = _inversions(got, order.get(number, []))
            inversions += n
            if n:
                examples.append(f"{topic} {number}: {got} against {order.get(number)}")
    return {"topic_records_checked": checked, "topic_inversions": inversions, "topic_inversion_examples": examples[:5]}


async def _shared_lookup_limit(
    http: httpx.AsyncClient, gateways: tuple[str, ...], officer: dict[str, str]
) -> dict[str, Any]:
    """Typed-code lookups alternate between the gateways: the limit counts them together."""
    allowed = refused = 0
    for i in range(LOOKUP_LIMIT + 4):
        r = await http.post(f"{gateways[i % 2]}/v1/scans/code", headers=officer, json={"code": new_transaction_code()})
        if r.status_code == 429:
            refused += 1
        elif r.status_code in (200, 404):
            allowed += 1
        else:
            raise AssertionError(f"typed-code lookup answered {r.status_code}: {r.text[:200]}")
    return {"lookups_allowed": allowed, "lookups_refused": refused}
