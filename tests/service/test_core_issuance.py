"""Core ledger service: carnets from the issuer put at home, redelivery and rejections ignored, a different carnet under
a known number refused (R1)."""

from __future__ import annotations

from contracts.messages import IssuanceRejected, Reason
from contracts.topics import ISSUANCE_EVENTS
from core.app import build
from issuer.domain import issued
from tests.service.conftest import outbox
from tests.support.core import EXPIRY, NUMBER, fetch, issue, locations, publish
from tests.support.core_service import settings  # noqa: F401  (settings: the fixture)
from tests.support.databases import snapshot
from tests.support.messages import issuance_request, wire

# --- carnets from the issuer ---------------------------------------------------------------------


async def test_carnet_issued_puts_the_carnet_and_its_items_at_home(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        carnet = await issue(broker)
        rows = await fetch(service, "SELECT * FROM carnets")
        items = await locations(service)
    assert len(rows) == 1
    row = rows[0]
    assert (
        row["carnet_number"],
        row["home_country"],
        list(row["countries"]),
        row["expiry_date"],
        row["holder_id"],
        row["active"],
        row["general_list_digest"],
    ) == (NUMBER, "FR", ["CH", "GB"], EXPIRY, "hld_1", False, carnet.general_list_digest)
    assert items == {1: ("home", None, None), 2: ("home", None, None), 3: ("home", None, None)}


async def test_issuance_rejected_on_the_same_topic_is_ignored(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        rejected = IssuanceRejected(
            request_id="REQ-9", nga="FR", reasons=[Reason(rule="R4", item_number=1, message="alcohol")]
        )
        await publish(broker, rejected, ISSUANCE_EVENTS.name, "REQ-9")
        async with service.pool.acquire() as conn:
            counts = [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("carnets", "items")]
            handled = await conn.fetchval("SELECT count(*) FROM inbox")
        queued = await outbox(service)
    assert counts == [0, 0]
    assert handled == 1  # consumed (not dead-lettered), and nothing recorded
    assert queued == []


async def test_carnet_issued_twice_changes_nothing(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        carnet = issued(issuance_request("REQ-1"), NUMBER)
        body, headers, _ = wire(carnet, subject=NUMBER)
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "core")
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            redelivered = await snapshot(conn, "core")
        # the issuer answering a repeated request again: a new message id, the same carnet
        await issue(broker)
        async with service.pool.acquire() as conn:
            repeated = await snapshot(conn, "core")
    assert len(before["items"]) == 3 and len(before["inbox"]) == 1
    assert redelivered == before
    assert len(repeated["inbox"]) == 2
    assert {k: v for k, v in repeated.items() if k != "inbox"} == {k: v for k, v in before.items() if k != "inbox"}


async def test_r1_a_different_carnet_under_a_known_number_is_refused_loudly(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        other = issued(
            issuance_request(
                "REQ-OTHER", holder=issuance_request().holder.model_copy(update={"holder_id": "hld_intruder"})
            ),
            NUMBER,
        )
        body, headers, _ = wire(other, subject=NUMBER)
        await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
        holder = (await fetch(service, "SELECT holder_id FROM carnets WHERE carnet_number = $1", NUMBER))[0][
            "holder_id"
        ]
    assert holder == "hld_1"
    assert service.registry.get_sample_value("ata_carnet_number_collisions_total") == 1
