"""The demo scenario through the five services as separate processes, on real servers."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import date
from pathlib import Path

import asyncpg
import httpx
import pytest

from contracts.deadlines import r20_notice_limit
from deploy.local.demo import run_scenario
from deploy.local.identity import private_key_path
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.support.ports import free_port_offset

pytestmark = pytest.mark.e2e


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one series in a Prometheus text exposition; fails when absent."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    raise AssertionError(f"no series {name}{labels}")


async def configured_secrets(conn: asyncpg.Connection, stack: LocalStack) -> dict[str, str]:
    """Every secret the run configured or created, and the holder's plain data, as the strings a log could leak."""
    from deploy.local.demo import issuance_request

    found = {"gateway admin token": stack.admin_token}
    found.update({f"NGA {nga} API key": key for nga, key in stack.nga_api_keys.items()})
    for pem in stack.data_dir.rglob("*.pem"):
        lines = pem.read_text().splitlines()
        if "PRIVATE KEY" in lines[0]:
            found[f"private key {pem.name}"] = lines[1]  # the first line of key material
    for row in await conn.fetch("SELECT endpoint_id, secret FROM notifier.endpoints"):
        found[f"webhook secret {row['endpoint_id']}"] = row["secret"]
    plain = issuance_request(date.today(), "hld_x")
    found["holder name"] = plain.holder.name
    found["holder address"] = plain.holder.address
    found.update({f"item {g.item_number} description": g.description for g in plain.goods})
    return found


async def test_one_carnet_from_issuance_request_to_pushed_confirmation(kafka_bootstrap, database_url, tmp_path):
    offset = free_port_offset()
    ports = {s: DEFAULT_PORTS[s] + offset for s in SERVICES}
    async with LocalStack(
        tmp_path / "stack",
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        service_ports=ports,
        progress=lambda _: None,
    ) as stack:
        result = await run_scenario(
            stack.endpoints,
            stack.kafka_bootstrap,
            tmp_path / "out",
            private_key_path(stack.data_dir),
            stack.admin_token,
            progress=lambda _: None,
        )
        number = result["carnet_number"]
        conn = await asyncpg.connect(database_url)
        try:
            # every service kept its own record of the one crossing
            for _ in range(50):
                delivered = await conn.fetch(
                    "SELECT status, attempts FROM notifier.deliveries WHERE carnet_number = $1", number
                )
                watched = await conn.fetch(
                    "SELECT item_number, location, notice_limit, carnet_expiry FROM claims.watched_items"
                    " WHERE carnet_number = $1 ORDER BY item_number",
                    number,
                )
                if watched and delivered and delivered[0]["status"] == "delivered":
                    break
                await asyncio.sleep(0.1)
            commits = await conn.fetch("SELECT decision FROM customs_gateway.commits WHERE carnet_number = $1", number)
            ledger = await conn.fetch("SELECT decision FROM core.transactions WHERE carnet_number = $1", number)
            issued = await conn.fetchval("SELECT count(*) FROM issuer.carnets WHERE carnet_number = $1", number)
            secrets = await configured_secrets(conn, stack)
        finally:
            await conn.close()
        async with httpx.AsyncClient(timeout=5) as http:
            scraped = {name: (await http.get(f"{url}/metrics")).text for name, url in stack.endpoints.items()}

    # each service counted what it did, and FastStream's middleware counted what it consumed
    assert sample(scraped["issuer"], "ata_carnets_issued_total", nga="FR") >= 1
    assert (
        sample(
            scraped["core"], "ata_transactions_recorded_total", kind="exportation", country="FR", decision="committed"
        )
        >= 1
    )
    assert (
        sample(
            scraped["customs_gateway"],
            "ata_customs_commits_total",
            kind="exportation",
            country="FR",
            decision="committed",
        )
        >= 1
    )
    assert sample(scraped["customs_gateway"], "ata_token_verifications_total", outcome="valid") >= 1
    assert sample(scraped["notifier"], "ata_deliveries_total", channel="webhook", outcome="delivered") >= 1
    assert sample(scraped["notifier"], "ata_confirmation_latency_seconds_count", channel="webhook") >= 1
    assert sample(scraped["claims_worker"], "ata_claims_transactions_seen_total", decision="committed") >= 1
    for name, text in scraped.items():
        assert sample(text, "ata_messages_handled_total") >= 1, name
        assert sample(text, "ata_outbox_backlog") >= 0, name
    assert Path(result["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["confirmation"]["type"] == "transaction.committed"
    assert result["confirmation"]["data"]["items"] == [1, 2]
    assert issued == 1
    assert [r["decision"] for r in commits] == ["committed"]
    assert [r["decision"] for r in ledger] == ["committed"]
    assert [(r["status"], r["attempts"]) for r in delivered] == [("delivered", 1)]
    assert [(r["item_number"], r["location"]) for r in watched] == [(1, "exported"), (2, "exported")]
    assert all(r["notice_limit"] == r20_notice_limit(r["carnet_expiry"]) for r in watched)  # R20
    # Issue 10 item 6: no secret and no holder data in any log of the run
    logs = {log.name: log.read_text(errors="replace") for log in (tmp_path / "stack" / "log").glob("*.log")}
    leaked = {what: name for name, text in logs.items() for what, value in secrets.items() if value in text}
    assert {f"{s}.log" for s in SERVICES} <= set(logs) and all(logs[f"{s}.log"] for s in SERVICES)
    assert len(secrets) >= 6 and leaked == {}


async def test_demo_command_exits_zero_and_stops_everything(kafka_bootstrap, database_url, tmp_path):
    """`python -m deploy.local demo`, as `make demo` runs it (servers from the environment here)."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DATABASE_URL": database_url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.local",
        "demo",
        "--root",
        str(tmp_path / "root"),
        "--out",
        str(tmp_path / "out"),
        "--port-offset",
        str(free_port_offset()),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=180)
    text = output.decode()
    assert proc.returncode == 0, text[-3000:]
    assert "confirmation delivered to the holder's webhook" in text
    assert "Demo succeeded for carnet" in text
    assert list((tmp_path / "out").glob("*.png"))
