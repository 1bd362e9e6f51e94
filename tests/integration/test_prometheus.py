"""Debian's Prometheus scraping the running stack every second, with the checked-in rules (issue 8 item 3):
the demo scenario runs, and the HTTP API shows the key series exist and moved."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from deploy.local.demo import run_scenario
from deploy.local.identity import private_key_path
from deploy.local.prometheus import LocalPrometheus, key_series
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.support.ports import free_port_offset
from tests.support.system_tools import require

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def eventually(probe: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], timeout: float = 30) -> Any:
    """Poll until `done(value)`; the last value either way (the assertion after says what was wrong)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value) or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.5)


def moved(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """One carnet issued, declared, committed and confirmed, as Prometheus sees it."""
    grew = ("carnets issued", "customs decisions recorded", "messages consumed")
    present = ("declarations (tokens issued)", "declaration -> decision, count", "webhook deliveries")
    return all((after[k] or 0) > (before[k] or 0) for k in grew) and all((after[k] or 0) >= 1 for k in present)


async def jobs_per_series(prom: LocalPrometheus) -> dict[str, set[str]]:
    return {
        name: {r["metric"]["job"] for r in await prom.query(f"count by (job) ({name})")}
        for name in (
            "ata_outbox_backlog",
            "ata_outbox_oldest_age_seconds",
            "ata_messages_handled_total",
            "ata_consumer_lag_messages",
            "ata_dead_letter_messages",
            "ata_service_info",
        )
    }


async def test_prometheus_sees_the_demo_scenario_move_the_key_series(kafka_bootstrap, database_url, tmp_path):
    binary = require("prometheus", "prometheus")
    started = time.monotonic()
    offset = free_port_offset()
    ports = {s: DEFAULT_PORTS[s] + offset for s in SERVICES}
    async with LocalStack(
        tmp_path / "stack",
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        service_ports=ports,
        progress=lambda _: None,
    ) as stack:
        async with LocalPrometheus(
            tmp_path / "prometheus", stack.endpoints, port=None, scrape_interval="1s", binary=binary
        ) as prom:
            up = await prom.wait_for_targets()
            before = await key_series(prom)
            result = await run_scenario(
                stack.endpoints,
                stack.kafka_bootstrap,
                tmp_path / "out",
                private_key_path(stack.data_dir),
                stack.admin_token,
                progress=lambda _: None,
            )
            # Every series the assertions below read, each from its own service's latest scrape: wait for all of
            # them rather than for the last step's, since each target is scraped at its own moment.
            after = await eventually(lambda: key_series(prom), lambda s: moved(before, s))
            async with httpx.AsyncClient(timeout=5) as http:  # what the issuer itself says, should the sum lack it
                issuer_metrics = (await http.get(f"{stack.endpoints['issuer']}/metrics")).text
            # the middleware's series appears on a service's first consumed message, and that service may not
            # have been scraped since: wait for it rather than race the scrape interval
            per_service = await eventually(
                lambda: jobs_per_series(prom), lambda found: all(jobs == set(SERVICES) for jobs in found.values())
            )
            kafka_measured = await prom.query('ata_observability_refresh_seconds{source="kafka"}')
            rules = await prom.rules()
            firing = [r["metric"]["alertname"] for r in await prom.query('ALERTS{alertstate="firing"}')]
    elapsed = time.monotonic() - started
    print(f"\nPrometheus test: {elapsed:.1f} s; key series before {before}\nafter {after}")

    assert {s["metric"]["job"] for s in up} == set(SERVICES)
    assert result["confirmation"]["type"] == "transaction.committed"
    # moved: one carnet issued, declared, committed, confirmed; every service consumed messages
    issued_lines = [line for line in issuer_metrics.splitlines() if line.startswith("ata_carnets_issued_total")]
    assert (after["carnets issued"] or 0) >= (before["carnets issued"] or 0) + 1, issued_lines
    assert (after["declarations (tokens issued)"] or 0) >= 1
    assert (after["customs decisions recorded"] or 0) >= (before["customs decisions recorded"] or 0) + 1
    assert (after["declaration -> decision, count"] or 0) >= 1
    assert (after["webhook deliveries"] or 0) >= 1
    assert (after["messages consumed"] or 0) > (before["messages consumed"] or 0)
    # exist, on every service: the scrape-time gauges and the middleware's series
    for name, jobs in per_service.items():
        assert jobs == set(SERVICES), f"{name} scraped only from {sorted(jobs)}"
    assert {s["metric"]["job"] for s in kafka_measured} == set(SERVICES)
    assert after["outbox backlog, all services"] is not None
    assert after["slowest scrape, seconds"] is not None and after["slowest scrape, seconds"] < 1.0
    # the checked-in rules loaded and evaluate cleanly against the real series; nothing pages on a healthy run
    assert len(rules) >= 10 and all(r["health"] == "ok" for r in rules), [
        (r["name"], r.get("lastError")) for r in rules
    ]
    assert "AtaServiceDown" not in firing and "AtaOutboxStale" not in firing
