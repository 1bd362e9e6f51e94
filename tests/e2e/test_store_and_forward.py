"""Issue 4, store and forward: with the core down, customs keep committing; nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest

from deploy.local.demo import issuance_request, issue_carnet, poll
from deploy.local.identity import private_key_path
from deploy.local.journey import Traveller
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.support.ports import free_port_offset

pytestmark = pytest.mark.e2e


async def test_three_commits_while_the_core_is_down_are_recorded_once_each_when_it_is_back(
    kafka_bootstrap, database_url, tmp_path
):
    offset = free_port_offset()
    async with LocalStack(
        tmp_path / "stack",
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        service_ports={s: DEFAULT_PORTS[s] + offset for s in SERVICES},
        progress=lambda _: None,
    ) as stack:
        holder = f"hld_{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(timeout=10) as http:
            t = Traveller(http, stack.endpoints, holder, private_key_path(stack.data_dir), stack.admin_token)
            await t.open_offices()
            today = datetime.now(UTC).date()
            number = await issue_carnet(stack.kafka_bootstrap, issuance_request(today, holder))
            await poll(lambda: _known(http, t, number), "the core to record the carnet")
            tokens = []
            for item in (1, 2, 3):  # three separate exportations, each its own voucher
                r = await t.declare(number, "exportation", "FR", [item])
                assert r.status_code == 201, r.text
                tokens.append(r.json()["token"])

            core = stack.services["core"]
            await core.stop()
            answers = [await t.commit(token, "FR") for token in tokens]  # verified offline, stored at the gateway

            conn = await asyncpg.connect(database_url)
            try:
                stored = await conn.fetchval(
                    "SELECT count(*) FROM customs_gateway.commits WHERE carnet_number = $1", number
                )
                recorded_while_down = await conn.fetchval(
                    "SELECT count(*) FROM core.transactions WHERE carnet_number = $1", number
                )
                core.start()
                await core.wait_healthy()
                history = await poll(lambda: _at_least(t, number, 3), "the core to catch up", timeout=60)
                await asyncio.sleep(1.0)  # anything doubled would have arrived by now
                rows = await conn.fetch(
                    "SELECT commit_id, items, decision FROM core.transactions WHERE carnet_number = $1", number
                )
                where = {
                    r["item_number"]: r["location"]
                    for r in await conn.fetch(
                        "SELECT item_number, location FROM core.items WHERE carnet_number = $1", number
                    )
                }
            finally:
                await conn.close()

    assert [a.status_code for a in answers] == [202, 202, 202]
    assert stored == 3 and recorded_while_down == 0
    assert len(history) == 3
    assert len(rows) == 3 and len({r["commit_id"] for r in rows}) == 3
    assert sorted(r["items"][0] for r in rows) == [1, 2, 3] and {r["decision"] for r in rows} == {"committed"}
    assert where == {1: "exported", 2: "exported", 3: "exported"}


async def _known(http: httpx.AsyncClient, t: Traveller, number: str) -> bool:
    return (await http.get(f"{t.core}/v1/carnets/{number}", headers=t.holder)).status_code == 200


async def _at_least(t: Traveller, number: str, n: int) -> list | None:
    history = await t.history(number)
    return history if len(history) >= n else None
