"""Issue 10.1: crash tests under load. While commits stream into the gateway, every service is killed with
SIGKILL and restarted in turn, PostgreSQL is killed and restarted, and the broker is restarted. Afterwards every
acknowledged commit must be in the gateway's commit log once, in the core's ledger once, and confirmed once to
the holder and once to the representative.

On the broker ATA_BROKER names (tests/faults/harness.py runs the stack and the load). The embedded broker keeps
messages in memory only, so there the restart drains the pipeline first and takes the services with it; Apache
Kafka keeps its log, so it restarts under the running services with commits in flight, nothing drained.
The three-node cluster's own faults: test_broker_faults.py.
"""

from __future__ import annotations

import pytest

from deploy.local.brokers import chosen
from tests.faults.harness import Fault, Run, run_under_faults
from tests.support.servers import apache_kafka_or_skip

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

CRASH_ORDER = ("customs_gateway", "core", "notifier", "claims_worker", "issuer")


def crashes(run: Run) -> list[Fault]:
    stack, load = run.stack, run.load

    async def postgres() -> None:
        await stack.crash_postgres()
        await run.reconnect()

    async def embedded_broker_restart() -> None:
        # The embedded broker loses what was published and not yet consumed: drain first (the durable records
        # are PostgreSQL's), then restart it with every service. Commits keep arriving at a gateway that is
        # down, and are retried.
        load.pause()
        await run.drained()
        stack.kill_services()
        load.resume()
        await stack.restart_kafka()

    broker = (
        ("restart broker with all services", embedded_broker_restart)
        if stack.broker == "embedded"
        else ("restart broker under running services, nothing drained", stack.restart_kafka)
    )
    return [
        *((f"kill -9 {name}", lambda name=name: stack.crash_service(name)) for name in CRASH_ORDER),
        ("kill -9 postgresql", postgres),
        broker,
    ]


async def test_r8_r11_every_acknowledged_commit_is_recorded_once_and_confirmed_once_through_crashes(
    tmp_path, monkeypatch
):
    """R8 (a voucher is used once) and R11 (an item crosses once from where it is) must survive crashes: no
    acknowledged commit lost, none recorded or confirmed twice."""
    broker = chosen()
    if broker != "embedded":
        apache_kafka_or_skip()
    name = "latest" if broker == "embedded" else f"crashes-{broker}"
    report = await run_under_faults(tmp_path, monkeypatch, name, broker, crashes)
    # The load really ran through every fault: commits were failing and retried.
    assert report["failed_attempts"] > 0
