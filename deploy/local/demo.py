"""The demo scenario: one carnet from an NGA's issuance request to a confirmation pushed to the holder.

It acts as every outside party would: the NGA (Kafka topics), the holder (core HTTP API and a
webhook receiver), the officer (a QR image read back with zxing-cpp, then the gateway's HTTP API).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
from aiokafka import AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts.deadlines import r2_max_expiry_date
from contracts.envelope import Envelope, parse_type
from contracts.messages import GoodsCategory, GoodsItem, Holder, IssuanceRequested, SealedIssuanceRequested
from contracts.topics import issuance_requests, issuance_responses
from deploy.local.identity import mint_wallet_token
from deploy.local.webhook_receiver import WebhookReceiver
from nga_client import sealing
from nga_client.carnets import PlainCarnet, seal_request
from runtime.topic_reader import read_until
from tokens.qr import decode_qr_image, qr_terminal

OFFICE = "FR-CDG-FRET"


@dataclass
class Steps:
    progress: Callable[[str], None]
    started: float = field(default_factory=time.perf_counter)
    last: float = field(default_factory=time.perf_counter)
    timings: list[tuple[str, float]] = field(default_factory=list)

    def done(self, label: str, detail: str = "") -> None:
        now = time.perf_counter()
        self.timings.append((label, now - self.last))
        self.progress(
            f"  [{now - self.started:6.2f}s] (+{now - self.last:5.2f}s) {label}" + (f": {detail}" if detail else "")
        )
        self.last = now


async def officer_session(
    http: httpx.AsyncClient, gateway: str, admin_token: str, officer_id: str, office_id: str
) -> dict[str, str]:
    """An administrator creates the account (R18); the officer enrols the TOTP secret in an authenticator
    app (played here by pyotp) and logs in with password + code. Answers the session's bearer header."""
    password = secrets.token_urlsafe(18)
    r = await http.post(
        f"{gateway}/v1/admin/officers",
        headers={"Authorization": f"Bearer {admin_token}"},
        json={"officer_id": officer_id, "office_id": office_id, "password": password},
    )
    r.raise_for_status()
    code = pyotp.TOTP(r.json()["totp_secret"]).now()
    r = await http.post(f"{gateway}/v1/sessions", json={"officer_id": officer_id, "password": password, "totp": code})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def issuance_request(
    today: date, holder_id: str, countries: tuple[str, ...] = ("CH", "GB"), issue_date: date | None = None
) -> IssuanceRequested:
    goods = [
        GoodsItem(
            item_number=1,
            description="Camera body ARRI Alexa Mini LF, s/n K1.0023456",
            quantity=1,
            weight_kg="2.6",
            value="68000.00",
            currency="EUR",
            origin_country="DE",
            category=GoodsCategory.PROFESSIONAL_EQUIPMENT,
        ),
        GoodsItem(
            item_number=2,
            description="Lens set Zeiss Supreme Prime, 6 lenses, s/n 55110-55115",
            quantity=6,
            weight_kg="9.8",
            value="96000.00",
            currency="EUR",
            origin_country="DE",
            category=GoodsCategory.PROFESSIONAL_EQUIPMENT,
        ),
        GoodsItem(
            item_number=3,
            description="Tripod Sachtler Flowtech 100, s/n FT-88812",
            quantity=1,
            weight_kg="4.1",
            value="3900.00",
            currency="EUR",
            origin_country="DE",
            category=GoodsCategory.PROFESSIONAL_EQUIPMENT,
        ),
    ]
    return IssuanceRequested(
        request_id=f"FR-REQ-{uuid.uuid4().hex[:12].upper()}",
        nga="FR",
        issuing_association="FR-CCI-PARIS",
        holder=Holder(
            holder_id=holder_id,
            name="Lumière Productions SARL",
            address="8 rue des Arts, 69002 Lyon, FR",
            person="legal",
        ),
        intended_use="Professional equipment for a documentary shoot",
        countries=list(countries),
        issue_date=issue_date or today,
        expiry_date=r2_max_expiry_date(issue_date or today),
        goods=goods,
        transport="road",
    )


