"""The running notifier sends only where it should: https to public addresses, checked at registration and at
every delivery, no redirects followed, a bounded number of endpoints per recipient, and a delivery log of
categories. Every URL here is loopback or resolved by an injected table: internal addresses are only ever
handed to the check, never connected to (tests/unit/test_notifier_egress.py calls the check directly)."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta
from typing import Any

import pytest

from notifier.app import build
from tests.support.notifier import (
    auth,
    client,
    push_settings,  # noqa: F401 (the fixture, on this module's settings)
    register,
    request,
    rows,
    sender,
)
from tests.support.peers import HookReceiver, RedirectServer, StatusServer, Subscription, clocked_standardwebhooks


class Names:
    """An injected resolver: a table the test changes (as DNS can change between registration and delivery)."""

    def __init__(self, **table: list[str]) -> None:
        self.table = {k.replace("_", "."): v for k, v in table.items()}

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


@pytest.fixture
def development(settings):
    return settings.model_copy(update={"notifier_allow_loopback_http": True})


@pytest.fixture
def hooks_clock(monkeypatch, clock):
    clocked_standardwebhooks(monkeypatch, clock)
    return clock


def sample(service: Any, name: str, **labels: str) -> float:
    return service.registry.get_sample_value(name, labels) or 0.0


async def test_registration_refuses_internal_and_plain_http_endpoints_with_a_clear_4xx(push_settings, clock, running):
    """Production setting (the default): only https to hosts resolving only to public addresses."""
    names = Names(
        metadata_hooks_test=["169.254.169.254"], db_hooks_test=["10.0.0.5", "93.184.215.14"], localhost=["127.0.0.1"]
    )
    service = build(push_settings, clock=clock, resolver=names)
    cases = {
        "http://127.0.0.1:8105/hook": "blocked_scheme",
        "https://127.0.0.1:55432/": "blocked_address",  # the database's port
        "https://[::1]:29092/": "blocked_address",  # the broker's port
        "https://localhost/hook": "blocked_address",
        "https://2130706433/hook": "blocked_address",  # 127.0.0.1 spelt as a number
        "https://169.254.169.254/latest/meta-data/": "blocked_address",
        "https://[::ffff:a9fe:a9fe]/latest/meta-data/": "blocked_address",
        "https://metadata.hooks.test/latest": "blocked_address",
        "https://db.hooks.test/hook": "blocked_address",  # one private address among public ones
        "https://nowhere.hooks.test/hook": "dns",
        "https://user:pw@db.hooks.test/hook": "blocked_url",
    }
    async with running(service), client(service) as http:
        answers = {
            url: await http.post("/v1/endpoints/webhooks", json={"url": url}, headers=auth(service, "hld_1"))
            for url in cases
        }
        push = await http.post(
            "/v1/endpoints/webpush",
            headers=auth(service, "hld_1"),
            json={"endpoint": "https://metadata.hooks.test/wpush/a", "keys": Subscription("/wpush/a").keys()},
        )
        too_long = await http.post(
            "/v1/endpoints/webhooks", headers=auth(service, "hld_1"), json={"url": "https://hooks.test/" + "a" * 2048}
        )
        stored = await rows(service, "SELECT * FROM endpoints")
    for url, category in cases.items():
        assert answers[url].status_code == 422, url
        assert answers[url].json()["detail"]["reason"] == "endpoint_refused"
        assert answers[url].json()["detail"]["category"] == category, url
    # A name that does not resolve and one that resolves inside read the same: no oracle for internal names.
    assert (
        answers["https://nowhere.hooks.test/hook"].json()["detail"]["message"]
        == answers["https://metadata.hooks.test/latest"].json()["detail"]["message"]
    )
    assert "169.254" not in answers["https://metadata.hooks.test/latest"].text
    assert push.status_code == 422 and push.json()["detail"]["category"] == "blocked_address"
    assert too_long.status_code == 422
    assert stored == []
    assert sample(service, "ata_endpoints_refused_total", category="blocked_address") == 9
    assert sample(service, "ata_endpoints_refused_total", category="blocked_scheme") == 1


async def test_an_http_endpoint_kept_from_a_development_run_is_not_sent_to_without_the_setting(
    development, settings, clock, running, hooks_clock
):
    dev = build(development, clock=clock)
    async with HookReceiver() as hook:
        async with running(dev) as broker, client(dev) as http:
            hook.secret = (await register(dev, http, "hld_1", hook.url))["secret"]
            await request(broker, clock, ["hld_1"])
        prod = build(settings, clock=clock)
        async with running(prod), sender(prod) as out:
            sent = await prod.state["handlers"].deliver_due(prod.pool, out)
            d = (await rows(prod, "SELECT status, last_error FROM deliveries"))[0]
    assert sent == 1 and hook.headers == []  # nothing reached the receiver
    assert (d["status"], d["last_error"]) == ("dead", "rejected: blocked_scheme")
    assert sample(prod, "ata_delivery_failures_total", channel="webhook", category="blocked_scheme") == 1


async def test_every_delivery_checks_the_address_again(development, clock, running, hooks_clock):
    """DNS can change after registration: a name now answering a private address is not connected to; the
    delivery is retried on the schedule and goes once the name is public (here: loopback, allowed) again."""
    names = Names(hooks_test=["127.0.0.1"])
    service = build(development, clock=clock, resolver=names)
    handlers = service.state["handlers"]
    async with HookReceiver() as hook, running(service) as broker, client(service) as http, sender(service) as out:
        hook.secret = (await register(service, http, "hld_1", f"http://hooks.test:{hook.port}/hooks/ata"))["secret"]
        await request(broker, clock, ["hld_1"])
        names.table["hooks.test"] = ["10.0.0.7"]
        await handlers.deliver_due(service.pool, out)
        blocked = (await rows(service, "SELECT status, last_error FROM deliveries"))[0]
        names.table["hooks.test"] = ["127.0.0.1"]
        clock.now += timedelta(seconds=6)
        await handlers.deliver_due(service.pool, out)
        after = (await rows(service, "SELECT status FROM deliveries"))[0]
        log = await rows(service, "SELECT error FROM delivery_attempts ORDER BY attempt")
    assert (blocked["status"], blocked["last_error"]) == ("pending", "blocked_address")
    assert after["status"] == "delivered" and len(hook.verified) == 1 and len(hook.headers) == 1
    assert [a["error"] for a in log] == ["blocked_address", None]
    assert sample(service, "ata_delivery_failures_total", channel="webhook", category="blocked_address") == 1


async def test_redirects_are_never_followed(development, clock, running, hooks_clock):
    service = build(development, clock=clock)
    async with (
        HookReceiver() as target,
        RedirectServer(target.url) as redirect,
        running(service) as broker,
        client(service) as http,
        sender(service) as out,
    ):
        await register(service, http, "hld_1", redirect.url)
        await request(broker, clock, ["hld_1"])
        await service.state["handlers"].deliver_due(service.pool, out)
        d = (await rows(service, "SELECT status, last_error FROM deliveries"))[0]
    assert len(redirect.requests) == 1 and target.headers == []
    assert (d["status"], d["last_error"]) == ("pending", "http_307")


async def test_a_tls_failure_is_logged_as_a_category(development, clock, running):
    service = build(development, clock=clock)
    async with StatusServer(204) as plain, running(service) as broker, client(service) as http, sender(service) as out:
        await register(service, http, "hld_1", f"https://127.0.0.1:{plain.port}/hook")  # speaks http, not TLS
        await request(broker, clock, ["hld_1"])
        await service.state["handlers"].deliver_due(service.pool, out)
        d = (await rows(service, "SELECT last_error FROM deliveries"))[0]
        attempt = (await rows(service, "SELECT status_code, error FROM delivery_attempts"))[0]
        listed = await http.get("/v1/deliveries", headers=auth(service, "hld_1"))
    assert d["last_error"] == "tls" and attempt == {"status_code": None, "error": "tls"}
    assert listed.json()[0]["log"][0]["error"] == "tls"


async def test_a_recipient_has_at_most_the_configured_number_of_active_endpoints(development, clock, running):
    service = build(development.model_copy(update={"notifier_max_endpoints": 2}), clock=clock)
    url = "http://127.0.0.1:9/{}".format
    async with running(service), client(service) as http:
        first = await register(service, http, "hld_1", url("a"))
        await register(service, http, "hld_1", url("b"))
        third = await http.post("/v1/endpoints/webhooks", json={"url": url("c")}, headers=auth(service, "hld_1"))
        again = await http.post("/v1/endpoints/webhooks", json={"url": url("a")}, headers=auth(service, "hld_1"))
        other = await http.post("/v1/endpoints/webhooks", json={"url": url("c")}, headers=auth(service, "rep_1"))
        await http.delete(f"/v1/endpoints/{first['endpoint_id']}", headers=auth(service, "hld_1"))
        after_removal = await http.post(
            "/v1/endpoints/webhooks", json={"url": url("c")}, headers=auth(service, "hld_1")
        )
        # At once, from a recipient with none: the cap holds (registrations of one recipient take turns).
        racing = await asyncio.gather(
            *(
                http.post("/v1/endpoints/webhooks", json={"url": url(f"r{i}")}, headers=auth(service, "hld_2"))
                for i in range(6)
            )
        )
    assert third.status_code == 409 and third.json()["detail"]["reason"] == "too_many_endpoints"
    assert (again.status_code, other.status_code, after_removal.status_code) == (201, 201, 201)
    assert sorted(r.status_code for r in racing) == [201, 201, 409, 409, 409, 409]
    assert sample(service, "ata_endpoints_refused_total", category="too_many_endpoints") == 5


async def test_the_answers_body_is_never_read(development, clock, running):
    """A receiver announcing a gigantic body and sending it slowly: only the status is taken, the body is not
    buffered (reading it would hold the attempt until the timeout and the memory until the end)."""
    service = build(development.model_copy(update={"webhook_timeout_s": 5.0}), clock=clock)
    sent: list[int] = []

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n")
        try:
            while True:
                writer.write(b"x" * 65536)
                await writer.drain()
                sent.append(65536)
                await asyncio.sleep(0.01)
        except (ConnectionError, OSError):
            writer.close()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running(service) as broker, client(service) as http, sender(service) as out:
            await register(service, http, "hld_1", f"http://127.0.0.1:{port}/hook")
            await request(broker, clock, ["hld_1"])
            await service.state["handlers"].deliver_due(service.pool, out)
            d = (await rows(service, "SELECT status, last_error FROM deliveries"))[0]
    finally:
        server.close()
    assert (d["status"], d["last_error"]) == ("delivered", None)
    assert sum(sent) < 64 * 65536  # the connection was closed long before the announced body


async def test_push_subscriptions_and_webhooks_share_the_cap(push_settings, clock, running):
    service = build(
        push_settings.model_copy(update={"notifier_allow_loopback_http": True, "notifier_max_endpoints": 1}),
        clock=clock,
    )
    async with running(service), client(service) as http:
        await register(service, http, "hld_1", "http://127.0.0.1:9/hooks")
        push = await http.post(
            "/v1/endpoints/webpush",
            headers=auth(service, "hld_1"),
            json={"endpoint": "http://127.0.0.1:9/wpush/a", "keys": Subscription("/wpush/a").keys()},
        )
    assert push.status_code == 409 and push.json()["detail"]["category"] == "too_many_endpoints"
