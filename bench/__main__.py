"""The whole benchmark on the embedded stack: `python -m bench` (`make bench`), `--quick` for CI.

Starts embedded PostgreSQL, the embedded Kafka broker (tansu) and the five services as separate
processes, then, each reported apart:

1. bulk issuance: N sealed requests on the NGA topic -> every answer (bench/issuance.py);
2. crossings: a closed-loop ramp finds the maximum sustained rate, then open-loop runs at 25 %,
   50 % and 100 % of it give throughput and commit-to-confirmation latency (bench/crossings.py);
3. verification at the gateway, from the token and from a photo (bench/verification.py);
4. the ceiling: a plain aiokafka relay on the same broker (bench/relay.py), in its own process.

Then, in the same run, issuance, crossings and the relay ceiling again on one Apache Kafka node
(`apache_kafka` in the results; `--brokers embedded` skips it, and it is skipped with the reason
where Java or Maven is missing): the services talk to it as in production (runtime/broker_kind.py).

CPU seconds per 1,000 crossings (psutil on each process tree, over the open-loop runs) and
peak RSS per process go in the results too. Writes bench/results/latest.json and latest.png
(quick: quick.json, quick.png).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console

from bench import bulk_crossings, costs, verification
from bench.chart import chart
from bench.crossing_load import crossings
from bench.crossings import Crossings
from bench.floor import summed
from bench.issuance import bench_carnets, issue
from bench.plan import FULL, QUICK, Plan
from bench.resources import Monitor, per_thousand
from deploy.local.identity import private_key_path
from deploy.local.processes import free_port
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack

RESULTS = Path(__file__).parent / "results"
HOLDER = "hld_bench_0001"
VERIFY_CARNETS = 20


def machine() -> dict[str, Any]:
    model = ""
    try:
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def relay_ceiling(bootstrap: str, count: int, broker_pid: int | None) -> dict[str, Any]:
    pid = ["--broker-pid", str(broker_pid)] if broker_pid else []
    out = subprocess.run(
        [sys.executable, "-m", "bench.relay", "--bootstrap", bootstrap, "--count", str(count), *pid],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def floor(database_url: str, quick: bool, relay: dict[str, Any], cores: int) -> dict[str, Any]:
    """bench/floor.py's parts, in their own process, summed with the relay's CPU per message as a Kafka hop."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.floor", "--database-url", database_url, *(["--quick"] * quick)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    parts = json.loads(out.stdout.strip().splitlines()[-1])
    hop = None
    if relay.get("relay_msgs") and "relay_broker_cpu_s" in relay:
        hop = (relay["relay_cpu_s"] + relay["relay_broker_cpu_s"]) * 1000 / relay["relay_msgs"]
        parts["kafka_hop_cpu_ms"] = round(hop, 4)
    return {"floor": parts} | summed(parts, hop, cores)


