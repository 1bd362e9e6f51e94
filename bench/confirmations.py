"""Commit posted to confirmation delivered, on the embedded stack: `python -m bench.confirmations --count 200`.

Starts the embedded stack (all five services), issues `count` carnets through the NGA topic, each for its own
holder, who registers a webhook at the notifier (a local receiver that verifies every Standard Webhooks
signature) and declares an exportation at the core's holder API. Then `--concurrency` officers commit the
declarations at the gateway's `POST /v1/commits` and each waits for its confirmation: the figure is, per
crossing, the time from the commit's POST (the one the gateway accepted with 202) to the signed webhook's
arrival at the receiver. Results go to bench/results/confirmations.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deploy.local.demo import OFFICE, issuance_request, officer_session, poll, seal_for_wallet
from deploy.local.identity import mint_wallet_token, private_key_path
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from deploy.local.webhook_receiver import WebhookReceiver
from nga_client import transport
from notifier.domain import new_secret

RESULTS = Path(__file__).parent / "results" / "confirmations.json"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


async def prepare(
    stack: LocalStack, http: httpx.AsyncClient, receiver: WebhookReceiver, count: int, console: Console
) -> list[dict[str, str]]:
    """Issue the carnets, register each holder's webhook, declare each exportation: the tokens to commit."""
    ep, key = stack.endpoints, private_key_path(stack.data_dir)
    today = datetime.now(UTC).date()
    holders = [f"hld_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    numbers: dict[str, str] = {}

    def on_answer(rid: str, type_: str, payload: dict) -> None:
        if type_ != "CarnetIssued":
            raise RuntimeError(f"issuance rejected: {payload}")
        numbers[requests[rid]] = payload["carnet_number"]

    plain = [issuance_request(today, h) for h in holders]
    requests = {r.request_id: r.holder.holder_id for r in plain}
    await transport.send_kafka(stack.kafka_bootstrap, "FR", [seal_for_wallet(r) for r in plain], on_answer, timeout=600)
    console.print(f"{len(numbers)} carnets issued")
    crossings = []
    with Progress(
        TextColumn("declarations"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("declarations", total=count)
        for h in holders:
            number = numbers[h]
            wallet = {"Authorization": f"Bearer {mint_wallet_token(key, h)}"}
            notifier = {"Authorization": f"Bearer {mint_wallet_token(key, h, 'ata-notifier')}"}
            r = await http.post(
                f"{ep['notifier']}/v1/endpoints/webhooks",
                headers=notifier,
                json={"url": receiver.url, "secret": receiver.secret},
            )
            r.raise_for_status()

            async def known() -> bool:
                return (await http.get(f"{ep['core']}/v1/carnets/{number}", headers=wallet)).status_code == 200  # noqa: B023 - polled in this iteration

            await poll(known, f"the core to record {number}", timeout=60, interval=0.005)
            r = await http.post(
                f"{ep['core']}/v1/carnets/{number}/declarations",
                headers=wallet,
                json={"kind": "exportation", "country": "FR", "items": [1, 2]},
            )
            r.raise_for_status()
            crossings.append({"carnet_number": number, "token": r.json()["token"]})
            progress.advance(task)
    return crossings


async def commit_all(
    stack: LocalStack,
    http: httpx.AsyncClient,
    receiver: WebhookReceiver,
    crossings: list[dict[str, str]],
    concurrency: int,
    console: Console,
) -> list[float]:
    gateway = stack.endpoints["customs_gateway"]
    officers = [
        await officer_session(http, gateway, stack.admin_token, f"fr-officer-b{i:03d}", OFFICE)
        for i in range(concurrency)
    ]
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for c in crossings:
        queue.put_nowait(c)
    latencies: list[float] = []
    with Progress(
        TextColumn("confirmations"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("confirmations", total=len(crossings))

        async def officer(headers: dict[str, str]) -> None:
            while not queue.empty():
                c = queue.get_nowait()

                async def accepted() -> float | None:
                    posted = time.perf_counter()
                    r = await http.post(
                        f"{gateway}/v1/commits",
                        headers=headers,
                        json={"token": c["token"], "decision": "committed"},  # noqa: B023 - polled in this iteration
                    )
                    if r.status_code == 202:
                        return posted
                    if r.status_code >= 500 or r.status_code in (401, 403):
                        raise RuntimeError(f"commit refused: {r.status_code} {r.text}")
                    return None  # the gateway has not learnt the carnet or key yet: try again

                posted = await poll(accepted, f"the gateway to accept {c['carnet_number']}", timeout=60, interval=0.2)

                async def arrived() -> float | None:
                    return receiver.arrivals.get(c["carnet_number"])  # noqa: B023 - polled in this iteration

                latencies.append(
                    await poll(arrived, f"the confirmation of {c['carnet_number']}", timeout=60, interval=0.005)
                    - posted
                )
                progress.advance(task)

        await asyncio.gather(*(officer(h) for h in officers))
    return latencies


async def run(count: int, concurrency: int, port_offset: int, console: Console) -> dict[str, object]:
    ports = {name: 8101 + i + port_offset for i, name in enumerate(SERVICES)}
    receiver = WebhookReceiver()
    receiver.secret = new_secret()
    with tempfile.TemporaryDirectory(prefix="ata-bench-") as root:
        async with LocalStack(
            root,
            ephemeral=True,
            fast=True,
            service_ports=ports,
            kafka_port=29092 + port_offset,
            postgres_port=55432 + port_offset,
            progress=lambda m: console.print(m),
        ) as stack:
            await receiver.start()
            try:
                async with httpx.AsyncClient(timeout=30) as http:
                    crossings = await prepare(stack, http, receiver, count, console)
                    started = time.perf_counter()
                    latencies = await commit_all(stack, http, receiver, crossings, concurrency, console)
                    elapsed = time.perf_counter() - started
            finally:
                await receiver.stop()
    ms = [x * 1000 for x in latencies]
    return {
        "count": count,
        "concurrency": concurrency,
        "rejected_signatures": receiver.rejected,
        "p50_ms": round(percentile(ms, 0.50), 1),
        "p90_ms": round(percentile(ms, 0.90), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
        "mean_ms": round(statistics.mean(ms), 1),
        "commits_per_second": round(count / elapsed, 1),
        "measured": "gateway POST /v1/commits (accepted, 202) -> signed webhook verified at a local receiver",
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "command": f"python -m bench.confirmations --count {count} --concurrency {concurrency}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200, help="crossings (one carnet and one holder each)")
    parser.add_argument("--concurrency", type=int, default=4, help="officers committing at once")
    parser.add_argument("--port-offset", type=int, default=400, help="keeps clear of a stack on the default ports")
    args = parser.parse_args()
    console = Console(stderr=True)
    result = asyncio.run(run(args.count, args.concurrency, args.port_offset, console))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    console.print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