def seal_for_wallet(request: IssuanceRequested, wallet: X25519PrivateKey | None = None) -> SealedIssuanceRequested:
    """What the NGA's side does before anything leaves it: seal the carnet for the holder's wallet key."""
    key = wallet or X25519PrivateKey.generate()
    return seal_request(PlainCarnet(carnet=request, holder_public_key=sealing.public_key_text(key)))


async def publish_issuance(bootstrap: str, request: SealedIssuanceRequested) -> None:
    """Publish as the NGA's national issuing system does: on its own request topic, envelope headers, keyed by
    request id."""
    envelope = Envelope(type=request.TYPE, producer=f"nga-{request.nga}", subject=request.request_id)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap.split(","), enable_idempotence=False, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            issuance_requests(request.nga).name,
            request.model_dump_json().encode(),
            key=request.request_id.encode(),
            headers=[(k, v.encode()) for k, v in envelope.to_headers().items()],
        )
    finally:
        await producer.stop()


async def issue_carnet(bootstrap: str, request: IssuanceRequested, wallet: X25519PrivateKey | None = None) -> str:
    """Seal, publish and wait for the answer; the carnet number, or RuntimeError if rejected."""
    await publish_issuance(bootstrap, seal_for_wallet(request, wallet))
    kind, answer = await await_issuance_answer(bootstrap, request.request_id, request.nga)
    if kind != "CarnetIssued":
        raise RuntimeError(f"issuance was rejected: {answer}")
    return answer["carnet_number"]


async def await_issuance_answer(
    bootstrap: str, request_id: str, nga: str = "FR", timeout: float = 30.0
) -> tuple[str, dict[str, Any]]:
    """Read the NGA's own response topic as the NGA would."""
    topic = issuance_responses(nga)
    [record] = await read_until(
        bootstrap, topic.name, topic.partitions, lambda r: r.key == request_id.encode(), timeout=timeout
    )
    return parse_type(record.headers["ce_type"])[0], json.loads(record.value)


