"""The scripted multi-country journey through the five services as separate processes (issue 3)."""

from __future__ import annotations

import asyncpg
import pytest

from deploy.local.identity import private_key_path
from deploy.local.journey import run_journey
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from runtime.settings import DEFAULT_PORTS
from tests.support.ports import free_port_offset

pytestmark = pytest.mark.e2e


async def test_export_transit_split_import_reexport_reimport_with_refusals(kafka_bootstrap, database_url, tmp_path):
    offset = free_port_offset()
    async with LocalStack(
        tmp_path / "stack",
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        service_ports={s: DEFAULT_PORTS[s] + offset for s in SERVICES},
        progress=lambda _: None,
    ) as stack:
        result = await run_journey(
            stack.endpoints,
            stack.kafka_bootstrap,
            private_key_path(stack.data_dir),
            stack.admin_token,
            progress=lambda _: None,
        )
    number = result["carnet_number"]
    conn = await asyncpg.connect(database_url)
    try:
        decided = [
            (r["kind"], r["decision"], r["cancelled"])
            for r in await conn.fetch(
                "SELECT kind, decision, cancelled_at IS NOT NULL AS cancelled FROM core.transactions WHERE carnet_number = $1"
                " ORDER BY recorded_at",
                number,
            )
        ]
        gateway_cancellations = [
            r["status"]
            for r in await conn.fetch(
                "SELECT status FROM customs_gateway.cancellations WHERE carnet_number = $1", number
            )
        ]
        items = {
            r["item_number"]: r["location"]
            for r in await conn.fetch("SELECT item_number, location FROM core.items WHERE carnet_number = $1", number)
        }
        status = await conn.fetchval("SELECT status FROM core.carnets WHERE carnet_number = $1", number)
        watched = await conn.fetchval("SELECT count(*) FROM claims.watched_items WHERE carnet_number = $1", number)
    finally:
        await conn.close()

    assert decided == [
        ("exportation", "committed", False),
        ("transit_entry", "committed", False),
        ("transit_discharge", "committed", False),
        ("importation", "committed", False),
        ("reexportation", "refused", False),
        ("reexportation", "committed", False),
        ("reimportation", "committed", True),
        ("reimportation", "committed", False),
    ]
    assert gateway_cancellations == ["cancelled"]
    assert items == {1: "home", 2: "home", 3: "home"}
    assert status == "closed"
    assert watched == 0  # every item came home: the claims worker has nothing left to chase
    refusals = result["refusals"]
    assert refusals["wrong country"]["code"] == "country_not_covered"
    assert refusals["split shipment"]["code"] == "split_shipment_forbidden"
    assert refusals["split shipment"]["policy"].startswith("country-policy ") and refusals["split shipment"][
        "policy"
    ].endswith(" MX")
    assert refusals["never imported"]["code"] == "item_not_there"
    assert refusals["expired carnet"]["code"] == "carnet_expired"
    assert (refusals["not digital yet"]["rule"], refusals["not digital yet"]["code"]) == ("R16", "before_digital_date")
    assert "no digital date" in refusals["not digital yet"]["message"]
    assert (refusals["fee without a claim"]["rule"], refusals["fee without a claim"]["country"]) == ("R27", "CH")
    assert refusals["wrong office"]["reason"] == "wrong_country"
