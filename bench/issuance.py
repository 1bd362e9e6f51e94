"""Bulk issuance through the topic, end to end: `python -m bench.issuance --count 10000`.

Starts the embedded stack (Kafka, PostgreSQL and the chosen services, default all five, so the
core takes every carnet into its ledger meanwhile), makes `count` valid carnets, seals each for
its holder as the NGA's side does (sealing time is reported apart), publishes them on
`ata.issuance.requests.v1` and reads the answers from `ata.issuance.responses.fr.v1`. The figure
is carnets per second from the first request sent to the last answer read. Results go to
bench/results/issuance.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from nga_client import transport
from contracts.messages import SealedIssuanceRequested
from nga_client.carnets import seal_request
from nga_client.cli import Summary, sample_carnets

RESULTS = Path(__file__).parent / "results" / "issuance.json"


def bench_carnets(count: int, holder_id: str | None = None) -> tuple[list[SealedIssuanceRequested], float]:
    """`count` valid carnets sealed as the NGA's side does; the seconds sealing took (client side).

    `holder_id` gives every carnet one holder (the crossings benchmark signs in as that holder)."""
    plain, _ = sample_carnets(count, datetime.now(timezone.utc).date())
    if holder_id is not None:
        plain = [p.model_copy(update={"carnet": p.carnet.model_copy(
            update={"holder": p.carnet.holder.model_copy(update={"holder_id": holder_id})})}) for p in plain]
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


async def run(count: int, services: tuple[str, ...], port_offset: int, console: Console) -> dict[str, object]:
    sealed, seal_s = bench_carnets(count)
    ports = {name: 8101 + i + port_offset for i, name in enumerate(SERVICES) if name in services}
    with tempfile.TemporaryDirectory(prefix="ata-bench-") as root:
        async with LocalStack(root, ephemeral=True, fast=True, services=services, service_ports=ports,
                              kafka_port=29092 + port_offset, postgres_port=55432 + port_offset,
                              progress=lambda m: console.print(m)) as stack:
            summary, elapsed = await issue(stack.kafka_bootstrap, sealed, console)
    return {
        "count": count, "issued": len(summary.issued), "rejected": len(summary.rejected),
        "seconds_first_request_to_last_answer": round(elapsed, 2), "carnets_per_second": round(count / elapsed, 1),
        "sealing_seconds_client_side": round(seal_s, 2), "services": list(services),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "command": f"python -m bench.issuance --count {count} --services {','.join(services)}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--services", default=",".join(SERVICES), help="services to run (the issuer is required)")
    parser.add_argument("--port-offset", type=int, default=300, help="keeps clear of a stack on the default ports")
    args = parser.parse_args()
    console = Console(stderr=True)
    services = tuple(s for s in args.services.split(",") if s)
    result = asyncio.run(run(args.count, services, args.port_offset, console))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    console.print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