async def poll(fn: Callable[[], Any], what: str, timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await fn()
        if result:
            return result
        await asyncio.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


async def run_scenario(
    endpoints: dict[str, str],
    bootstrap: str,
    out_dir: Path,
    wallet_key: Path,
    admin_token: str,
    progress: Callable[[str], None] = print,
    today: date | None = None,
) -> dict[str, Any]:
    """Drive one carnet through its first crossing; raises on the first step that fails.

    `wallet_key`: the wallet identity provider's private key (deploy/local/identity.py); the demo
    plays the holder's wallet app and signs in with a token minted from it.
    `admin_token`: the gateway's administration token (the stack's `admin_token`), to create the officer.
    """
    steps = Steps(progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    today = today or datetime.now(UTC).date()
    holder_id = f"hld_{uuid.uuid4().hex[:8]}"
    officer_id = f"fr-officer-{uuid.uuid4().hex[:6]}"
    # The holder's wallet app signs in: every call to the core's holder API carries its bearer token.
    holder = {"Authorization": f"Bearer {mint_wallet_token(wallet_key, holder_id)}"}
    receiver = WebhookReceiver()
    await receiver.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            # The same wallet signs in to the notifier, with the notifier's audience.
            r = await http.post(
                f"{endpoints['notifier']}/v1/endpoints/webhooks",
                json={"url": receiver.url},
                headers={"Authorization": f"Bearer {mint_wallet_token(wallet_key, holder_id, 'ata-notifier')}"},
            )
            r.raise_for_status()
            receiver.secret = r.json()["secret"]
            officer = await officer_session(http, endpoints["customs_gateway"], admin_token, officer_id, OFFICE)
            steps.done(
                "holder registered a webhook, officer account created and logged in (password + TOTP)",
                f"{holder_id} -> {receiver.url}; {officer_id} at {OFFICE}",
            )

            request = issuance_request(today, holder_id)
            await publish_issuance(bootstrap, seal_for_wallet(request))
            steps.done(
                "NGA sealed the carnet for the holder's wallet and published the request",
                f"{request.request_id}, 3 items, expiry {request.expiry_date}",
            )

            kind, answer = await await_issuance_answer(bootstrap, request.request_id)
            if kind != "CarnetIssued":
                raise RuntimeError(f"issuance was rejected: {answer}")
            number = answer["carnet_number"]
            steps.done("carnet issued", number)

            async def carnet_known() -> Any:
                resp = await http.get(f"{endpoints['core']}/v1/carnets/{number}", headers=holder)
                return resp.json() if resp.status_code == 200 else None

            await poll(carnet_known, "the core to record the carnet")
            steps.done("core recorded the carnet in its ledger")

            r = await http.post(
                f"{endpoints['core']}/v1/carnets/{number}/declarations",
                headers=holder,
                json={"kind": "exportation", "country": "FR", "items": [1, 2]},
            )
            if r.status_code != 201:
                raise RuntimeError(f"declaration refused: {r.status_code} {r.text}")
            declaration = r.json()
            steps.done(
                "holder declared exportation of items 1 and 2",
                f"sequence {declaration['sequence']}, transaction code {declaration['transaction_code']}",
            )

            r = await http.get(f"{endpoints['core']}{declaration['qr_png_url']}", headers=holder)
            r.raise_for_status()
            png = r.content
            png_path = out_dir / f"{number}-exportation-{declaration['sequence']}.png"
            png_path.write_bytes(png)
            progress(qr_terminal(declaration["token"]))
            steps.done("QR token written", f"{png_path} ({len(png)} bytes, {len(declaration['token'])} chars)")

            scanned = decode_qr_image(png_path.read_bytes())
            if scanned != [declaration["token"]]:
                raise RuntimeError("the QR image did not decode to the token")
            steps.done("QR image read back with zxing-cpp", scanned[0][:24] + "...")

            r = await http.post(
                f"{endpoints['customs_gateway']}/v1/commits",
                headers=officer,
                json={"token": scanned[0], "decision": "committed"},
            )
            if r.status_code != 202:
                raise RuntimeError(f"customs gateway refused the commit: {r.status_code} {r.text}")
            commit = r.json()
            steps.done("customs gateway verified the token and posted the commit", f"commit {commit['commit_id']}")

            async def recorded() -> Any:
                resp = await http.get(f"{endpoints['core']}/v1/carnets/{number}/transactions", headers=holder)
                return resp.json() if resp.status_code == 200 and resp.json() else None

            history = await poll(recorded, "the core to record the transaction")
            steps.done(
                "core recorded the transaction", f"{history[0]['decision']}, transaction {history[0]['transaction_id']}"
            )

            confirmation = await poll(lambda: receiver.received(number), "the confirmation webhook", timeout=30)
            steps.done(
                "confirmation delivered to the holder's webhook",
                f"{confirmation['type']} for items {confirmation['data']['items']}, signature verified",
            )

            carnet = (await http.get(f"{endpoints['core']}/v1/carnets/{number}", headers=holder)).json()
            where = {i["item_number"]: i["location"] for i in carnet["items"]}
            if where != {1: "exported", 2: "exported", 3: "home"} or not carnet["active"]:
                raise RuntimeError(f"unexpected ledger state: {carnet}")
            steps.done("ledger checked", "items 1-2 exported, item 3 at home, carnet active (R10, R11)")
    finally:
        await receiver.stop()
    total = time.perf_counter() - steps.started
    progress(f"demo complete in {total:.2f}s")
    return {
        "carnet_number": number,
        "png": str(png_path),
        "timings": steps.timings,
        "total_s": total,
        "confirmation": confirmation,
    }
