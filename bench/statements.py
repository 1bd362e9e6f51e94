"""PostgreSQL statements each service executes per crossing: `python -m bench.statements [--crossings 40]`.

A deterministic figure, unlike rates on a shared machine: it counts round trips, which is what
the hot paths were cut by (bench/README.md). Starts the embedded stack, issues carnets, runs a
few crossings to warm up, then turns on PostgreSQL's statement log (`log_min_duration_statement
= 0`, the service named by `application_name`) for N crossings one at a time and counts the
executions (simple queries and extended-protocol executes; parse and bind lines are not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import sys
import tempfile

import asyncpg
from rich.console import Console
from rich.progress import Progress

from bench.__main__ import HOLDER, wait_for_carnet
from bench.crossings import Crossings
from bench.issuance import bench_carnets, issue
from deploy.local.identity import private_key_path
from deploy.local.processes import free_port
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack

LINE = re.compile(r"^([^|]*)\|LOG:\s+duration: [\d.]+ ms\s+(?:statement|execute [^:]*):\s*(.*)$")


async def count(crossings: int, console: Console) -> tuple[collections.Counter[str], collections.Counter[tuple[str, str]]]:
    sealed, _ = bench_carnets(crossings + 10, HOLDER)
    with tempfile.TemporaryDirectory(prefix="ata-statements-") as root:
        async with LocalStack(root, ephemeral=True, fast=True, service_ports={n: free_port() for n in SERVICES},
                              kafka_port=free_port(), postgres_port=free_port(), progress=console.print) as stack:
            assert stack.postgres is not None, "needs the embedded PostgreSQL (its log file)"
            summary, _ = await issue(stack.kafka_bootstrap, sealed, console)
            issued = list(summary.issued.values())
            admin = await asyncpg.connect(stack.postgres.dsn("postgres"))
            try:
                async with Crossings(stack.endpoints, private_key_path(stack.data_dir), stack.admin_token, HOLDER,
                                     issued) as cx:
                    await wait_for_carnet(cx.http, cx.core, cx.holder, issued[-1])
                    await cx.warm_up(5)
                    await asyncio.sleep(2)  # the warm-up's outbox relays and consumers settle
                    log, start = stack.postgres.log_file, stack.postgres.log_file.stat().st_size
                    await admin.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
                    await admin.execute("ALTER SYSTEM SET log_line_prefix = '%a|'")
                    await admin.execute("SELECT pg_reload_conf()")
                    await asyncio.sleep(0.5)
                    with Progress(console=console) as progress:
                        task = progress.add_task("crossings, statement log on", total=crossings)
                        for number in issued[10:10 + crossings]:
                            await cx.cross(number)
                            progress.advance(task)
                    await asyncio.sleep(1.5)  # the last confirmation's delivery bookkeeping
                    await admin.execute("ALTER SYSTEM RESET log_min_duration_statement")
                    await admin.execute("ALTER SYSTEM RESET log_line_prefix")
                    await admin.execute("SELECT pg_reload_conf()")
                    text = log.read_bytes()[start:].decode(errors="replace")
            finally:
                await admin.close()
    per_service: collections.Counter[str] = collections.Counter()
    per_statement: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            service = m.group(1) or "?"
            per_service[service] += 1
            per_statement[(service, re.sub(r"\s+", " ", m.group(2))[:110])] += 1
    return per_service, per_statement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crossings", type=int, default=40)
    parser.add_argument("--top", type=int, default=40, help="statements to list")
    args = parser.parse_args()
    console = Console(stderr=True)
    per_service, per_statement = asyncio.run(count(args.crossings, console))
    n = args.crossings
    print("statements executed per crossing:", {s: round(c / n, 1) for s, c in per_service.most_common()},
          "total", round(sum(per_service.values()) / n, 1))
    for (service, statement), c in per_statement.most_common(args.top):
        print(f"{c / n:6.2f}  {service:16s} {statement}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
