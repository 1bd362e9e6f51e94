"""The notifier as its service tests drive it: its HTTP clients, wallet bearer tokens, registered webhooks,
confirmation requests, the delivery tables, and the settings the delivery tests run on."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import SecretStr

from contracts.topics import NOTIFICATION_REQUESTS
from deploy.local.identity import mint_wallet_token, private_key_path
from tests.support.messages import confirmation_requested, wire
from tests.support.peers import clocked_standardwebhooks

NUMBER = "FR2600000010"
#: Registered, never delivered to (nothing listens on port 9, the discard port; and nothing is sent).
HOLDER_URL = "http://127.0.0.1:9/holder/hooks"
REP_URL = "http://127.0.0.1:9/rep/hooks"


def client(service: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://notifier")


def sender(service: Any) -> httpx.AsyncClient:
    """The notifier's own delivery client: every connection through the egress guard."""
    return service.state["handlers"].http_client()


@pytest.fixture
def settings(settings):
    """These tests deliver to receivers on 127.0.0.1 over plain http: the development setting the embedded
    stack turns on (tests/service/test_notifier_egress.py covers it off)."""
    return settings.model_copy(update={"notifier_allow_loopback_http": True})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth(service: Any, party: str) -> dict[str, str]:
    """The wallet bearer token of `party`, for the notifier's audience, minted at the service's clock."""
    token = mint_wallet_token(
        private_key_path(service.settings.data_dir), party, audience="ata-notifier", now=service.clock()
    )
    return {"Authorization": f"Bearer {token}"}


async def register(
    service: Any, http: httpx.AsyncClient, recipient: str, url: str, secret: str | None = None
) -> dict[str, Any]:
    r = await http.post(
        "/v1/endpoints/webhooks",
        headers=auth(service, recipient),
        json={"url": url, **({"secret": secret} if secret else {})},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def request(
    broker: Any, clock: Any, recipients: list[str], **overrides: Any
) -> tuple[Any, bytes, dict[str, str]]:
    c = confirmation_requested(NUMBER, recipients, clock.now, **overrides)
    body, headers, _ = wire(c, producer="core", subject=NUMBER)
    await broker.publish(body, NOTIFICATION_REQUESTS.name, key=NUMBER.encode(), headers=headers)
    return c, body, headers


async def rows(service: Any, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with service.pool.acquire() as conn:
        return [dict(r) for r in await conn.fetch(sql, *args)]


@pytest.fixture
def receiver_clock(monkeypatch, clock):
    """The receiver (the `standardwebhooks` package) checks the signature's timestamp against its clock: make it
    the test's clock."""
    clocked_standardwebhooks(monkeypatch, clock)


@pytest.fixture
def push_settings(settings, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "keys" / "vapid.pem"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return settings.model_copy(
        update={
            "vapid_private_key_path": path,
            "webpush_ttl_s": 7200,
            "notifier_admin_token": SecretStr("op-token-0123456789"),
        }
    )
