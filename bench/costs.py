"""What one crossing costs the stack at the 50 % open-loop run, and what the idle stack costs.

Read before and after the run: the stack's CPU (bench/resources.py's per-process monitor), each
service's counters on its /metrics (runtime/io_counters.py: SQL statements, transactions, Kafka
requests by kind) and PostgreSQL's own transaction count for the stack's database
(`pg_stat_database.xact_commit + xact_rollback`, a check on the services' count: backends report
it up to a second late, and an idle one up to 10 s late, so it is only close over long runs).
Each growth divided by the crossings confirmed in the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.resources import Monitor

COUNTERS = ("ata_db_statements_total", "ata_db_transactions_total", "ata_kafka_requests_total")
#: The Kafka request kinds issue 18 sets targets for.
KAFKA_KINDS = ("fetch", "offset_commit", "produce")
#: The issue's figures, printed at the end of `make bench`.
KEYS = (
    "crossing_cpu_ms",
    "crossings_to_ceiling_ratio",
    "statements_per_crossing",
    "transactions_per_crossing",
    "kafka_requests_per_crossing",
    "idle_cores",
)

Counts = dict[str, dict[str, float]]  # service -> counter{kind} -> value


def counts(text: str) -> dict[str, float]:
    """One service's /metrics -> {"statements": n, "transactions": n, "kafka_fetch": n, ...}."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name + "_total" not in COUNTERS and family.name not in COUNTERS:
            continue
        for s in family.samples:
            if not s.name.endswith("_total"):
                continue
            if "kind" in s.labels:
                out[f"kafka_{s.labels['kind']}"] = s.value
            else:
                out[s.name.removeprefix("ata_db_").removesuffix("_total")] = s.value
    return out


async def snapshot(http: httpx.AsyncClient, endpoints: Mapping[str, str]) -> Counts:
    out: Counts = {}
    for name, url in endpoints.items():
        r = await http.get(f"{url}/metrics")
        if r.status_code == 200:
            out[name] = counts(r.text)
    return out


async def server_transactions(database_url: str | None) -> float | None:
    """PostgreSQL's transactions (committed + rolled back) in the stack's database so far, or None."""
    if not database_url:
        return None
    conn = await asyncpg.connect(database_url)
    try:
        value = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        )
        return float(value) if value is not None else None
    finally:
        await conn.close()


@dataclass(frozen=True)
class Reading:
    cpu: Mapping[str, float]  # process -> CPU seconds so far
    counts: Counts
    server_transactions: float | None = None


async def read(
    monitor: Monitor, http: httpx.AsyncClient, endpoints: Mapping[str, str], database_url: str | None
) -> Reading:
    return Reading(monitor.cpu(), await snapshot(http, endpoints), await server_transactions(database_url))


def per_crossing(done: int, first: Reading, last: Reading) -> dict[str, Any]:
    """The `crossing_cpu_ms`, `statements_per_crossing`, `transactions_per_crossing` and
    `kafka_requests_per_crossing` keys (with their parts by process or service) for `done` crossings
    between two readings."""
    if done <= 0:
        return {}
    cpu0, cpu1, before, after = first.cpu, last.cpu, first.counts, last.counts

    def each(delta: float) -> float:
        return round(delta / done, 3)

    growth: Counts = {}
    for service, now in after.items():
        then = before.get(service, {})
        growth[service] = {k: v - then.get(k, 0.0) for k, v in now.items()}

    def by_service(key: str) -> dict[str, float]:
        return {s: each(g[key]) for s, g in growth.items() if g.get(key)}

    cpu = {name: (cpu1[name] - cpu0[name]) * 1000 for name in cpu0}
    out: dict[str, Any] = {
        "crossing_cpu_ms": each(sum(cpu.values())),
        "crossing_cpu_ms_by_process": {name: each(ms) for name, ms in cpu.items()},
        "statements_per_crossing": each(sum(g.get("statements", 0.0) for g in growth.values())),
        "statements_per_crossing_by_service": by_service("statements"),
        "transactions_per_crossing": each(sum(g.get("transactions", 0.0) for g in growth.values())),
        "transactions_per_crossing_by_service": by_service("transactions"),
        "kafka_requests_per_crossing": {
            kind: each(sum(g.get(f"kafka_{kind}", 0.0) for g in growth.values())) for kind in KAFKA_KINDS
        },
        "kafka_requests_per_crossing_by_service": {
            s: {kind: each(g.get(f"kafka_{kind}", 0.0)) for kind in KAFKA_KINDS} for s, g in growth.items()
        },
    }
    if first.server_transactions is not None and last.server_transactions is not None:
        # The first read is a transaction of the benchmark's own (the last one reports after its read).
        out["transactions_per_crossing_server"] = each(last.server_transactions - first.server_transactions - 1)
    return out


def cores(cpu0: Mapping[str, float], cpu1: Mapping[str, float], seconds: float) -> float:
    """CPU seconds the whole stack spent per second of wall time: cores in use."""
    return round(sum(cpu1[n] - cpu0[n] for n in cpu0) / seconds, 3) if seconds > 0 else 0.0


async def idle_cores(monitor: Monitor, seconds: float, settle_s: float = 3.0) -> dict[str, Any]:
    """The stack's CPU with nothing to do: `idle_cores` (whole stack) and its parts by process."""
    await asyncio.sleep(settle_s)  # start-up work (topic metadata, first fetches) out of the window
    cpu0 = monitor.cpu()
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(seconds)
    elapsed, cpu1 = loop.time() - began, monitor.cpu()
    return {
        "idle_cores": cores(cpu0, cpu1, elapsed),
        "idle_seconds": round(elapsed, 1),
        "idle_cores_by_process": {n: cores({n: cpu0[n]}, {n: cpu1[n]}, elapsed) for n in cpu0},
    }


def ratio(crossings_per_s: float | None, ceiling_per_s: float | None) -> float | None:
    """`crossings_to_ceiling_ratio`: the sustained crossings/s over the floor's ceiling, same run."""
    return round(crossings_per_s / ceiling_per_s, 4) if crossings_per_s is not None and ceiling_per_s else None
