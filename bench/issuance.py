"""Bulk issuance through the topic, end to end: `python -m bench.issuance --count 10000`.

Starts the embedded stack (Kafka, PostgreSQL and the chosen services, default all five, so the
core takes every carnet into its ledger meanwhile), makes `count` valid carnets, seals each for
its holder as the NGA's side does (sealing time is reported apart), publishes them on
`ata.issuance.requests.fr.v1` (the NGA's own request topic) and reads the answers from
`ata.issuance.responses.fr.v1`. The figure
is carnets per second from the first request sent to the last answer read, with the CPU seconds
per 1,000 carnets of each process (psutil; PostgreSQL with its backends) and the load average
at start and end, since the machine is shared. Before publishing, the stack's idle CPU is
measured (--idle-s, default 5 s: consumers polling the broker cost CPU per second, not per
carnet), and `cpu_s_per_1000_above_idle` subtracts it over the timed window. Results go to
bench/results/issuance.json (or --out); BENCH_ROOT keeps the servers' logs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench.resources import Monitor, per_thousand
from contracts.messages import SealedIssuanceRequested
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from nga_client import transport
from nga_client.carnets import seal_request
from nga_client.cli import Summary, sample_carnets

RESULTS = Path(__file__).parent / "results" / "issuance.json"


def bench_carnets(count: int, holder_id: str | None = None) -> tuple[list[SealedIssuanceRequested], float]:
    """`count` valid carnets sealed as the NGA's side does; the seconds sealing took (client side).

    `holder_id` gives every carnet one holder (the crossings benchmark signs in as that holder)."""
    plain, _ = sample_carnets(count, datetime.now(UTC).date())
    if holder_id is not None:
        plain = [
            p.model_copy(
                update={
                    "carnet": p.carnet.model_copy(
                        update={"holder": p.carnet.holder.model_copy(update={"holder_id": holder_id})}
                    )
                }
            )
            for p in plain
        ]
    started = time.perf_counter()
    sealed = [seal_request(p) for p in plain]
    return sealed, time.perf_counter() - started


async def issue(bootstrap: str, sealed: list[SealedIssuanceRequested], console: Console) -> tuple[Summary, float]:
    """Publish every request on the NGA topic and read every answer; seconds from first request to last answer."""
    summary = Summary()
    columns = (TextColumn("issuance answers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("answers", total=len(sealed))

        def on_answer(rid: str, type_: str, payload: dict) -> None:
            summary.record(rid, type_, payload)
            progress.advance(task)

        first = time.perf_counter()
        await transport.send_kafka(bootstrap, "FR", sealed, on_answer, timeout=1800)
        return summary, time.perf_counter() - first


async def idle_cores(monitor: Monitor, seconds: float) -> dict[str, float]:
    """Cores each process uses with the stack up and nothing to do (none measured if `seconds` <= 0)."""
    if seconds <= 0:
        return {}
    await asyncio.sleep(2)  # the consumers' group joins and first fetches settle
    before = monitor.cpu()
    await asyncio.sleep(seconds)
    after = monitor.cpu()
    return {name: round((after[name] - before[name]) / seconds, 4) for name in before}


async def run(
    count: int, services: tuple[str, ...], port_offset: int, console: Console, idle_s: float = 5.0
) -> dict[str, object]:
    sealed, seal_s = bench_carnets(count)
    ports = {name: 8101 + i + port_offset for i, name in enumerate(SERVICES) if name in services}
    with tempfile.TemporaryDirectory(prefix="ata-bench-") as tmp:
        root = os.environ.get("BENCH_ROOT") or tmp  # BENCH_ROOT keeps the services' logs after the run
        async with LocalStack(
            root,
            ephemeral=True,
            fast=True,
            services=services,
            service_ports=ports,
            kafka_port=29092 + port_offset,
            postgres_port=55432 + port_offset,
            progress=lambda m: console.print(m),
        ) as stack:
            pids = {name: svc.pid for name, svc in stack.services.items()}
            pids |= {"kafka": stack.kafka.pid, "postgres": stack.postgres.pid}  # type: ignore[union-attr]
            console.print(f"pids: {pids}")
            monitor = Monitor(pids)  # type: ignore[arg-type]
            idle = await idle_cores(monitor, idle_s)
            load_start = os.getloadavg()
            cpu0 = monitor.cpu() | {"bench_client": _own_cpu()}
            summary, elapsed = await issue(stack.kafka_bootstrap, sealed, console)
            # CPU per process is less sensitive to the machine's other load than the wall-clock rate;
            # the client's own (producing and reading, not its children) shows whether it is the limit.
            cpu1 = monitor.cpu() | {"bench_client": _own_cpu()}
            cpu = per_thousand(cpu0, cpu1, count)
            load_end = os.getloadavg()
    # The stack burns CPU with nothing to do (consumers' fetches every ATA_KAFKA_FETCH_MAX_WAIT_MS,
    # answered by the broker): a cost per second, not per carnet. Above idle = the carnets' own.
    above = {name: round(cpu[name] - idle[name] * elapsed * 1000 / count, 3) for name in idle} if idle else {}
    return {
        "count": count,
        "issued": len(summary.issued),
        "rejected": len(summary.rejected),
        "seconds_first_request_to_last_answer": round(elapsed, 2),
        "carnets_per_second": round(count / elapsed, 1),
        "cpu_s_per_1000": cpu,
        "idle_cores": idle,
        "cpu_s_per_1000_above_idle": above,
        "cpu_ms_per_carnet_stack": round(sum(v for k, v in cpu.items() if k != "bench_client"), 3),
        "cpu_ms_per_carnet_stack_above_idle": round(sum(above.values()), 3) if above else None,
        "load_average_at_start": load_start,
        "load_average_at_end": load_end,
        "sealing_seconds_client_side": round(seal_s, 2),
        "services": list(services),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "command": f"python -m bench.issuance --count {count} --services {','.join(services)}",
    }


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--services", default=",".join(SERVICES), help="services to run (the issuer is required)")
    parser.add_argument("--port-offset", type=int, default=300, help="keeps clear of a stack on the default ports")
    parser.add_argument(
        "--idle-s",
        type=float,
        default=5.0,
        help="seconds of idle CPU measured before publishing (0: none); subtracted in *_above_idle",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON result goes")
    args = parser.parse_args()
    console = Console(stderr=True)
    services = tuple(s for s in args.services.split(",") if s)
    result = asyncio.run(run(args.count, services, args.port_offset, console, args.idle_s))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    console.print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