async def wait_for_carnet(http: httpx.AsyncClient, core: str, holder: dict[str, str], number: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if (await http.get(f"{core}/v1/carnets/{number}", headers=holder)).status_code == 200:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the core never recorded carnet {number}")


async def run(plan: Plan, console: Console, broker: str = "embedded", *, broker_only: bool = False) -> dict[str, Any]:
    """One stack on `broker`. `broker_only`: what depends on the broker (issuance, crossings, the relay ceiling),
    not the verification and the floor, which do not."""
    result: dict[str, Any] = {
        "mode": plan.name,
        "broker": broker,
        "load_average_at_start": os.getloadavg(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "git_commit": git_commit(),
        "plan": plan.__dict__,
    }
    needed = plan.issuance
    sealed, seal_s = bench_carnets(needed, HOLDER)
    console.print(f"sealed {needed} carnets client-side in {seal_s:.1f}s")
    ports = {name: free_port() for name in SERVICES}
    with tempfile.TemporaryDirectory(prefix="ata-bench-") as tmp:
        root = os.environ.get("BENCH_ROOT") or tmp  # BENCH_ROOT keeps the services' logs after the run
        async with LocalStack(
            root,
            ephemeral=True,
            fast=True,
            service_ports=ports,
            kafka_port=free_port(),
            postgres_port=free_port(),
            progress=lambda m: console.print(m),
            broker=broker,
        ) as stack:
            result["broker_start_s"] = round(stack.kafka.start_seconds or 0.0, 2)  # type: ignore[union-attr]
            pids = {name: svc.pid for name, svc in stack.services.items()}
            pids |= {"kafka": stack.kafka.pid, "postgres": stack.postgres.pid}  # type: ignore[union-attr]
            monitor = Monitor(pids)  # type: ignore[arg-type]
            monitor.start()
            result |= await costs.idle_cores(monitor, plan.idle_s)

            # 1. bulk issuance
            cpu0 = monitor.cpu()
            summary, elapsed = await issue(stack.kafka_bootstrap, sealed, console)
            issued = list(summary.issued.values())
            result |= {
                "issuance_count": needed,
                "issuance_issued": len(issued),
                "issuance_rejected": len(summary.rejected),
                "issuance_seconds": round(elapsed, 2),
                "issuance_carnets_per_s": round(needed / elapsed, 1),
                "issuance_sealing_s_client_side": round(seal_s, 2),
                "issuance_cpu_s_per_1000": per_thousand(cpu0, monitor.cpu(), needed),
            }
            console.print(f"issuance: {result['issuance_carnets_per_s']} carnets/s ({len(issued)} issued)")
            if len(issued) < VERIFY_CARNETS + 10:
                raise RuntimeError(f"only {len(issued)} carnets issued: {list(summary.rejected.items())[:3]}")

            wallet = private_key_path(stack.data_dir)
            endpoints = stack.endpoints
            async with Crossings(endpoints, wallet, stack.admin_token, HOLDER, issued[VERIFY_CARNETS:]) as cx:
                await wait_for_carnet(cx.http, cx.core, cx.holder, issued[-1])
                result |= await crossings(plan, cx, monitor, console, stack.database_url)
                result |= await bulk_crossings.measure(cx, plan.name)  # POST /v1/commits/batch
                if broker_only:
                    return await _relay_and_close(result, plan, stack, monitor, console)
                declarations = [await cx.declare(n) for n in issued[:VERIFY_CARNETS]]
                console.print("verification: token and photos")
                result |= await verification.measure(
                    cx.http,
                    cx.core,
                    cx.gateway,
                    cx.holder,
                    cx.officers[0],
                    declarations,
                    requests=plan.verify_requests,
                    photos=plan.photos,
                )
            return await _relay_and_close(result, plan, stack, monitor, console, with_floor=True)
    raise AssertionError("unreachable")


async def _relay_and_close(
    result: dict[str, Any],
    plan: Plan,
    stack: LocalStack,
    monitor: Monitor,
    console: Console,
    *,
    with_floor: bool = False,
) -> dict[str, Any]:
    console.print(f"relay ceiling: {plan.relay_msgs} messages through a plain aiokafka relay")
    result |= relay_ceiling(stack.kafka_bootstrap, plan.relay_msgs, stack.kafka.pid if stack.kafka else None)
    if with_floor:  # after the relay: the floor counts the relay's CPU per message as its Kafka hop
        console.print("floor: the least CPU a crossing's parts cost, alone (bench/floor.py)")
        result |= floor(stack.database_url, plan.name == "quick", result, result["machine"]["cores"])
    await monitor.stop()
    result["peak_rss_mb"] = {k: round(v / 2**20, 1) for k, v in monitor.peak_rss.items()}
    result["load_average_at_end"] = os.getloadavg()  # other people's work on a shared machine skews every figure
    relay = result.get("relay_msgs_per_s") or 0
    result["ratio_crossings_to_relay"] = round(result["crossings_per_s"] / relay, 4) if relay else None
    if relay and result.get("crossings_ceiling_per_s"):
        # The best ratio any implementation could reach: the floor's ceiling against the same run's relay.
        result["ratio_ceiling"] = round(result["crossings_ceiling_per_s"] / relay, 4)
    if result.get("crossings_ceiling_per_s"):
        result["crossings_to_ceiling_ratio"] = costs.ratio(result["crossings_per_s"], result["crossings_ceiling_per_s"])
    return result


#: What the two brokers' runs both report, side by side in the summary.
BOTH = (
    "broker_start_s",
    "issuance_carnets_per_s",
    "crossings_per_s",
    "crossing_p50_ms",
    "crossing_p99_ms",
    "crossing_unloaded_p50_ms",
    "crossing_cpu_s_per_1000",
    "relay_msgs_per_s",
    "ratio_crossings_to_relay",
    "peak_rss_mb",
    "crossing_cpu_ms",
    "statements_per_crossing",
    "transactions_per_crossing",
    "kafka_requests_per_crossing",
    "idle_cores",
)


def apache_kafka(plan: Plan, console: Console) -> dict[str, Any]:
    """The broker-dependent part of the benchmark on one Apache Kafka node, or why it was skipped."""
    from deploy.local.kafka_jars import jar_dir, missing_tools

    reason = missing_tools(fetch=not (jar_dir() / ".complete").exists())
    if reason:
        console.print(f"Apache Kafka skipped: {reason}")
        return {"skipped": reason}
    console.print("the same on one Apache Kafka node: issuance, crossings, relay ceiling")
    result = asyncio.run(run(plan, console, "kafka", broker_only=True))
    return {k: v for k, v in result.items() if k not in ("mode", "machine", "git_commit", "plan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small counts, under 2 minutes (CI)")
    parser.add_argument("--issuance", type=int, help="override the number of carnets issued")
    parser.add_argument("--phase-s", type=float, help="override the length of each open-loop run")
    parser.add_argument(
        "--brokers",
        default="embedded,kafka",
        help=(
            "comma-separated: embedded (the full benchmark) and/or kafka (issuance, crossings and the relay ceiling "
            "on one Apache Kafka node, under `apache_kafka`) (default: %(default)s)"
        ),
    )
    args = parser.parse_args()
    brokers = [b.strip() for b in args.brokers.split(",") if b.strip()]
    if not brokers or set(brokers) - {"embedded", "kafka"}:
        parser.error("--brokers: embedded and/or kafka")
    plan = QUICK if args.quick else FULL
    if args.issuance or args.phase_s:
        plan = Plan(
            **{**plan.__dict__, "issuance": args.issuance or plan.issuance, "phase_s": args.phase_s or plan.phase_s}
        )
    console = Console(stderr=True)
    began = time.perf_counter()
    result = asyncio.run(run(plan, console)) if "embedded" in brokers else {"mode": plan.name}
    if "kafka" in brokers:
        result["apache_kafka"] = apache_kafka(plan, console)
    result["bench_seconds"] = round(time.perf_counter() - began, 1)
    result["command"] = "make bench-quick" if args.quick else "make bench"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{plan.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    if "crossings_ramp" in result:
        chart(result, RESULTS / f"{plan.name}.png")
    keys = (
        "issuance_carnets_per_s",
        "crossings_per_s",
        "crossing_p50_ms",
        "crossing_p99_ms",
        "relay_msgs_per_s",
        "ratio_crossings_to_relay",
        "verify_token_p99_ms",
        "verify_image_p99_ms",
        "crossing_floor_cpu_ms",
        "crossings_ceiling_per_s",
        "ratio_ceiling",
        *costs.KEYS,
        "bench_seconds",
    )
    console.print({k: result.get(k) for k in keys})
    kafka = result.get("apache_kafka") or {}
    console.print({"apache_kafka": {k: kafka.get(k) for k in (*BOTH, "skipped")}})
    console.print(f"wrote {out} and {out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
