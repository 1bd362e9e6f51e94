"""What a second instance of every service costs: CPU per crossing with one and with two instances.

`python -m bench.instances [--rate 12] [--seconds 30]` starts the embedded stack, issues three sets of
carnets (each its own holder), then runs crossings in an open loop at `rate` per second: first through the
one instance of each service, then, after `LocalStack.add_instance` started a second process of every
service, half the rate through each instance. CPU is read per process tree (bench/resources.py) over each
window, so the figure is the whole stack's CPU, the broker's and PostgreSQL's included, per confirmed
crossing. Writes bench/results/instances.json; docs/operations.md sizes replicas from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.__main__ import git_commit, machine, wait_for_carnet
from bench.crossings import Crossings, Window
from bench.issuance import bench_carnets, issue
from bench.resources import Monitor, per_thousand
from deploy.local.identity import private_key_path
from deploy.local.processes import free_port
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack

RESULTS = Path(__file__).parent / "results" / "instances.json"
HOLDERS = ("hld_inst_one", "hld_inst_2a", "hld_inst_2b")


def _figures(windows: list[Window], before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    done = sum(len(w.samples) for w in windows)
    by_process = per_thousand(before, after, done)  # CPU seconds per 1,000 crossings = ms per crossing
    latencies = sorted(s.latency_ms for w in windows for s in w.samples)
    return {
        "crossings": done,
        "crossings_per_s": round(done / max(w.seconds for w in windows), 1),
        "cpu_ms_per_crossing": round(sum(by_process.values()), 2),
        "cpu_ms_by_process": by_process,
        "p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
    }


async def measure(rate: float, seconds: float, carnets: int, console: Console) -> dict[str, Any]:
    sets = {holder: bench_carnets(carnets, holder)[0] for holder in HOLDERS}
    ports = {name: free_port() for name in SERVICES}
    with tempfile.TemporaryDirectory(prefix="ata-instances-") as root:
        async with LocalStack(
            root,
            ephemeral=True,
            fast=True,
            service_ports=ports,
            kafka_port=free_port(),
            postgres_port=free_port(),
            progress=console.print,
        ) as stack:
            issued = {}
            for holder, sealed in sets.items():
                summary, _ = await issue(stack.kafka_bootstrap, sealed, console)
                issued[holder] = list(summary.issued.values())
            pids = {name: svc.pid for name, svc in stack.services.items()}
            pids |= {"kafka": stack.kafka.pid, "postgres": stack.postgres.pid}  # type: ignore[union-attr]
            wallet = private_key_path(stack.data_dir)
            result: dict[str, Any] = {}
            async with Crossings(stack.endpoints, wallet, stack.admin_token, HOLDERS[0], issued[HOLDERS[0]]) as one:
                await wait_for_carnet(one.http, one.core, one.holder, issued[HOLDERS[0]][-1])
                await one.warm_up(5)
                monitor = Monitor(pids)  # type: ignore[arg-type]
                before = monitor.cpu()
                window = await one.open_loop(rate, seconds, "one instance")
                result["one_instance"] = _figures([window], before, monitor.cpu())
            console.print(f"one instance: {result['one_instance']}")
            second = {name: await stack.add_instance(name, free_port()) for name in SERVICES}
            pids |= {f"{name}#2": svc.pid for name, svc in second.items()}  # type: ignore[misc]
            other = {name: svc.base_url for name, svc in second.items()}
            async with (
                Crossings(stack.endpoints, wallet, stack.admin_token, HOLDERS[1], issued[HOLDERS[1]]) as a,
                Crossings(other, wallet, stack.admin_token, HOLDERS[2], issued[HOLDERS[2]]) as b,
            ):
                await wait_for_carnet(b.http, b.core, b.holder, issued[HOLDERS[2]][-1])
                await a.warm_up(3)
                await b.warm_up(3)
                monitor = Monitor(pids)  # type: ignore[arg-type]
                before = monitor.cpu()
                windows = await asyncio.gather(
                    a.open_loop(rate / 2, seconds, "instance 1"), b.open_loop(rate / 2, seconds, "instance 2")
                )
                result["two_instances"] = _figures(list(windows), before, monitor.cpu())
            console.print(f"two instances: {result['two_instances']}")
    one, two = result["one_instance"]["cpu_ms_per_crossing"], result["two_instances"]["cpu_ms_per_crossing"]
    result["two_over_one_cpu"] = round(two / one, 2) if one else None
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=12.0, help="crossings started per second (default 12)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each window (default 30)")
    parser.add_argument("--carnets", type=int, default=150, help="carnets per holder (default 150)")
    args = parser.parse_args()
    console = Console()
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine(),
        "rate_per_s": args.rate,
        "seconds": args.seconds,
        **asyncio.run(measure(args.rate, args.seconds, args.carnets, console)),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    console.print_json(json.dumps(result))


if __name__ == "__main__":
    main()
