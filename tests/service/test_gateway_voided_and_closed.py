"""Customs gateway service: tokens of voided (R5) and closed (R7) carnets stop verifying, across restarts, late statuses
and other instances."""

from __future__ import annotations

from datetime import timedelta

from customs_gateway.app import build
from tests.support.gateway import (  # noqa: F401  (gateway: the fixture)
    FR_OFFICER,
    NUMBER,
    auth,
    carnet_status,
    client,
    commit,
    commits,
    gateway,
    make_token,
)
from tests.support.messages import wire

# --- voided and closed carnets (R5, R7) -----------------------------------------------------------


async def test_r5_tokens_of_a_voided_carnet_stop_verifying_offline_and_after_a_restart(gateway, clock, settings):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        await carnet_status(g.broker, "voided", clock.now)
        r = await commit(g.http, token)
        scan = await g.http.post("/v1/scans", json={"token": token}, headers=auth(FR_OFFICER))
        rows = await commits(g.service)
        fresh = build(settings, clock=clock).state["handlers"]  # a restarted gateway reloads what it learned
        async with g.service.pool.acquire() as conn:
            await fresh.load_trust(conn)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "voided"
    assert "FR2600000028" in r.json()["detail"]["message"]
    assert scan.status_code == 422
    assert rows == []
    assert fresh.blocked[NUMBER].status == "voided"


async def test_r7_a_closed_carnet_is_refused_and_an_older_status_arriving_late_does_not_undo_it(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        await carnet_status(g.broker, "closed", clock.now, rule="R7", successor=None)
        await carnet_status(g.broker, "active", clock.now - timedelta(hours=1), rule="R10", successor=None)
        r = await commit(g.http, token)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "closed"


async def test_r7_r6_a_status_another_instance_consumed_is_refused_at_commit_before_its_cache_reloads(
    gateway, clock, settings
):
    """Two gateway instances share one database, and only the first consumes the carnet's closure (R7) and a
    replacement's takeover of item 1 (R6). The second's caches have not reloaded, yet its commits are refused:
    a commit reads the shared tables before it accepts."""
    from contracts.messages import ItemLocation, ItemLocationsChanged
    from contracts.topics import CUSTOMS_LEDGER

    async with gateway() as g:
        closed_token, _ = make_token(g.key, clock.now, items=(2,))
        second = build(settings, clock=clock)
        await second.open_database()
        try:
            async with second.pool.acquire() as conn:
                await second.state["handlers"].load_trust(conn)  # keys known; the carnet still active
            moved = ItemLocationsChanged(
                carnet_number=NUMBER,
                cause="replacement",
                successor="FR2600000028",
                changed_at=clock.now,
                rule="R6",
                items=[ItemLocation(item_number=1, location="transferred")],
            )
            body, headers, _ = wire(moved, producer="core")
            await g.broker.publish(body, CUSTOMS_LEDGER.name, key=NUMBER.encode(), headers=headers)
            async with client(second) as http:
                replaced = await commit(http, make_token(g.key, clock.now, items=(1,))[0])
            await carnet_status(g.broker, "closed", clock.now, rule="R7", successor=None)
            async with client(second) as http:
                closed = await commit(http, closed_token)
            stale = second.registry.get_sample_value(
                "ata_gateway_cache_lookups_total", {"cache": "carnet_status", "outcome": "stale"}
            )
        finally:
            await second.pool.close()
    assert replaced.status_code == 422 and replaced.json()["detail"]["reason"] == "replaced", replaced.text
    assert closed.status_code == 422 and closed.json()["detail"]["reason"] == "closed", closed.text
    assert stale == 2
