"""Notifier against a Standard Webhooks receiver verifying with the reference package (tests/support/peers.py):
signature tolerance, secret rotation, retries with backoff, attempts cut at the timeout. Every clock is the test's."""

from __future__ import annotations

from datetime import timedelta

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
from tests.support.notifier_channels import hooks_clock, sample  # noqa: F401  (hooks_clock: the fixture)
from tests.support.peers import HookReceiver, clocked_standardwebhooks

# --- signed webhooks ------------------------------------------------------------------------------------


async def test_a_signature_older_than_the_receivers_tolerance_is_refused_and_retried(
    settings, clock, running, hooks_clock, monkeypatch
):
    """The receiver (reference package) judges the timestamp by its clock: 6 minutes ahead it refuses."""
    service = build(settings, clock=clock)
    async with HookReceiver() as hook, running(service) as broker, client(service) as http, sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await request(broker, clock, ["hld_1"])
        sender_now = clock.now
        clocked_standardwebhooks(monkeypatch, lambda: sender_now + timedelta(minutes=6))
        await service.state["handlers"].deliver_due(service.pool, out)
        d = (await rows(service, "SELECT status, last_error FROM deliveries"))[0]
    assert hook.rejected == ["Message timestamp too old"] and hook.verified == []
    assert (d["status"], d["last_error"]) == ("pending", "http_401")


async def test_secret_rotation_sends_two_signatures_during_the_overlap_then_only_the_new_one(
    settings, clock, running, hooks_clock
):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with HookReceiver() as old_side, running(service) as broker, client(service) as http, sender(service) as out:
        endpoint = await register(service, http, "hld_1", old_side.url)
        old_side.secret = endpoint["secret"]
        r = await http.post(
            f"/v1/endpoints/webhooks/{endpoint['endpoint_id']}/rotation", json={}, headers=auth(service, "hld_1")
        )
        new_secret = r.json()["secret"]
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)  # overlap: the old secret still verifies
        during = old_side.headers[-1]["webhook-signature"].split(" ")
        clock.now += timedelta(hours=24)
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)  # after the overlap: only the new one
        after = old_side.headers[-1]["webhook-signature"].split(" ")
        old_side.secret = new_secret  # the receiver switched: it verifies again
        clock.now = (await rows(service, "SELECT max(next_attempt_at) AS t FROM deliveries WHERE status = 'pending'"))[
            0
        ]["t"]
        await handlers.deliver_due(service.pool, out)
    assert r.status_code == 200 and new_secret != endpoint["secret"]
    assert r.json()["previous_secret_until"] is not None
    assert (len(during), len(after)) == (2, 1)
    assert len(old_side.verified) == 2 and old_side.rejected == ["No matching signature found"]


async def test_a_failing_receiver_is_retried_with_backoff_and_logged_until_it_answers(
    settings, clock, running, hooks_clock
):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with (
        HookReceiver(statuses=(500, 502, 204)) as hook,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await request(broker, clock, ["hld_1"])
        due = []
        for _ in range(3):
            await handlers.deliver_due(service.pool, out)
            d = (await rows(service, "SELECT next_attempt_at, status FROM deliveries"))[0]
            due.append(d["next_attempt_at"] - clock.now)
            clock.now = d["next_attempt_at"]
        log = (await http.get("/v1/deliveries", headers=auth(service, "hld_1"))).json()[0]
    assert [(a["attempt"], a["status_code"]) for a in log["log"]] == [(1, 500), (2, 502), (3, 204)]
    assert log["status"] == "delivered" and len(hook.verified) == 1
    assert timedelta(seconds=4.5) <= due[0] <= timedelta(seconds=5.5)
    assert timedelta(minutes=4.5) <= due[1] <= timedelta(minutes=5.5)
    assert sample(service, "ata_delivery_attempts_total", channel="webhook", outcome="retry") == 2
    assert sample(service, "ata_delivery_attempts_total", channel="webhook", outcome="delivered") == 1


async def test_an_attempt_that_outlasts_the_timeout_is_cut_and_retried(settings, clock, running, hooks_clock):
    service = build(settings.model_copy(update={"webhook_timeout_s": 0.3}), clock=clock)
    async with (
        HookReceiver(hang_s=3.0) as hook,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await request(broker, clock, ["hld_1"])
        await service.state["handlers"].deliver_due(service.pool, out)
        attempt = (await rows(service, "SELECT status_code, error, duration_ms FROM delivery_attempts"))[0]
        d = (await rows(service, "SELECT status FROM deliveries"))[0]
    assert attempt["status_code"] is None and attempt["error"] == "timeout"
    assert attempt["duration_ms"] < 2000
    assert d["status"] == "pending"
