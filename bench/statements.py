"""PostgreSQL statements each service executes per crossing: `python -m bench.statements [--crossings 40]`.

A deterministic figure, unlike rates on a shared machine: it counts round trips, which is what
the hot paths were cut by (bench/README.md). Starts the embedded stack, issues carnets, runs a
few crossings to warm up, then turns on PostgreSQL's statement log (`log_min_duration_statement
= 0`, the service named by `application_name`) for N crossings one at a time and counts the
executions (simple queries and extended-protocol executes; parse and bind lines are not counted),
and the transactions they ran in: each BEGIN block once, each statement outside one once (told per
backend, `%p` in the log prefix, as runtime/io_counters.py tells them per connection).

`make bench` reports the same two figures under load (`statements_per_crossing`,
`transactions_per_crossing`) from the services' own counters; this log-based count is the check.
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
from runtime.io_counters import statement_kind

LINE = re.compile(r"^([^|]*)\|(\d+)\|LOG:\s+duration: [\d.]+ ms\s+(?:statement|execute [^:]*):\s*(.*)$")


Tallies = tuple[collections.Counter[str], collections.Counter[str], collections.Counter[tuple[str, str]]]


async def count(crossings: int, console: Console) -> Tallies:
    sealed, _ = bench_carnets(crossings + 10, HOLDER)
    with tempfile.TemporaryDirectory(prefix="ata-statements-") as root:
        async with LocalStack(
            root,
            ephemeral=True,
            fast=True,
            service_ports={n: free_port() for n in SERVICES},
            kafka_port=free_port(),
            postgres_port=free_port(),
            progress=console.print,
        ) as stack:
            assert stack.postgres is not None, "needs the embedded PostgreSQL (its log file)"
            summary, _ = await issue(stack.kafka_bootstrap, sealed, console)
            issued = list(summary.issued.values())
            admin = await asyncpg.connect(stack.postgres.dsn("postgres"))
            try:
                async with Crossings(
                    stack.endpoints, private_key_path(stack.data_dir), stack.admin_token, HOLDER, issued
                ) as cx:
                    await wait_for_carnet(cx.http, cx.core, cx.holder, issued[-1])
                    await cx.warm_up(5)
                    await asyncio.sleep(2)  # the warm-up's outbox relays and consumers settle
                    log, start = stack.postgres.log_file, stack.postgres.log_file.stat().st_size
                    await admin.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
                    await admin.execute("ALTER SYSTEM SET log_line_prefix = '%a|%p|'")
                    await admin.execute("SELECT pg_reload_conf()")
                    await asyncio.sleep(0.5)
                    with Progress(console=console) as progress:
                        task = progress.add_task("crossings, statement log on", total=crossings)
                        for number in issued[10 : 10 + crossings]:
                            await cx.cross(number)
                            progress.advance(task)
                    await asyncio.sleep(1.5)  # the last confirmation's delivery bookkeeping
                    await admin.execute("ALTER SYSTEM RESET log_min_duration_statement")
                    await admin.execute("ALTER SYSTEM RESET log_line_prefix")
                    await admin.execute("SELECT pg_reload_conf()")
                    text = log.read_bytes()[start:].decode(errors="replace")
            finally:
                await admin.close()
    return tally(text)


def tally(text: str) -> Tallies:
    """Statements and transactions by service, and statements by text, from the statement log."""
    per_service: collections.Counter[str] = collections.Counter()
    transactions: collections.Counter[str] = collections.Counter()
    per_statement: collections.Counter[tuple[str, str]] = collections.Counter()
    in_block: dict[str, bool] = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            service, backend, statement = m.group(1) or "?", m.group(2), m.group(3)
            per_service[service] += 1
            per_statement[(service, re.sub(r"\s+", " ", statement)[:110])] += 1
            kind = statement_kind(statement)
            if kind == "open" or (kind == "statement" and not in_block.get(backend)):
                transactions[service] += 1
            if kind != "statement":
                in_block[backend] = kind == "open"
    return per_service, transactions, per_statement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crossings", type=int, default=40)
    parser.add_argument("--top", type=int, default=40, help="statements to list")
    args = parser.parse_args()
    console = Console(stderr=True)
    per_service, transactions, per_statement = asyncio.run(count(args.crossings, console))
    n = args.crossings
    for what, tallied in (("statements executed", per_service), ("transactions", transactions)):
        print(
            f"{what} per crossing:",
            {s: round(c / n, 1) for s, c in tallied.most_common()},
            "total",
            round(sum(tallied.values()) / n, 1),
        )
    for (service, statement), c in per_statement.most_common(args.top):
        print(f"{c / n:6.2f}  {service:16s} {statement}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
