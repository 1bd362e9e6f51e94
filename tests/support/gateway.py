"""The customs gateway as its service tests drive it: signed tokens, the trust list, officers and their sessions."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from contracts.kinds import DeclarationKind as K
from contracts.messages import CarnetIssued, CarnetItem
from contracts.token import DeclarationClaims
from contracts.topics import ISSUANCE_EVENTS, SIGNING_KEYS
from contracts.txcode import new_transaction_code
from customs_gateway.app import build
from customs_gateway.core_lookup import CoreDeclarations
from tests.service.conftest import ADMIN
from tests.support.messages import trust_list, wire
from tokens.cose import SigningKey, generate_signing_key, sign_token

#: The anchor of the settings in use; set by the `gateway` fixture and the tests that build by hand.
ANCHOR: list[Any] = [None]

NUMBER = "FR2600000010"
EXPIRY = date(2027, 11, 21)
FR_OFFICER = "fr-officer-0001"
CH_OFFICER = "ch-officer-0001"


def make_token(key: SigningKey, now: datetime, **overrides: Any) -> tuple[str, DeclarationClaims]:
    fields: dict[str, Any] = {
        "carnet_number": NUMBER,
        "transaction_code": new_transaction_code(),
        "kind": K.EXPORTATION,
        "country": "FR",
        "items": (1, 2),
        "general_list_digest": "0123456789abcdef0123456789abcdef",
        "sequence": 1,
        "carnet_expiry": EXPIRY,
        "token_id": uuid4(),
        "issued_at": now,
        "expires_at": now + timedelta(hours=72),
    }
    fields.update(overrides)
    claims = DeclarationClaims(**fields)
    return sign_token(claims.to_cwt(), key), claims


_sequence = iter(range(1, 1_000_000))


async def learn_key(
    broker: Any, key: SigningKey, not_before: datetime, settings: Any = None, sequence: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The core's signed trust list naming `key`, as the gateway receives it."""
    anchor = settings.trust_anchor_key_path if settings else ANCHOR[0]
    body, headers, _ = wire(
        trust_list(anchor, sequence or next(_sequence), not_before, (key, not_before, None)), producer="core"
    )
    await broker.publish(body, SIGNING_KEYS.name, key=b"trust-list", headers=headers)
    return body, headers


