"""Nothing the notifier owes is lost silently: deliveries survive restarts and dying workers, exhausted ones
go to the dead-letter store and an operator replays them. Every clock is the test's."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from notifier import cli
from notifier.app import build
from tests.support.notifier import (  # noqa: F401  (settings: the fixture)
    auth,
    client,
    register,
    request,
    rows,
    sender,
    settings,
)
from tests.support.notifier_channels import hooks_clock  # noqa: F401  (hooks_clock: the fixture)
from tests.support.peers import HookReceiver

# --- durability ------------------------------------------------------------------------------------------


async def test_deliveries_survive_a_restart_and_a_worker_dying_mid_attempt(settings, clock, running, hooks_clock):
    from notifier import repository as repo

    first = build(settings, clock=clock)
    async with HookReceiver() as hook:
        async with running(first) as broker, client(first) as http:
            hook.secret = (await register(first, http, "hld_1", hook.url))["secret"]
            await request(broker, clock, ["hld_1"])
            async with first.pool.acquire() as conn:  # a worker takes the row, then the process dies
                taken = await repo.claim_due(conn, clock.now, timedelta(seconds=25), 50)
        second = build(settings, clock=clock)
        async with running(second), sender(second) as out:
            too_soon = await second.state["handlers"].deliver_due(second.pool, out)
            clock.now += timedelta(seconds=26)
            after_lease = await second.state["handlers"].deliver_due(second.pool, out)
            d = (await rows(second, "SELECT status, attempts FROM deliveries"))[0]
    assert len(taken) == 1 and (too_soon, after_lease) == (0, 1)
    assert (d["status"], d["attempts"]) == ("delivered", 2)
    assert len(hook.verified) == 1


async def test_exhausted_deliveries_go_to_the_dead_letter_store_and_an_operator_replays_them(
    settings, clock, running, hooks_clock
):
    service = build(settings.model_copy(update={"delivery_max_attempts": 2}), clock=clock)
    handlers = service.state["handlers"]
    said: list[str] = []
    async with (
        HookReceiver(statuses=(503,)) as hook,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        gone = await register(service, http, "rep_1", f"{hook.origin}/gone")
        await request(broker, clock, ["hld_1"])
        for _ in range(2):
            await handlers.deliver_due(service.pool, out)
            clock.now += timedelta(hours=1)
        [dead] = await rows(service, "SELECT delivery_id, reason, attempts FROM dead_letters")
        await http.delete(f"/v1/endpoints/{gone['endpoint_id']}", headers=auth(service, "rep_1"))
        hook.statuses = [204]  # the receiver is fixed
        code = await cli.replay(service.settings, [dead["delivery_id"]], clock, out=said.append)
        again = await cli.replay(service.settings, [dead["delivery_id"]], clock, out=said.append)
        await handlers.deliver_due(service.pool, out)
        d = (await rows(service, "SELECT status, attempts, attempts_before_replay FROM deliveries"))[0]
        letters = await rows(service, "SELECT replayed_at FROM dead_letters")
        attempts = await rows(service, "SELECT attempt, status_code FROM delivery_attempts ORDER BY attempt")
    assert dead["attempts"] == 2 and dead["reason"] == "2 attempts failed, last: http_503"
    assert (code, again) == (0, 1)
    assert said[0] == f"{dead['delivery_id']}: queued again" and "no open dead letter" in said[2]
    assert (d["status"], d["attempts"], d["attempts_before_replay"]) == ("delivered", 3, 2)
    assert letters == [{"replayed_at": clock.now}]
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 503), (2, 503), (3, 204)]
    assert json.loads(json.dumps(hook.verified[-1]))["type"] == "transaction.committed"


async def test_replay_skips_a_dead_letter_whose_endpoint_is_disabled(settings, clock, running):
    from tests.support.peers import StatusServer

    service = build(settings, clock=clock)
    said: list[str] = []
    async with StatusServer(410) as server, running(service) as broker, client(service) as http, sender(service) as out:
        await register(service, http, "hld_1", server.url)
        await request(broker, clock, ["hld_1"])
        await service.state["handlers"].deliver_due(service.pool, out)
        code = await cli.replay(service.settings, None, clock, out=said.append)
        listed: list[str] = []
        await cli.list_dead(service.settings, False, out=listed.append)
        d = (await rows(service, "SELECT status FROM deliveries"))[0]
    assert code == 1 and "endpoint is disabled" in said[0]
    assert d["status"] == "dead"
    assert listed[-1] == "1 dead letter(s)" and "endpoint gone: http_410" in listed[0]


def test_the_replay_command_takes_ids_or_all_dead():
    p = cli.parser()
    assert p.parse_args(["replay", "--all-dead"]).all_dead
    ids = p.parse_args(
        [
            "replay",
            "--delivery",
            "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
            "--delivery",
            "7a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
        ]
    ).delivery
    assert len(ids) == 2
    with pytest.raises(SystemExit):
        p.parse_args(["replay"])
    with pytest.raises(SystemExit):
        p.parse_args(["replay", "--delivery", "not-a-uuid"])
