"""Notifier service: webhook endpoints, deliveries queued from confirmations, real signed HTTP delivery,
retries on the Standard Webhooks schedule, 410 disables, and the delivery log."""

from __future__ import annotations

import json
from datetime import timedelta

from contracts.topics import NOTIFICATION_EVENTS, NOTIFICATION_REQUESTS
from deploy.local.webhook_receiver import WebhookReceiver, verified
from notifier.app import build
from tests.service.conftest import outbox
from tests.support.databases import snapshot
from tests.support.messages import wire
from tests.support.notifier import (  # noqa: F401  (settings, receiver_clock: fixtures)
    HOLDER_URL,
    NUMBER,
    REP_URL,
    auth,
    client,
    closed_port,
    receiver_clock,
    register,
    request,
    rows,
    sender,
    settings,
)
from tests.support.peers import StatusServer

# --- endpoints and queued deliveries ---------------------------------------------------------------


async def test_registering_a_webhook_returns_a_secret(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), client(service) as http:
        generated = await register(service, http, "hld_1", HOLDER_URL)
        given = await register(service, http, "rep_1", REP_URL, secret="whsec_" + "A" * 32)
        bad = await http.post(
            "/v1/endpoints/webhooks", headers=auth(service, "x"), json={"url": "https://x.example", "secret": "plain"}
        )
        endpoints = await rows(service, "SELECT recipient_id, url, secret, active FROM endpoints ORDER BY recipient_id")
    assert generated["secret"].startswith("whsec_") and len(generated["secret"]) > 20
    assert given["secret"] == "whsec_" + "A" * 32
    assert bad.status_code == 422
    assert endpoints == [
        {"recipient_id": "hld_1", "url": HOLDER_URL, "secret": generated["secret"], "active": True},
        {"recipient_id": "rep_1", "url": REP_URL, "secret": given["secret"], "active": True},
    ]


async def test_registering_the_same_url_with_a_new_secret_uses_the_new_secret(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), client(service) as http:
        await register(service, http, "hld_1", HOLDER_URL, secret="whsec_" + "A" * 32)
        again = await register(service, http, "hld_1", HOLDER_URL, secret="whsec_" + "B" * 32)
    assert again["secret"] == "whsec_" + "B" * 32