def client(service: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://gateway")


PASSWORD = "correct horse battery staple"
#: Bearer headers of the officers logged in by the `gateway` fixture.
AUTH: dict[str, dict[str, str]] = {}
SECRETS: dict[str, str] = {}


async def create_officer(http: httpx.AsyncClient, officer: str, office: str, password: str = PASSWORD) -> str:
    """Creates the account through the admin API; answers the TOTP secret (shown once)."""
    r = await http.post(
        "/v1/admin/officers", json={"officer_id": officer, "office_id": office, "password": password}, headers=ADMIN
    )
    assert r.status_code == 201, r.text
    assert r.json()["totp_uri"].startswith("otpauth://totp/")
    return r.json()["totp_secret"]


async def log_in(
    http: httpx.AsyncClient, officer: str, secret: str, at: datetime, password: str = PASSWORD
) -> dict[str, str]:
    import pyotp

    r = await http.post(
        "/v1/sessions", json={"officer_id": officer, "password": password, "totp": pyotp.TOTP(secret).at(at)}
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def officers(http: httpx.AsyncClient, at: datetime) -> None:
    AUTH.clear()
    for officer, office in ((FR_OFFICER, "FR-CDG-FRET"), (CH_OFFICER, "CH-GVA-AIR")):
        SECRETS[officer] = await create_officer(http, officer, office)
        AUTH[officer] = await log_in(http, officer, SECRETS[officer], at)


def auth(officer: str = FR_OFFICER) -> dict[str, str]:
    return AUTH.get(officer, {"Authorization": "Bearer not-a-session"})


async def commit(http: httpx.AsyncClient, token: str, officer: str = FR_OFFICER, **body: Any) -> httpx.Response:
    return await http.post("/v1/commits", json={"token": token, "decision": "committed", **body}, headers=auth(officer))


async def commits(service: Any) -> list[Any]:
    async with service.pool.acquire() as conn:
        return await conn.fetch("SELECT * FROM commits ORDER BY decided_at")


class Gateway:
    """A running gateway that knows one key, with two officers."""

    def __init__(self, service: Any, broker: Any, http: httpx.AsyncClient, key: SigningKey) -> None:
        self.service, self.broker, self.http, self.key = service, broker, http, key


@pytest.fixture
def gateway(settings, clock, running):
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def _open():
        ANCHOR[0] = settings.trust_anchor_key_path
        service = build(settings, clock=clock, core=CORE.client())
        async with running(service) as broker, client(service) as http:
            key = generate_signing_key()
            await learn_key(broker, key, clock.now - timedelta(days=1))
            await officers(http, clock.now)
            yield Gateway(service, broker, http, key)

    return _open


def tamper(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


async def carnet_status(
    broker: Any, status: str, changed_at: datetime, rule: str = "R5", successor: str | None = "FR2600000028"
) -> None:
    from contracts.messages import CarnetStatusChanged
    from contracts.topics import CARNET_STATUS

    body, headers, _ = wire(
        CarnetStatusChanged(
            carnet_number=NUMBER,
            status=status,
            rule=rule,
            successor=successor,
            reason=f"test: {status}",
            changed_at=changed_at,
        ),
        producer="core",
    )
    await broker.publish(body, CARNET_STATUS.name, key=NUMBER.encode(), headers=headers)


async def audit(g: Any, **query: str) -> list[dict[str, Any]]:
    r = await g.http.get("/v1/admin/audit", params=query, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


# --- carnets on file and declarations, as the gateway receives them ------------------------------------

#: The token's digest (make_token's default) is the first 32 hex characters of this one.
DIGEST = "0123456789abcdef0123456789abcdef" + "f" * 32


def carnet_issued(number: str = NUMBER, **overrides: Any) -> CarnetIssued:
    fields: dict[str, Any] = {
        "request_id": "REQ-1",
        "carnet_number": number,
        "nga": "FR",
        "issuing_association": "FR-CCI-PARIS",
        "holder_id": "hld_1",
        "representative_ids": [],
        "countries": ["CH", "GB"],
        "issue_date": date(2026, 11, 22),
        "expiry_date": EXPIRY,
        "general_list_digest": DIGEST,
        "items": [CarnetItem(item_number=i, quantity=i, origin_country="DE") for i in (1, 2, 3)],
    }
    fields.update(overrides)
    return CarnetIssued(**fields)


async def publish(broker: Any, payload: Any, topic: Any, key: str = NUMBER) -> tuple[bytes, dict[str, str]]:
    body, headers, _ = wire(payload, producer="issuer" if topic is ISSUANCE_EVENTS else "core", subject=key)
    await broker.publish(body, topic.name, key=key.encode(), headers=headers)
    return body, headers


class FakeCore:
    """The core's typed-code route (core/customs_api.py) as the gateway's service tests need it: the declarations
    `declared` made, answered over httpx's mock transport so the gateway's client reads real HTTP answers."""

    def __init__(self) -> None:
        self.declarations: dict[str, dict[str, Any]] = {}
        self.asked: list[tuple[str, str | None]] = []
        self.down = False

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"detail": "down"})
        if request.headers.get("authorization") != f"Bearer {CORE_TOKEN}":
            return httpx.Response(401, json={"detail": "unauthenticated"})
        code = request.url.path.rsplit("/", 1)[-1]
        self.asked.append((code, request.headers.get("x-officer-id")))
        found = self.declarations.get(code)
        return httpx.Response(200, json=found) if found else httpx.Response(404, json={"detail": "unknown"})

    def client(self) -> CoreDeclarations:
        return CoreDeclarations("http://core", CORE_TOKEN, httpx.MockTransport(self._answer))


CORE_TOKEN = "customs-token-of-the-tests"
#: The core every gateway of the service tests asks for typed codes.
CORE = FakeCore()


def declared(
    now: Any, *, kind: K = K.EXPORTATION, country: str = "FR", items: list[int] | None = None, number: str = NUMBER
) -> tuple[str, UUID]:
    """A declaration the core accepted and issued a token for: answers (transaction code, token id)."""
    code, token_id = new_transaction_code(), uuid4()
    CORE.declarations[code] = {
        "transaction_code": code,
        "carnet_number": number,
        "kind": kind.value,
        "country": country,
        "items": items or [1, 2],
        "sequence": 1,
        "token_id": str(token_id),
        "token_expires_at": (now + timedelta(hours=72)).isoformat(),
    }
    return code, token_id


def sloppy(code: str) -> str:
    """As an officer might type it: lower case, dashes, and the letters that look like 0 and 1."""
    typed = code.lower().replace("0", "o").replace("1", "l")
    return "-".join(typed[i : i + 4] for i in range(0, len(typed), 4))
