"""Notifier against a real RFC 8030 push service (tests/support/peers.py) that checks VAPID and decrypts RFC 8291:
Step 5 of the digital flow (DOMAIN.md), every recipient gets the confirmation; gone subscriptions are removed,
errors retried. Every clock is the test's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from contracts.topics import NOTIFICATION_REQUESTS
from notifier.app import build
from tests.service.conftest import outbox
from tests.support.notifier import (  # noqa: F401  (push_settings, settings: the fixtures)
    NUMBER,
    auth,
    client,
    push_settings,
    register,
    request,
    rows,
    sender,
    settings,
)
from tests.support.notifier_channels import hooks_clock, sample  # noqa: F401  (hooks_clock: the fixture)
from tests.support.peers import HookReceiver, PushService


async def subscribe(service: Any, http: httpx.AsyncClient, recipient: str, subscription: dict[str, Any]) -> str:
    r = await http.post("/v1/endpoints/webpush", json=subscription, headers=auth(service, recipient))
    assert r.status_code == 201, r.text
    return r.json()["endpoint_id"]


# --- Web Push ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["committed", "refused", "cancelled"])
async def test_a_confirmation_reaches_every_recipient_on_every_channel_push_decrypted_and_vapid_checked(
    push_settings, clock, running, hooks_clock, decision
):
    """Step 5: holder (push + webhook) and representative (push), each decision the core confirms."""
    service = build(push_settings, clock=clock)
    handlers = service.state["handlers"]
    async with PushService(clock) as push, running(service) as broker, client(service) as http, sender(service) as out:
        async with HookReceiver() as hook:
            key = (await http.get("/v1/webpush/vapid-public-key")).json()["application_server_key"]
            _, holder_sub = push.subscribe()
            _, rep_sub = push.subscribe()
            await subscribe(service, http, "hld_1", holder_sub)
            await subscribe(service, http, "rep_1", rep_sub)
            hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
            c, _, _ = await request(broker, clock, ["hld_1", "rep_1"], decision=decision)
            clock.now += timedelta(seconds=2)
            sent = await handlers.deliver_due(service.pool, out)
            deliveries = await rows(
                service, "SELECT channel, recipient_id, status, attempts FROM deliveries ORDER BY recipient_id, channel"
            )
            queued = await outbox(service)
    assert push.refused == [] and hook.rejected == []
    assert sent == 3
    assert deliveries == [
        {"channel": "webhook", "recipient_id": "hld_1", "status": "delivered", "attempts": 1},
        {"channel": "webpush", "recipient_id": "hld_1", "status": "delivered", "attempts": 1},
        {"channel": "webpush", "recipient_id": "rep_1", "status": "delivered", "attempts": 1},
    ]
    assert len(push.received) == 2
    for got in push.received:
        assert got["message"]["type"] == f"transaction.{decision}"
        assert got["message"]["data"]["confirmation_id"] == str(c.confirmation_id)
        assert got["claims"]["aud"] == push.origin and got["claims"]["k"] == key
        assert (got["ttl"], got["urgency"]) == (7200, "high") and 1 <= len(got["topic"]) <= 32
    assert hook.verified[0]["data"]["decision"] == decision
    assert sorted(m["payload"]["channel"] for m in queued) == ["webhook", "webpush", "webpush"]
    assert sample(service, "ata_deliveries_total", channel="webpush", outcome="delivered") == 2
    assert sample(service, "ata_confirmation_latency_seconds_count", channel="webpush") == 2
    assert sample(service, "ata_confirmation_latency_seconds_sum", channel="webpush") == pytest.approx(4.0)


async def test_r19_a_reminder_is_pushed_with_normal_urgency(push_settings, clock, running):
    from datetime import date
    from uuid import uuid4

    from contracts.claims import ReminderRequested
    from tests.support.messages import wire

    service = build(push_settings, clock=clock)
    reminder = ReminderRequested(
        reminder_id=uuid4(),
        carnet_number=NUMBER,
        recipient_ids=["hld_1"],
        country="CH",
        items=[1],
        final_date=date(2027, 3, 31),
        days_before=7,
        requested_at=clock.now,
    )
    async with PushService(clock) as push, running(service) as broker, client(service) as http, sender(service) as out:
        await subscribe(service, http, "hld_1", push.subscribe()[1])
        body, headers, _ = wire(reminder, producer="claims_worker", subject=NUMBER)
        await broker.publish(body, NOTIFICATION_REQUESTS.name, key=NUMBER.encode(), headers=headers)
        await service.state["handlers"].deliver_due(service.pool, out)
    assert [(r["message"]["type"], r["urgency"]) for r in push.received] == [("reexport.reminder", "normal")]
    # A reminder is not a transaction: it does not count in the commit-to-confirmation latency.
    assert sample(service, "ata_confirmation_latency_seconds_count", channel="webpush") == 0


@pytest.mark.parametrize("status", [404, 410])
async def test_a_push_service_404_or_410_removes_the_subscription_and_dead_letters_the_message(
    push_settings, clock, running, status
):
    service = build(push_settings, clock=clock)
    async with PushService(clock) as push, running(service) as broker, client(service) as http, sender(service) as out:
        sub, subscription = push.subscribe()
        endpoint_id = await subscribe(service, http, "hld_1", subscription)
        push.status[sub.path] = status
        await request(broker, clock, ["hld_1"])
        await service.state["handlers"].deliver_due(service.pool, out)
        mine = (await http.get("/v1/endpoints", headers=auth(service, "hld_1"))).json()
        dead = await rows(service, "SELECT reason, attempts FROM dead_letters")
        await request(broker, clock, ["hld_1"])  # the next confirmation finds no subscription
        count = await rows(service, "SELECT count(*) AS n FROM deliveries")
    assert [(e["endpoint_id"], e["active"]) for e in mine] == [(endpoint_id, False)]
    assert mine[0]["disabled_reason"] == f"webpush answered http_{status}"
    assert dead == [{"reason": f"endpoint gone: http_{status}", "attempts": 1}]
    assert count == [{"n": 1}]
    assert sample(service, "ata_deliveries_total", channel="webpush", outcome="gone") == 1


async def test_a_push_service_error_is_retried_on_the_schedule_then_delivered(push_settings, clock, running):
    service = build(push_settings, clock=clock)
    handlers = service.state["handlers"]
    async with PushService(clock) as push, running(service) as broker, client(service) as http, sender(service) as out:
        sub, subscription = push.subscribe()
        await subscribe(service, http, "hld_1", subscription)
        push.status[sub.path] = 503
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)
        first = (await rows(service, "SELECT next_attempt_at, status FROM deliveries"))[0]
        del push.status[sub.path]
        clock.now = first["next_attempt_at"]
        await handlers.deliver_due(service.pool, out)
        log = (await http.get("/v1/deliveries", headers=auth(service, "hld_1"))).json()
    assert first["status"] == "pending"
    assert [(a["attempt"], a["status_code"]) for a in log[0]["log"]] == [(1, 503), (2, 201)]
    assert log[0]["status"] == "delivered" and len(push.received) == 1


async def test_web_push_is_off_without_a_vapid_key_and_bad_subscriptions_are_refused(
    settings, push_settings, clock, running
):
    off = build(settings, clock=clock)
    on = build(push_settings, clock=clock)
    from tests.support.peers import Subscription

    good = {"endpoint": "https://push.example.net/wpush/a", "keys": Subscription("/wpush/a").keys()}
    bad = {**good, "keys": {"p256dh": "B" + "A" * 86, "auth": "BTBZMqHH6r4Tts7J_aSIgg"}}  # not a point on P-256
    async with running(off), client(off) as http:
        disabled = await http.post("/v1/endpoints/webpush", json=good, headers=auth(off, "hld_1"))
        no_key = await http.get("/v1/webpush/vapid-public-key")
    async with running(on), client(on) as http:
        off_curve = await http.post("/v1/endpoints/webpush", json=bad, headers=auth(on, "hld_1"))
    assert (disabled.status_code, no_key.status_code) == (503, 404)
    assert off_curve.status_code == 422 and "P-256" in off_curve.text