async def test_confirmation_for_a_registered_recipient_queues_one_delivery_and_redelivery_changes_nothing(
    settings, clock, running
):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        endpoint = await register(service, http, "hld_1", HOLDER_URL)
        c, body, headers = await request(broker, clock, ["hld_1", "rep_without_endpoint"])
        async with service.pool.acquire() as conn:
            before = await snapshot(conn, "notifier")
        await broker.publish(body, NOTIFICATION_REQUESTS.name, key=NUMBER.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            after = await snapshot(conn, "notifier")
        deliveries = await rows(service, "SELECT * FROM deliveries")
    assert before == after
    assert len(deliveries) == 1
    d = deliveries[0]
    assert (
        d["status"],
        d["attempts"],
        d["recipient_id"],
        str(d["endpoint_id"]),
        d["carnet_number"],
        d["event_type"],
    ) == ("pending", 0, "hld_1", endpoint["endpoint_id"], NUMBER, "transaction.committed")
    assert d["confirmation_id"] == c.confirmation_id
    assert d["next_attempt_at"] == clock.now
    payload = json.loads(d["body"])
    assert payload["type"] == "transaction.committed"
    assert payload["data"]["carnet_number"] == NUMBER and payload["data"]["items"] == [1, 2]


async def test_a_recipient_without_endpoint_gets_no_delivery(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await register(service, http, "hld_1", HOLDER_URL)
        await request(broker, clock, ["hld_2"])
        deliveries = await rows(service, "SELECT * FROM deliveries")
        handled = await rows(service, "SELECT * FROM inbox")
    assert deliveries == []
    assert len(handled) == 1


async def test_a_removed_endpoint_gets_no_delivery(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        endpoint = await register(service, http, "hld_1", HOLDER_URL)
        removed = await http.delete(f"/v1/endpoints/{endpoint['endpoint_id']}", headers=auth(service, "hld_1"))
        await request(broker, clock, ["hld_1"])
        deliveries = await rows(service, "SELECT * FROM deliveries")
    assert removed.status_code == 204
    assert deliveries == []


# --- real HTTP delivery ----------------------------------------------------------------------------


async def test_delivery_to_a_real_receiver_is_signed_logged_and_announced(settings, clock, running, receiver_clock):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        async with running(service) as broker, client(service) as http, sender(service) as out:
            endpoint = await register(service, http, "hld_1", receiver.url)
            receiver.secret = endpoint["secret"]
            c, _, _ = await request(broker, clock, ["hld_1"])
            sent = await handlers.deliver_due(service.pool, out)
            nothing_left = await handlers.deliver_due(service.pool, out)
            deliveries = await rows(service, "SELECT * FROM deliveries")
            attempts = await rows(service, "SELECT * FROM delivery_attempts")
            queued = await outbox(service)
            listed = await http.get("/v1/deliveries", params={"carnet_number": NUMBER}, headers=auth(service, "hld_1"))
            other = await http.get(
                "/v1/deliveries", params={"carnet_number": "FR2699999999"}, headers=auth(service, "hld_1")
            )
    finally:
        await receiver.stop()
    assert (sent, nothing_left) == (1, 0)
    assert receiver.rejected == 0
    assert len(receiver.messages) == 1
    assert receiver.messages[0]["data"]["confirmation_id"] == str(c.confirmation_id)
    assert receiver.messages[0] == json.loads(deliveries[0]["body"])
    d = deliveries[0]
    assert (d["status"], d["attempts"], d["delivered_at"], d["last_error"]) == ("delivered", 1, clock.now, None)
    assert [(a["attempt"], a["status_code"], a["error"], a["attempted_at"]) for a in attempts] == [
        (1, 204, None, clock.now)
    ]
    assert [(m["topic"], m["key"], m["type"]) for m in queued] == [
        (NOTIFICATION_EVENTS.name, NUMBER, "ConfirmationDelivered")
    ]
    p = queued[0]["payload"]
    assert (p["confirmation_id"], p["recipient_id"], p["channel"], p["endpoint_id"], p["attempts"]) == (
        str(c.confirmation_id),
        "hld_1",
        "webhook",
        endpoint["endpoint_id"],
        1,
    )
    assert listed.status_code == 200
    assert [(x["delivery_id"], x["status"], x["attempts"]) for x in listed.json()] == [
        (str(d["delivery_id"]), "delivered", 1)
    ]
    assert other.json() == []


async def test_the_signature_the_notifier_sends_verifies_with_the_endpoint_secret(
    settings, clock, running, receiver_clock
):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with (
        StatusServer(200) as server,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        endpoint = await register(service, http, "hld_1", server.url)
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)
        deliveries = await rows(service, "SELECT delivery_id, body, status FROM deliveries")
    assert len(server.requests) == 1
    h = server.requests[0]
    assert h["webhook-id"] == str(deliveries[0]["delivery_id"])
    assert h["webhook-timestamp"] == str(int(clock.now.timestamp()))
    body = deliveries[0]["body"].encode()
    assert verified(endpoint["secret"], h, body)
    assert not verified(endpoint["secret"], h, body + b" ")
    assert deliveries[0]["status"] == "delivered"


async def test_an_unreachable_endpoint_is_retried_on_the_schedule(settings, clock, running):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with running(service) as broker, client(service) as http, sender(service) as out:
        await register(service, http, "hld_1", f"http://127.0.0.1:{closed_port()}/hook")
        await request(broker, clock, ["hld_1"])
        first_at = clock.now
        assert await handlers.deliver_due(service.pool, out) == 1
        after_first = (await rows(service, "SELECT * FROM deliveries"))[0]
        not_yet = await handlers.deliver_due(service.pool, out)
        clock.now = after_first["next_attempt_at"] + timedelta(seconds=1)
        assert await handlers.deliver_due(service.pool, out) == 1
        after_second = (await rows(service, "SELECT * FROM deliveries"))[0]
        attempts = await rows(service, "SELECT * FROM delivery_attempts ORDER BY attempt")
        queued = await outbox(service)
    assert not_yet == 0
    assert (after_first["status"], after_first["attempts"]) == ("pending", 1)
    assert after_first["last_error"] == "refused"  # a category, never the error's text
    delay = after_first["next_attempt_at"] - first_at
    assert timedelta(seconds=4.5) <= delay <= timedelta(seconds=5.5)  # first retry: 5 s +- 10%
    assert (after_second["status"], after_second["attempts"]) == ("pending", 2)
    second_delay = after_second["next_attempt_at"] - clock.now
    assert timedelta(minutes=4.5) <= second_delay <= timedelta(minutes=5.5)  # second retry: 5 min +- 10%
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, None), (2, None)]
    assert [a["error"] for a in attempts] == ["refused", "refused"]
    assert attempts[0]["attempted_at"] == first_at
    assert queued == []


async def test_a_receiver_refusing_the_signature_is_retried(settings, clock, running, receiver_clock):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    receiver = WebhookReceiver()
    receiver.secret = "whsec_" + "B" * 32  # not the endpoint's secret: it answers 401
    await receiver.start()
    try:
        async with running(service) as broker, client(service) as http, sender(service) as out:
            await register(service, http, "hld_1", receiver.url)
            await request(broker, clock, ["hld_1"])
            await handlers.deliver_due(service.pool, out)
            d = (await rows(service, "SELECT * FROM deliveries"))[0]
            attempts = await rows(service, "SELECT * FROM delivery_attempts")
            endpoint = await rows(service, "SELECT active FROM endpoints")
    finally:
        await receiver.stop()
    assert receiver.rejected == 1 and receiver.messages == []
    assert (d["status"], d["attempts"], d["last_error"]) == ("pending", 1, "http_401")
    assert [(a["status_code"], a["error"]) for a in attempts] == [(401, "http_401")]
    assert endpoint == [{"active": True}]


async def test_410_gone_disables_the_endpoint_and_the_delivery_is_dead(settings, clock, running):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with (
        StatusServer(410) as server,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        await register(service, http, "hld_1", server.url)
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)
        clock.now += timedelta(days=1)
        again = await handlers.deliver_due(service.pool, out)
        d = (await rows(service, "SELECT * FROM deliveries"))[0]
        attempts = await rows(service, "SELECT * FROM delivery_attempts")
        endpoint = await rows(service, "SELECT active FROM endpoints")
        await request(broker, clock, ["hld_1"])  # a later confirmation finds no active endpoint
        deliveries = await rows(service, "SELECT * FROM deliveries")
        listed = await http.get("/v1/deliveries", params={"carnet_number": NUMBER}, headers=auth(service, "hld_1"))
        queued = await outbox(service)
    assert len(server.requests) == 1
    assert again == 0
    assert (d["status"], d["attempts"]) == ("dead", 1)
    assert [a["status_code"] for a in attempts] == [410]
    assert endpoint == [{"active": False}]
    assert len(deliveries) == 1
    assert [(x["status"], x["last_error"]) for x in listed.json()] == [("dead", "endpoint gone: http_410")]
    assert queued == []


async def test_a_delivery_is_dead_after_the_last_attempt(settings, clock, running):
    settings = settings.model_copy(update={"delivery_max_attempts": 2})
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with (
        StatusServer(503) as server,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        await register(service, http, "hld_1", server.url)
        await request(broker, clock, ["hld_1"])
        for _ in range(3):
            await handlers.deliver_due(service.pool, out)
            clock.now += timedelta(hours=1)
        d = (await rows(service, "SELECT * FROM deliveries"))[0]
        dead = await rows(service, "SELECT delivery_id, reason, attempts, replayed_at FROM dead_letters")
    assert len(server.requests) == 2
    assert (d["status"], d["attempts"], d["last_error"]) == ("dead", 2, "2 attempts failed, last: http_503")
    assert dead == [{"delivery_id": d["delivery_id"], "reason": d["last_error"], "attempts": 2, "replayed_at": None}]


async def test_r19_a_final_date_reminder_is_queued_like_a_confirmation_with_its_own_event_type(
    settings, clock, running
):
    """R19: the claims worker's ReminderRequested reaches the holder's webhook as `reexport.reminder`."""
    from datetime import date
    from uuid import uuid4

    from contracts.claims import ReminderRequested

    service = build(settings, clock=clock)
    reminder = ReminderRequested(
        reminder_id=uuid4(),
        carnet_number=NUMBER,
        recipient_ids=["hld_1"],
        country="CH",
        items=[1, 2],
        final_date=date(2027, 3, 31),
        days_before=7,
        requested_at=clock.now,
    )
    async with running(service) as broker, client(service) as http:
        await register(service, http, "hld_1", HOLDER_URL)
        body, headers, _ = wire(reminder, producer="claims_worker", subject=NUMBER)
        for _ in range(2):  # redelivered: still one delivery
            await broker.publish(body, NOTIFICATION_REQUESTS.name, key=NUMBER.encode(), headers=headers)
        deliveries = await rows(service, "SELECT * FROM deliveries")
    assert len(deliveries) == 1
    d = deliveries[0]
    assert (d["event_type"], d["confirmation_id"], d["recipient_id"]) == (
        "reexport.reminder",
        reminder.reminder_id,
        "hld_1",
    )
    sent = json.loads(d["body"])
    assert sent["type"] == "reexport.reminder"
    assert (sent["data"]["final_date"], sent["data"]["days_before"], sent["data"]["items"]) == ("2027-03-31", 7, [1, 2])
