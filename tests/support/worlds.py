"""A service on its own fresh database with the credentials of its strongest party, for suites that drive
every route (the adversarial suite): the holder's wallet token on the core and the notifier, an NGA's API key
on the issuer, an officer's session and the administrator's token on the gateway."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pyotp

from runtime.settings import Settings
from tests.support import databases

ADMIN_TOKEN = "test-admin-token-0123456789"
NOTIFIER_ADMIN_TOKEN = "test-notifier-admin-0123456789"
NGA_KEY = "ata_test-fr-key-0123456789"
NUMBER = "FR2600000010"
OFFICER, OFFICE, PASSWORD = "fr-officer-h1", "FR-CDG-FRET", "correct horse battery staple"


@dataclass
class World:
    service: Any
    settings: Settings
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    #: Valid bodies by route ("POST /v1/..."), where the schema's examples alone would be refused.
    bodies: dict[str, Any] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.service.http, raise_app_exceptions=False),
            base_url="http://svc",
            timeout=60,
        )


async def settings_for(stack: AsyncExitStack, pg_server: str, tmp: Any) -> Settings:
    from deploy.local.identity import ensure_wallet_issuer
    from issuer.registry import DEFAULT_FILE, key_hash
    from tokens import trustlist

    url = await databases.fresh_database(pg_server)
    stack.push_async_callback(databases.drop_database, pg_server, url)
    anchor = tmp / "keys" / "trust-anchor.pem"
    trustlist.ensure_anchor(anchor)
    registry = json.loads(DEFAULT_FILE.read_text())
    for entry in registry["ngas"]:
        if entry["nga"] == "FR":
            entry["api_key_sha256"] = [key_hash(NGA_KEY)]
    (tmp / "registry.json").write_text(json.dumps(registry))
    return Settings(
        database_url=url,
        kafka_bootstrap_servers="in-memory:9092",
        data_dir=tmp,
        db_pool_max=4,
        wallet_issuer_public_key_path=ensure_wallet_issuer(tmp),
        trust_anchor_key_path=anchor,
        trust_anchor_public_key_path=trustlist.public_path(anchor),
        gateway_admin_token=ADMIN_TOKEN,
        notifier_admin_token=NOTIFIER_ADMIN_TOKEN,
        nga_registry_path=tmp / "registry.json",
        notifier_allow_loopback_http=True,
    )  # the suite registers loopback URLs only


async def open_world(stack: AsyncExitStack, name: str, pg_server: str, tmp: Any, now: datetime) -> World:
    """Build the service, open its database and test broker, and sign its parties in."""
    import importlib

    from faststream.kafka import TestKafkaBroker

    from deploy.local.identity import mint_wallet_token, private_key_path

    settings = await settings_for(stack, pg_server, tmp)
    if name == "notifier":
        from deploy.local.identity import ensure_p256_key, vapid_key_path

        ensure_p256_key(vapid_key_path(tmp))
        settings = settings.model_copy(update={"vapid_private_key_path": vapid_key_path(tmp)})
    service = importlib.import_module(f"{name}.app").build(settings, clock=lambda: now)
    await service.open_database()
    stack.push_async_callback(service.pool.close)
    broker = await stack.enter_async_context(TestKafkaBroker(service.broker))
    world = World(service, settings)
    wallet = private_key_path(settings.data_dir)
    if name == "core":
        from tokens.cose import generate_signing_key

        await _issue_to_core(broker)
        async with service.pool.acquire() as conn:
            await service.state["handlers"].publish_signing_key(conn, generate_signing_key())
        world.headers["default"] = {"Authorization": f"Bearer {mint_wallet_token(wallet, 'hld_1', now=now)}"}
    elif name == "notifier":
        token = mint_wallet_token(wallet, "hld_1", audience="ata-notifier", now=now)
        world.headers["default"] = {"Authorization": f"Bearer {token}"}
        world.headers["admin"] = {"Authorization": f"Bearer {NOTIFIER_ADMIN_TOKEN}"}
        world.bodies.update(_notifier_bodies())
    elif name == "issuer":
        from tests.support.messages import sealed_request

        world.headers["default"] = {"Authorization": f"Bearer {NGA_KEY}"}
        world.bodies["POST /v1/issuance-requests"] = json.loads(sealed_request("REQ-H2").model_dump_json())
    elif name == "customs_gateway":
        world.headers["admin"] = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with world.client() as http:
            r = await http.post(
                "/v1/admin/officers",
                headers=world.headers["admin"],
                json={"officer_id": OFFICER, "office_id": OFFICE, "password": PASSWORD},
            )
            assert r.status_code == 201, r.text
            login = await http.post(
                "/v1/sessions",
                json={"officer_id": OFFICER, "password": PASSWORD, "totp": pyotp.TOTP(r.json()["totp_secret"]).at(now)},
            )
            assert login.status_code == 201, login.text
        world.headers["default"] = {"Authorization": f"Bearer {login.json()['token']}", "X-Office-Id": OFFICE}
        # Every item field present, so that the mutations of each reach the per-item checks (no key is known
        # here: each item is refused, audited, and answered in the 200).
        world.bodies["POST /v1/commits/batch"] = {
            "items": [
                {
                    "token": "ATA1:6BFOXN*TS0BI$ZD-PHRTIK0",
                    "decision": "refused",
                    "refusal_reason": "seal broken",
                    "final_date": "2027-01-31",
                },
                {"token": "ATA1:6BFOXN*TS0BI$ZD-PHRTIK0", "decision": "committed"},
            ]
        }
    return world


def _notifier_bodies() -> dict[str, Any]:
    """Loopback endpoints only: the suite never registers an address outside this machine."""
    from tests.support.peers import Subscription

    return {
        "POST /v1/endpoints/webhooks": {"url": "http://127.0.0.1:9/hooks", "secret": "whsec_" + "A" * 32},
        "POST /v1/endpoints/webpush": {
            "endpoint": "http://127.0.0.1:9/push/h1",
            "keys": Subscription("/push/h1").keys(),
        },
    }


async def _issue_to_core(broker: Any) -> None:
    from contracts.topics import ISSUANCE_EVENTS
    from issuer.domain import issued_sealed
    from tests.support.messages import sealed_request, wire

    body, headers, _ = wire(issued_sealed(sealed_request("REQ-H1"), NUMBER), producer="issuer", subject=NUMBER)
    await broker.publish(body, ISSUANCE_EVENTS.name, key=NUMBER.encode(), headers=headers)
