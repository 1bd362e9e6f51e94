"""`python -m deploy.local up`: run the whole stack in the foreground until Ctrl-C or SIGTERM.

Everything runs as our children, so there is no `down`: stopping this process stops the stack.
Subcommands are async functions taking the parsed arguments; add one (say `demo`) with
`add_stack_arguments`, `stack_from_args` and `cancel_on_signals`, and register it in
`build_parser`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from deploy.local.apache_kafka import KafkaStartError as ApacheKafkaStartError
from deploy.local.brokers import KINDS
from deploy.local.dev_identity import DEFAULT_PORT as DEV_IDENTITY_PORT
from deploy.local.kafka import DEFAULT_PORT as KAFKA_PORT, KafkaStartError
from deploy.local.kafka_jars import KafkaUnavailable
from deploy.local.postgres import DEFAULT_PORT as POSTGRES_PORT, PostgresStartError
from deploy.local.services import SERVICES, ServiceStartError
from deploy.local.stack import DEFAULT_ROOT, LocalStack
from runtime.settings import DEFAULT_PORTS

#: Failures whose message says it all; anything else keeps its traceback.
START_ERRORS = (PostgresStartError, KafkaStartError, ServiceStartError, ApacheKafkaStartError, KafkaUnavailable)


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        default=DEFAULT_ROOT,
        help="directory for logs, service data and PostgreSQL data (default: %(default)s)",
    )
    parser.add_argument(
        "--kafka-port", type=int, default=KAFKA_PORT, help="port of the broker (its first node) (default: %(default)s)"
    )
    parser.add_argument(
        "--broker",
        choices=KINDS,
        default=None,
        help="embedded (tansu, in memory), kafka (one Apache Kafka node) or kafka-cluster (three); "
        "default ATA_BROKER, else embedded",
    )
    parser.add_argument(
        "--postgres-port",
        type=int,
        default=POSTGRES_PORT,
        help="port of the embedded PostgreSQL (default: %(default)s)",
    )
    parser.add_argument(
        "--port-offset",
        type=int,
        default=0,
        help="added to every service's default HTTP port (8101-8105), to run a second "
        "stack next to the first (default: %(default)s)",
    )
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        help="comma-separated services to run; empty for just Kafka and PostgreSQL (default: all)",
    )


def stack_from_args(args: argparse.Namespace, *, dev_identity: bool = False) -> LocalStack:
    services = tuple(s.strip() for s in args.services.split(",") if s.strip())
    unknown = sorted(set(services) - set(SERVICES))
    if unknown:
        raise SystemExit(f"unknown services: {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    ports = {name: DEFAULT_PORTS[name] + args.port_offset for name in services}
    # `up` only: the wallet page signs in with the development identity provider (deploy/local/dev_identity.py).
    sign_in = DEV_IDENTITY_PORT + args.port_offset if dev_identity and "core" in services else None
    return LocalStack(
        args.root,
        kafka_port=args.kafka_port,
        postgres_port=args.postgres_port,
        services=services,
        service_ports=ports,
        dev_identity_port=sign_in,
        broker=args.broker,
    )


@contextlib.contextmanager
def cancel_on_signals(signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """The first SIGINT or SIGTERM cancels the current task, whose `async with LocalStack`
    then stops everything in order; later signals are only acknowledged, so a second Ctrl-C
    cannot interrupt the stopping half-way and leave orphans (each stop has its own timeout).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        if len(received) == 1:
            print(f"\n{signal.Signals(sig).name}: stopping the stack", file=sys.stderr, flush=True)
            task.cancel()
        else:
            print(f"{signal.Signals(sig).name}: already stopping, please wait", file=sys.stderr, flush=True)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def print_endpoints(stack: LocalStack, *, waiting: bool = True) -> None:
    rows = [("service", "URL", "health", "metrics")]
    for name, url in stack.endpoints.items():
        rows.append((name, url, f"{url}/health", f"{url}/metrics"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    if len(rows) > 1:
        print()
        for row in rows:
            print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip())
    kafka_note = " (embedded, in memory)" if stack.kafka is not None else ""
    print()
    print(f"  Kafka bootstrap  {stack.kafka_bootstrap}{kafka_note}")
    print(f"  PostgreSQL       {stack.database_url}")
    print(f"  logs             {stack.log_dir}")
    if "customs_gateway" in stack.endpoints:  # README "The officer's web page": create an officer with this token
        print(f"  officer page     {stack.endpoints['customs_gateway']}/officer/")
        print(f"  gateway admin    Authorization: Bearer {stack.admin_token}")
    if stack.wallet_url:  # README "The holder's wallet"
        print(f"  wallet           {stack.wallet_url}")
    if stack.dev_identity is not None:
        print(f"  wallet sign-in   {stack.dev_identity.authorize_url} (DEVELOPMENT ONLY: any wallet id)")
    print()
    if waiting:
        print("Stack is up; Ctrl-C (or SIGTERM) stops it.", flush=True)


@contextlib.contextmanager
def broker_memory(stack: LocalStack) -> Iterator[dict[str, str]]:
    """The stack's own broker's memory on a /metrics of its own (deploy/local/broker_memory.py): {"broker": host:port},
    or nothing for a broker the stack did not start."""
    if stack.kafka is None:
        yield {}
        return
    from deploy.local.broker_memory import serve

    with serve(stack.broker, lambda: stack.kafka.pid if stack.kafka is not None else None) as target:
        yield {"broker": target}


async def up(args: argparse.Namespace) -> int:
    stack = stack_from_args(args, dev_identity=True)
    with cancel_on_signals():
        try:
            async with stack:
                print_endpoints(stack, waiting=False)
                with broker_memory(stack) as exporter:
                    for target in exporter.values():
                        print(f"  broker memory    http://{target}/metrics\n")
                    print("Stack is up; Ctrl-C (or SIGTERM) stops it.", flush=True)
                    await asyncio.Event().wait()  # until a signal cancels this task
                await asyncio.Event().wait()  # until a signal cancels this task
        except asyncio.CancelledError:
            print("Stack stopped.", flush=True)
    return 0


async def _on_stack(args: argparse.Namespace, title: str, scenario: Any) -> tuple[int, Any]:
    """Bring the stack up, run `scenario(stack)`, stop everything; (exit code, result)."""
    stack = stack_from_args(args)
    with cancel_on_signals():
        try:
            async with stack:
                print_endpoints(stack, waiting=False)
                print(title, flush=True)
                return 0, await scenario(stack)
        except asyncio.CancelledError:
            print("Interrupted; stack stopped.", flush=True)
            return 130, None
        except (TimeoutError, RuntimeError, OSError) as exc:
            print(f"FAILED: {exc}", file=sys.stderr, flush=True)
            print(f"service logs: {stack.log_dir}", file=sys.stderr)
            return 1, None


def _say(line: str) -> None:
    print(line, flush=True)


async def demo(args: argparse.Namespace) -> int:
    """One carnet through its first crossing, from the NGA's request to the pushed confirmation."""
    from deploy.local.demo import run_scenario
    from deploy.local.identity import private_key_path

    code, result = await _on_stack(
        args,
        "Demo: one carnet from issuance to a pushed confirmation",
        lambda stack: run_scenario(
            stack.endpoints,
            stack.kafka_bootstrap,
            Path(args.out),
            private_key_path(stack.data_dir),
            stack.admin_token,
            progress=_say,
        ),
    )
    if code == 0:
        print(f"Demo succeeded for carnet {result['carnet_number']}; the QR image is {result['png']}.", flush=True)
    return code


async def journey(args: argparse.Namespace) -> int:
    """Export, transit, split import, re-export, re-import and close, with the refusals on the way."""
    from deploy.local.identity import private_key_path
    from deploy.local.journey import run_journey

    code, result = await _on_stack(
        args,
        "Journey: FR -> DE (transit) -> CH -> FR, with refusals",
        lambda stack: run_journey(
            stack.endpoints, stack.kafka_bootstrap, private_key_path(stack.data_dir), stack.admin_token, progress=_say
        ),
    )
    if code == 0:
        print(
            f"Journey succeeded for carnet {result['carnet_number']}; history head {result['history_head']}.",
            flush=True,
        )
    return code


async def observe(args: argparse.Namespace) -> int:
    """The stack, Debian's Prometheus scraping it with the checked-in rules, and the demo scenario to watch."""
    from deploy.local.demo import run_scenario
    from deploy.local.identity import private_key_path
    from deploy.local.prometheus import LocalPrometheus, key_series

    async def scenario(stack: LocalStack) -> int:
        with broker_memory(stack) as exporter:
            return await watch(stack, exporter)

    async def watch(stack: LocalStack, exporter: dict[str, str]) -> int:
        async with LocalPrometheus(
            Path(args.root) / "prometheus",
            stack.endpoints,
            port=args.prometheus_port,
            scrape_interval=f"{args.scrape_interval}s",
            extra_targets=exporter,
        ) as prom:
            print(
                f"Prometheus {prom.url} scrapes every {args.scrape_interval} s; alerts: {prom.url}/alerts", flush=True
            )
            await prom.wait_for_targets()
            await run_scenario(
                stack.endpoints,
                stack.kafka_bootstrap,
                Path(args.out),
                private_key_path(stack.data_dir),
                stack.admin_token,
                progress=_say,
            )
            await asyncio.sleep(3 * args.scrape_interval)  # the last step's effects, scraped
            print("\nWhat Prometheus sees (its HTTP API, /api/v1/query):", flush=True)
            for what, value in (await key_series(prom)).items():
                print(f"  {what:34} {'-' if value is None else f'{value:g}'}", flush=True)
            if exporter:  # the broker's memory (AtaBrokerMemoryHigh, AtaBrokerMemoryRunningOut)
                rss = await prom.value("max(ata_broker_resident_bytes)")
                print(f"  {'broker resident memory, MB':34} {'-' if rss is None else f'{rss / 2**20:.0f}'}", flush=True)
            if not args.once:
                print(f"\nPrometheus at {prom.url}; Ctrl-C (or SIGTERM) stops everything.", flush=True)
                await asyncio.Event().wait()
        return 0

    code, _ = await _on_stack(args, "Observe: the demo scenario under Prometheus", scenario)
    return 0 if code == 130 else code  # Ctrl-C is how `observe` ends


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deploy.local", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    up_parser = commands.add_parser("up", help="start Kafka, PostgreSQL and the five services; stop on Ctrl-C")
    add_stack_arguments(up_parser)
    up_parser.set_defaults(run=up)
    demo_parser = commands.add_parser("demo", help="bring the stack up, run one carnet end to end, stop")
    add_stack_arguments(demo_parser)
    demo_parser.add_argument("--out", default="demo-out", help="where the QR image is written")
    demo_parser.set_defaults(run=demo)
    journey_parser = commands.add_parser("journey", help="bring the stack up, run the multi-country journey, stop")
    add_stack_arguments(journey_parser)
    journey_parser.set_defaults(run=journey)
    observe_parser = commands.add_parser(
        "observe", help="the stack under Debian's Prometheus, running the demo scenario"
    )
    add_stack_arguments(observe_parser)
    observe_parser.add_argument("--out", default="demo-out", help="where the QR image is written")
    observe_parser.add_argument(
        "--prometheus-port", type=int, default=9090, help="Prometheus' HTTP port (default: %(default)s)"
    )
    observe_parser.add_argument(
        "--scrape-interval", type=int, default=1, help="seconds between scrapes (default: %(default)s)"
    )
    observe_parser.add_argument("--once", action="store_true", help="stop after printing what Prometheus sees")
    observe_parser.set_defaults(run=observe)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(args.run(args))
    except START_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
