"""Notifier against real protocol peers (tests/support/peers.py): an RFC 8030 push service that checks VAPID and
decrypts RFC 8291, and a Standard Webhooks receiver verifying with the reference package. Step 5 of the digital
flow (DOMAIN.md): the holder and every representative get the confirmation on each channel they registered;
nothing is lost silently (retries, dead letters, replay). Every clock is the test's."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from contracts.topics import NOTIFICATION_REQUESTS
from notifier import cli
from notifier.app import build
from tests.service.conftest import outbox
from tests.support.notifier import (  # noqa: F401 (settings, push_settings: fixtures)
    HOLDER_URL,
    NUMBER,
    REP_URL,
    auth,
    client,
    push_settings,
    register,
    request,
    rows,
    sender,
    settings,
)
from tests.support.peers import HookReceiver, PushService, clocked_standardwebhooks


@pytest.fixture
def hooks_clock(monkeypatch, clock):
    clocked_standardwebhooks(monkeypatch, clock)
    return clock


async def subscribe(service: Any, http: httpx.AsyncClient, recipient: str, subscription: dict[str, Any]) -> str:
    r = await http.post("/v1/endpoints/webpush", json=subscription, headers=auth(service, recipient))
    assert r.status_code == 201, r.text
    return r.json()["endpoint_id"]


def sample(service: Any, name: str, **labels: str) -> float:
    return service.registry.get_sample_value(name, labels) or 0.0


# --- Web Push ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("decision", ["committed", "refused", "cancelled"])
async def test_a_confirmation_reaches_every_recipient_on_every_channel_push_decrypted_and_vapid_checked(
        push_settings, clock, running, hooks_clock, decision):
    """Step 5: holder (push + webhook) and representative (push), each decision the core confirms."""
    service = build(push_settings, clock=clock)
    handlers = service.state["handlers"]
    async with PushService(clock) as push, running(service) as broker, client(service) as http, \
            sender(service) as out:
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
            deliveries = await rows(service, "SELECT channel, recipient_id, status, attempts FROM deliveries"
                                             " ORDER BY recipient_id, channel")
            queued = await outbox(service)
    assert push.refused == [] and hook.rejected == []
    assert sent == 3
    assert deliveries == [{"channel": "webhook", "recipient_id": "hld_1", "status": "delivered", "attempts": 1},
                          {"channel": "webpush", "recipient_id": "hld_1", "status": "delivered", "attempts": 1},
                          {"channel": "webpush", "recipient_id": "rep_1", "status": "delivered", "attempts": 1}]
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
    reminder = ReminderRequested(reminder_id=uuid4(), carnet_number=NUMBER, recipient_ids=["hld_1"], country="CH",
                                 items=[1], final_date=date(2027, 3, 31), days_before=7, requested_at=clock.now)
    async with PushService(clock) as push, running(service) as broker, client(service) as http, \
            sender(service) as out:
        await subscribe(service, http, "hld_1", push.subscribe()[1])
        body, headers, _ = wire(reminder, producer="claims_worker", subject=NUMBER)
        await broker.publish(body, NOTIFICATION_REQUESTS.name, key=NUMBER.encode(), headers=headers)
        await service.state["handlers"].deliver_due(service.pool, out)
    assert [(r["message"]["type"], r["urgency"]) for r in push.received] == [("reexport.reminder", "normal")]
    # A reminder is not a transaction: it does not count in the commit-to-confirmation latency.
    assert sample(service, "ata_confirmation_latency_seconds_count", channel="webpush") == 0


@pytest.mark.parametrize("status", [404, 410])
async def test_a_push_service_404_or_410_removes_the_subscription_and_dead_letters_the_message(
        push_settings, clock, running, status):
    service = build(push_settings, clock=clock)
    async with PushService(clock) as push, running(service) as broker, client(service) as http, \
            sender(service) as out:
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
    async with PushService(clock) as push, running(service) as broker, client(service) as http, \
            sender(service) as out:
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


async def test_web_push_is_off_without_a_vapid_key_and_bad_subscriptions_are_refused(settings, push_settings, clock,
                                                                                       running):
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


# --- who may do what ------------------------------------------------------------------------------------


async def test_the_recipient_api_needs_the_wallet_token_for_the_notifier_and_sees_only_its_own(settings, clock,
                                                                                                  running):
    from deploy.local.identity import mint_wallet_token, private_key_path

    service = build(settings, clock=clock)
    core_token = mint_wallet_token(private_key_path(settings.data_dir), "hld_1", now=clock.now)  # audience ata-core
    async with running(service) as broker, client(service) as http:
        endpoint = await register(service, http, "hld_1", HOLDER_URL)
        anonymous = await http.post("/v1/endpoints/webhooks", json={"url": "https://x.example"})
        for_core = await http.get("/v1/endpoints", headers={"Authorization": f"Bearer {core_token}"})
        await request(broker, clock, ["hld_1"])
        other_delete = await http.delete(f"/v1/endpoints/{endpoint['endpoint_id']}", headers=auth(service, "hld_2"))
        other_log = await http.get("/v1/deliveries", headers=auth(service, "hld_2"))
        own_log = await http.get("/v1/deliveries", headers=auth(service, "hld_1"))
    assert (anonymous.status_code, for_core.status_code) == (401, 401)
    assert other_delete.status_code == 404
    assert other_log.json() == [] and len(own_log.json()) == 1


async def test_operators_query_the_log_by_carnet_and_recipient_with_their_token(push_settings, clock, running):
    service = build(push_settings, clock=clock)
    op = {"Authorization": "Bearer op-token-0123456789"}
    async with running(service) as broker, client(service) as http:
        await register(service, http, "hld_1", HOLDER_URL)
        await register(service, http, "rep_1", REP_URL)
        await request(broker, clock, ["hld_1", "rep_1"])
        by_carnet = await http.get("/v1/admin/deliveries", params={"carnet_number": NUMBER}, headers=op)
        by_recipient = await http.get("/v1/admin/deliveries", params={"recipient_id": "rep_1"}, headers=op)
        wrong = await http.get("/v1/admin/deliveries", headers={"Authorization": "Bearer nope"})
    async with running(off := build(push_settings.model_copy(update={"notifier_admin_token": None}), clock=clock)), \
            client(off) as http:
        disabled = await http.get("/v1/admin/dead-letters", headers=op)
    assert sorted(d["recipient_id"] for d in by_carnet.json()) == ["hld_1", "rep_1"]
    assert [d["recipient_id"] for d in by_recipient.json()] == ["rep_1"]
    assert (wrong.status_code, disabled.status_code) == (401, 403)


# --- signed webhooks ------------------------------------------------------------------------------------


async def test_a_signature_older_than_the_receivers_tolerance_is_refused_and_retried(settings, clock, running,
                                                                                      hooks_clock, monkeypatch):
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


async def test_secret_rotation_sends_two_signatures_during_the_overlap_then_only_the_new_one(settings, clock, running,
                                                                                                hooks_clock):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with HookReceiver() as old_side, running(service) as broker, client(service) as http, \
            sender(service) as out:
        endpoint = await register(service, http, "hld_1", old_side.url)
        old_side.secret = endpoint["secret"]
        r = await http.post(f"/v1/endpoints/webhooks/{endpoint['endpoint_id']}/rotation", json={},
                            headers=auth(service, "hld_1"))
        new_secret = r.json()["secret"]
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)  # overlap: the old secret still verifies
        during = old_side.headers[-1]["webhook-signature"].split(" ")
        clock.now += timedelta(hours=24)
        await request(broker, clock, ["hld_1"])
        await handlers.deliver_due(service.pool, out)  # after the overlap: only the new one
        after = old_side.headers[-1]["webhook-signature"].split(" ")
        old_side.secret = new_secret  # the receiver switched: it verifies again
        clock.now = (await rows(service, "SELECT max(next_attempt_at) AS t FROM deliveries WHERE status = 'pending'"))[0]["t"]
        await handlers.deliver_due(service.pool, out)
    assert r.status_code == 200 and new_secret != endpoint["secret"]
    assert r.json()["previous_secret_until"] is not None
    assert (len(during), len(after)) == (2, 1)
    assert len(old_side.verified) == 2 and old_side.rejected == ["No matching signature found"]


async def test_a_failing_receiver_is_retried_with_backoff_and_logged_until_it_answers(settings, clock, running,
                                                                                      hooks_clock):
    service = build(settings, clock=clock)
    handlers = service.state["handlers"]
    async with HookReceiver(statuses=(500, 502, 204)) as hook, running(service) as broker, client(service) as http, \
            sender(service) as out:
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
    async with HookReceiver(hang_s=3.0) as hook, running(service) as broker, client(service) as http, \
            sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", hook.url))["secret"]
        await request(broker, clock, ["hld_1"])
        await service.state["handlers"].deliver_due(service.pool, out)
        attempt = (await rows(service, "SELECT status_code, error, duration_ms FROM delivery_attempts"))[0]
        d = (await rows(service, "SELECT status FROM deliveries"))[0]
    assert attempt["status_code"] is None and attempt["error"] == "timeout"
    assert attempt["duration_ms"] < 2000
    assert d["status"] == "pending"


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


async def test_exhausted_deliveries_go_to_the_dead_letter_store_and_an_operator_replays_them(settings, clock, running,
                                                                                              hooks_clock):
    service = build(settings.model_copy(update={"delivery_max_attempts": 2}), clock=clock)
    handlers = service.state["handlers"]
    said: list[str] = []
    async with HookReceiver(statuses=(503,)) as hook, running(service) as broker, client(service) as http, \
            sender(service) as out:
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
    async with StatusServer(410) as server, running(service) as broker, client(service) as http, \
            sender(service) as out:
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
    ids = p.parse_args(["replay", "--delivery", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d",
                        "--delivery", "7a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d"]).delivery
    assert len(ids) == 2
    with pytest.raises(SystemExit):
        p.parse_args(["replay"])
    with pytest.raises(SystemExit):
        p.parse_args(["replay", "--delivery", "not-a-uuid"])
