"""Issue 10 item 5: who may do what, one test per cell, on every HTTP endpoint of the core (holder API), the
customs gateway (officer API, R18) and the issuer (NGA API).

Parties: the holder; a representative while the carnet is shared and one after revocation; another wallet;
an officer of the right country and of another country; an officer who gave no MFA code; an NGA of another
country; anonymous. Each service runs once per module on its own fresh database (the cells only read, or change
what no other cell looks at), so the whole matrix costs a few seconds, not one database per cell.

Command topics are not in this matrix: who may write them is a Kafka ACL (docs/reliability.md lists them).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from pydantic import SecretStr

from contracts.topics import ISSUANCE_EVENTS
from contracts.txcode import new_transaction_code
from deploy.local.identity import ensure_wallet_issuer, mint_wallet_token, private_key_path
from issuer.domain import issued_sealed
from runtime.settings import Settings
from tests.service.conftest import ADMIN, ADMIN_TOKEN, FixedClock
from tests.support import databases
from tests.support.messages import sealed_request, wire
from tokens import trustlist
from tokens.cose import generate_signing_key

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
NUMBER = "FR2600000010"
CLOSABLE = "FR2600000028"
Call = Callable[[httpx.AsyncClient, "World"], Awaitable[httpx.Response]]


@dataclass
class World:
    service: Any
    broker: Any
    settings: Settings
    ids: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self, role: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.service.http), base_url="http://svc",
                                 headers=self.headers.get(role, {}))


async def _settings(pg_server: str, tmp: Any, stack: AsyncExitStack) -> Settings:
    url = await databases.fresh_database(pg_server)
    stack.push_async_callback(databases.drop_database, pg_server, url)
    anchor = tmp / "keys" / "trust-anchor.pem"
    trustlist.ensure_anchor(anchor)
    return Settings(database_url=url, kafka_bootstrap_servers="in-memory:9092", data_dir=tmp, db_pool_max=4,
                    wallet_issuer_public_key_path=ensure_wallet_issuer(tmp), trust_anchor_key_path=anchor,
                    trust_anchor_public_key_path=trustlist.public_path(anchor), gateway_admin_token=ADMIN_TOKEN)


async def _world(stack: AsyncExitStack, pg_server: str, tmp: Any, build: Callable[..., Any], clock: FixedClock,
                 **settings_update: Any) -> World:
    """The service on its own fresh database, with its test broker, for the whole module."""
    from faststream.kafka import TestKafkaBroker

    settings = (await _settings(pg_server, tmp, stack)).model_copy(update=settings_update)
    service = build(settings, clock=clock)
    await service.open_database()
    stack.push_async_callback(service.pool.close)
    broker = await stack.enter_async_context(TestKafkaBroker(service.broker))
    return World(service, broker, settings)


# --- core: the holder API -------------------------------------------------------------------------------------

HOLDER_ROLES = ("holder", "representative", "revoked_representative", "other_wallet", "officer", "anonymous")


@pytest.fixture(scope="module")
async def core_world(pg_server: str, tmp_path_factory: Any) -> AsyncIterator[World]:
    from core.app import build


    clock = FixedClock(NOW)
    async with AsyncExitStack() as stack:
        w = await _world(stack, pg_server, tmp_path_factory.mktemp("core"), build, clock,
                         core_customs_token=SecretStr(CUSTOMS_TOKEN))
        service, broker, settings = w.service, w.broker, w.settings
        for number, request in ((NUMBER, "REQ-M1"), (CLOSABLE, "REQ-M2")):
            body, headers, _ = wire(issued_sealed(sealed_request(request), number), producer="issuer", subject=number)
            await broker.publish(body, ISSUANCE_EVENTS.name, key=number.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            await service.state["handlers"].publish_signing_key(conn, generate_signing_key())
        wallet = private_key_path(settings.data_dir)
        w.headers = {p: {"Authorization": f"Bearer {mint_wallet_token(wallet, wallet_id, now=clock.now)}"}
                     for p, wallet_id in (("holder", "hld_1"), ("representative", "rep_1"),
                                          ("revoked_representative", "rep_2"), ("other_wallet", "hld_9"))}
        w.headers["officer"] = {"Authorization": "Bearer an-officer-session-is-not-a-wallet-token"}
        w.headers["customs_gateway"] = {"Authorization": f"Bearer {CUSTOMS_TOKEN}"}
        async with w.client("holder") as http:
            for rep in ("rep_1", "rep_2", "rep_3"):
                assert (await http.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": rep})).status_code == 201
            assert (await http.delete(f"/v1/carnets/{NUMBER}/shares/rep_2")).status_code == 204
            r = await http.post(f"/v1/carnets/{NUMBER}/declarations", json={"kind": "exportation", "country": "FR",
                                                                            "items": [1]})
            assert r.status_code == 201, r.text
            w.ids["declaration"] = r.json()["declaration_id"]
            r = await http.get(f"/v1/declarations/{w.ids['declaration']}/transaction-code")
            assert r.status_code == 200, r.text
            w.ids["code"] = r.json()["transaction_code"]
        yield w


def _declare(http: httpx.AsyncClient, w: World) -> Awaitable[httpx.Response]:
    return http.post(f"/v1/carnets/{NUMBER}/declarations", json={"kind": "exportation", "country": "FR", "items": [2]})


HOLDER_ROUTES: dict[str, tuple[Call, dict[str, int]]] = {
    # route: (call, {role: expected status}); 401 for officer and anonymous everywhere (added below)
    "GET /v1/carnets/{n}": (lambda h, w: h.get(f"/v1/carnets/{NUMBER}"),
                            {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404}),
    "POST /v1/carnets/{n}/declarations": (_declare, {"holder": 201, "representative": 201,
                                                     "revoked_representative": 404, "other_wallet": 404}),
    "GET /v1/declarations/{id}": (lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}"),
                                  {"holder": 200, "representative": 200, "revoked_representative": 404,
                                   "other_wallet": 404}),
    "GET /v1/declarations/{id}/qr.png": (lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}/qr.png"),
                                         {"holder": 200, "representative": 200, "revoked_representative": 404,
                                          "other_wallet": 404}),
    "GET /v1/declarations/{id}/qr.svg": (lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}/qr.svg"),
                                         {"holder": 200, "representative": 200, "revoked_representative": 404,
                                          "other_wallet": 404}),
    "GET /v1/declarations/{id}/transaction-code": (
        lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}/transaction-code"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404}),
    "GET /v1/carnets/{n}/transactions": (lambda h, w: h.get(f"/v1/carnets/{NUMBER}/transactions"),
                                         {"holder": 200, "representative": 200, "revoked_representative": 404,
                                          "other_wallet": 404}),
    "GET /v1/carnets/{n}/history": (lambda h, w: h.get(f"/v1/carnets/{NUMBER}/history"),
                                    {"holder": 200, "representative": 200, "revoked_representative": 404,
                                     "other_wallet": 404}),
    # the document was sealed for the holder only; sharing without a sealed key gives the representative none
    "GET /v1/carnets/{n}/document": (lambda h, w: h.get(f"/v1/carnets/{NUMBER}/document"),
                                     {"holder": 200, "representative": 404, "revoked_representative": 404,
                                      "other_wallet": 404}),
    "POST /v1/carnets/{n}/shares": (lambda h, w: h.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_9"}),
                                    {"holder": 201, "representative": 403, "revoked_representative": 404,
                                     "other_wallet": 404}),
    "DELETE /v1/carnets/{n}/shares/{rep}": (lambda h, w: h.delete(f"/v1/carnets/{NUMBER}/shares/rep_3"),
                                            {"holder": 204, "representative": 403, "revoked_representative": 404,
                                             "other_wallet": 404}),
    "POST /v1/carnets/{n}/close": (lambda h, w: h.post(f"/v1/carnets/{CLOSABLE}/close"),
                                   {"holder": 200, "representative": 404, "revoked_representative": 404,
                                    "other_wallet": 404}),
}
for _, expected in HOLDER_ROUTES.values():
    expected.update({"officer": 401, "anonymous": 401})

#: Mutating cells whose allowed outcome changes what the same cell would answer for another role: the
#: allowed one runs last, after every refused role was tried on the unchanged state.
LAST = {"holder"}
HOLDER_CELLS = [(route, role) for route in HOLDER_ROUTES for role in sorted(HOLDER_ROLES, key=lambda r: r in LAST)]


@pytest.mark.parametrize(("route", "role"), HOLDER_CELLS, ids=[f"{r} as {p}" for r, p in HOLDER_CELLS])
async def test_core_holder_api(core_world: World, route: str, role: str) -> None:
    call, expected = HOLDER_ROUTES[route]
    async with core_world.client(role) as http:
        r = await call(http, core_world)
    assert r.status_code == expected[role], r.text


@pytest.mark.parametrize("role", HOLDER_ROLES)
async def test_core_carnet_list_shows_only_what_the_party_holds_or_represents(core_world: World, role: str) -> None:
    async with core_world.client(role) as http:
        r = await http.get("/v1/carnets")
    if role in ("officer", "anonymous"):
        assert r.status_code == 401
    else:
        listed = {c["carnet_number"] for c in r.json()}
        assert (NUMBER in listed) == (role in ("holder", "representative"))


#: The token customs gateways present to the core for typed-code lookups (core/customs_api.py).
CUSTOMS_TOKEN = "customs-token-of-the-matrix"


@pytest.mark.parametrize("role", (*HOLDER_ROLES, "customs_gateway"))
async def test_core_typed_code_lookup_answers_only_the_customs_gateways(core_world: World, role: str) -> None:
    """A declaration by its transaction code (what a gateway shows an officer who typed it, R18) is for the
    gateways' shared token alone: no wallet, not even the holder's, may look codes up."""
    async with core_world.client(role) as http:
        r = await http.get(f"/v1/customs/declarations/{core_world.ids['code']}")
    assert r.status_code == (200 if role == "customs_gateway" else 401), r.text
    if role == "customs_gateway":
        assert (r.json()["carnet_number"], r.json()["items"]) == (NUMBER, [1])


# --- customs gateway: officers (R18) and administration --------------------------------------------------------

OFFICER_ROLES = ("officer", "officer_other_country", "officer_without_mfa", "administrator", "holder_wallet",
                 "anonymous")
PASSWORD = "correct horse battery staple"
CONSENT = new_transaction_code()
OFFICERS = {"officer": ("fr-officer-m1", "FR-CDG-FRET"), "officer_other_country": ("ch-officer-m1", "CH-GVA-AIR"),
            "officer_without_mfa": ("fr-officer-m2", "FR-CDG-FRET")}


async def _log_in(http: httpx.AsyncClient, officer: str, secret: str, at: datetime) -> dict[str, str]:
    r = await http.post("/v1/sessions", json={"officer_id": officer, "password": PASSWORD,
                                              "totp": pyotp.TOTP(secret).at(at)})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
async def gateway_world(pg_server: str, tmp_path_factory: Any) -> AsyncIterator[World]:
    from customs_gateway.app import build
    from tests.support.gateway import CORE, carnet_issued, declared, learn_key, make_token, publish

    clock = FixedClock(NOW)
    async with AsyncExitStack() as stack:
        w = await _world(stack, pg_server, tmp_path_factory.mktemp("gateway"), functools.partial(build, core=CORE.client()),
                         clock)
        broker, settings = w.broker, w.settings
        key = w.ids["key"] = generate_signing_key()
        await learn_key(broker, key, clock.now - timedelta(days=1), settings)
        await publish(broker, carnet_issued(), ISSUANCE_EVENTS)
        w.ids["code"], _ = declared(clock.now)
        w.ids["token"] = lambda: make_token(key, clock.now, items=(1, 2))[0]
        async with w.client("none") as http:
            secrets = {}
            for role, (officer, office) in OFFICERS.items():
                r = await http.post("/v1/admin/officers", headers=ADMIN, json={
                    "officer_id": officer, "office_id": office, "password": PASSWORD})
                assert r.status_code == 201, r.text
                secrets[role] = r.json()["totp_secret"]
            w.ids["secrets"], w.ids["clock"] = secrets, clock
            for role in ("officer", "officer_other_country"):
                w.headers[role] = await _log_in(http, OFFICERS[role][0], secrets[role], clock.now)
            # R18: the second factor is mandatory: a password alone opens no session.
            no_code = await http.post("/v1/sessions", json={"officer_id": OFFICERS["officer_without_mfa"][0],
                                                            "password": PASSWORD, "totp": ""})
            assert no_code.status_code in (401, 422) and "token" not in no_code.text
            w.headers["officer_without_mfa"] = {"Authorization": "Bearer no-session-without-mfa"}
            w.headers["administrator"] = ADMIN
            wallet = private_key_path(settings.data_dir)
            w.headers["holder_wallet"] = {"Authorization": f"Bearer {mint_wallet_token(wallet, 'hld_1', now=clock.now)}"}
            committed = w.ids["token"]()
            r = await http.post("/v1/commits", headers=w.headers["officer"], json={"token": committed,
                                                                                 "decision": "committed"})
            assert r.status_code == 202, r.text
            w.ids["committed_code"] = r.json()["transaction_code"]
            r = await http.post("/v1/commits", headers=w.headers["officer"], json={"token": w.ids["token"](),
                                                                                 "decision": "committed"})
            w.ids["cancel_code"] = r.json()["transaction_code"]
            r = await http.post("/v1/cancellations", headers=w.headers["officer"], json={
                "transaction_code": w.ids["committed_code"], "cancellation_code": CONSENT, "reason": "test"})
            assert r.status_code == 202, r.text
            w.ids["cancellation"] = r.json()["cancellation_id"]
        yield w


def _png(w: World) -> bytes:
    from tokens.qr import qr_png

    return qr_png(w.ids["token"]())


async def _own_fresh_session_deleted(http: httpx.AsyncClient, w: World, role: str) -> httpx.Response:
    """Logging out ends only the caller's session: officers log out of a fresh one, others try with what they have."""
    headers = w.headers.get(role, {})
    if role in ("officer", "officer_other_country"):
        officer = OFFICERS[role][0]
        headers = await _log_in(http, officer, w.ids["secrets"][role], w.ids["clock"].now + timedelta(seconds=30))
    return await http.delete("/v1/sessions/current", headers=headers)


async def _batch_item(http: httpx.AsyncClient, w: World, role: str) -> httpx.Response:
    """POST /v1/commits/batch answers 200 with one outcome per item: the cell is the item's status (what the single
    route would answer), the batch's own status when it is refused whole (401 without a session)."""
    r = await http.post("/v1/commits/batch", json={"items": [{"token": w.ids["token"](), "decision": "committed"}]})
    if r.status_code != 200:
        return r
    return httpx.Response(r.json()["items"][0]["status"], json=r.json())


OFFICE_IN = {"office_id": "FR-LYS-M1", "country": "FR", "region": "FR-ARA", "name": "Lyon Saint-Exupéry",
             "timezone": "Europe/Paris"}
CSV = "officer_id,office_id,password\nfr-officer-csv1,FR-CDG-FRET,a long enough password 1\n"
DENIED_TO_NON_OFFICERS = {"officer_without_mfa": 401, "administrator": 401, "holder_wallet": 401, "anonymous": 401}
DENIED_TO_NON_ADMINS = {"officer": 401, "officer_other_country": 401, "officer_without_mfa": 401,
                        "holder_wallet": 401, "anonymous": 401}

GATEWAY_ROUTES: dict[str, tuple[Callable[[httpx.AsyncClient, World, str], Awaitable[httpx.Response]], dict[str, int]]] = {
    "POST /v1/scans": (lambda h, w, r: h.post("/v1/scans", json={"token": w.ids["token"]()}),
                       {"officer": 200, "officer_other_country": 403}),
    "POST /v1/scans/image": (lambda h, w, r: h.post("/v1/scans/image", files={"image": ("qr.png", _png(w), "image/png")}),
                             {"officer": 200, "officer_other_country": 403}),
    "POST /v1/scans/code": (lambda h, w, r: h.post("/v1/scans/code", json={"code": w.ids["code"]}),
                            {"officer": 200, "officer_other_country": 403}),
    "POST /v1/commits": (lambda h, w, r: h.post("/v1/commits", json={"token": w.ids["token"](), "decision": "committed"}),
                         {"officer": 202, "officer_other_country": 403}),
    "POST /v1/commits/batch": (_batch_item, {"officer": 202, "officer_other_country": 403}),
    "POST /v1/cancellations": (lambda h, w, r: h.post("/v1/cancellations", json={
        "transaction_code": w.ids["cancel_code"], "cancellation_code": CONSENT, "reason": "wrong gate"}),
        {"officer": 202, "officer_other_country": 403}),
    "GET /v1/cancellations/{id}": (lambda h, w, r: h.get(f"/v1/cancellations/{w.ids['cancellation']}"),
                                   {"officer": 200, "officer_other_country": 404}),
    "GET /v1/sessions/current": (lambda h, w, r: h.get("/v1/sessions/current"),
                                 {"officer": 200, "officer_other_country": 200}),
    "DELETE /v1/sessions/current": (lambda h, w, r: _own_fresh_session_deleted(h, w, r),
                                    {"officer": 204, "officer_other_country": 204}),
    "GET /v1/admin/offices": (lambda h, w, r: h.get("/v1/admin/offices"), {"administrator": 200}),
    "POST /v1/admin/offices": (lambda h, w, r: h.post("/v1/admin/offices", json=OFFICE_IN), {"administrator": 201}),
    "POST /v1/admin/officers": (lambda h, w, r: h.post("/v1/admin/officers", json={
        "officer_id": "fr-officer-m9", "office_id": "FR-CDG-FRET", "password": PASSWORD}), {"administrator": 201}),
    "POST /v1/admin/officers/import": (lambda h, w, r: h.post("/v1/admin/officers/import", content=CSV,
                                                              headers={"Content-Type": "text/csv"}),
                                       {"administrator": 201}),
    "GET /v1/admin/audit": (lambda h, w, r: h.get("/v1/admin/audit"), {"administrator": 200}),
}
for _route, (_, _expected) in GATEWAY_ROUTES.items():
    _expected.update(DENIED_TO_NON_ADMINS if "/admin/" in _route else DENIED_TO_NON_OFFICERS)

GATEWAY_LAST = {"officer", "administrator"}
GATEWAY_CELLS = [(route, role) for route in GATEWAY_ROUTES
                 for role in sorted(OFFICER_ROLES, key=lambda r: r in GATEWAY_LAST)]


@pytest.mark.parametrize(("route", "role"), GATEWAY_CELLS, ids=[f"{r} as {p}" for r, p in GATEWAY_CELLS])
async def test_customs_gateway_api(gateway_world: World, route: str, role: str) -> None:
    call, expected = GATEWAY_ROUTES[route]
    async with gateway_world.client(role) as http:
        r = await call(http, gateway_world, role)
    assert r.status_code == expected[role], r.text


# --- issuer: the NGA API ------------------------------------------------------------------------------------------

NGA_ROLES = ("nga", "nga_other_country", "unknown_key", "anonymous")


@pytest.fixture(scope="module")
async def issuer_world(pg_server: str, tmp_path_factory: Any) -> AsyncIterator[World]:
    from deploy.local.registry import write_registry
    from issuer.app import build

    async with AsyncExitStack() as stack:
        tmp = tmp_path_factory.mktemp("issuer")
        path, keys = write_registry(tmp)
        w = await _world(stack, pg_server, tmp, build, FixedClock(NOW), nga_registry_path=path)
        w.headers = {"nga": {"Authorization": f"Bearer {keys['FR']}"},
                     "nga_other_country": {"Authorization": f"Bearer {keys['DE']}"},
                     "unknown_key": {"Authorization": "Bearer not-a-registered-key"}}
        async with w.client("nga") as http:
            r = await http.post("/v1/issuance-requests", json=sealed_request("REQ-FR-1").model_dump(mode="json"))
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "issued", r.text
            w.ids["number"] = r.json()["answer"]["carnet_number"]
        yield w


def _sealed(request_id: str) -> dict[str, Any]:
    return sealed_request(request_id).model_dump(mode="json")


def _replacement(w: World) -> dict[str, Any]:
    return {**_sealed("REQ-FR-R"), "original_number": w.ids["number"], "requested_at": NOW.isoformat(),
            "approved_at": NOW.isoformat()}


NGA_ROUTES: dict[str, tuple[Call, dict[str, int]]] = {
    # an FR request: FR's key issues it; DE's key may not speak for FR (403)
    "POST /v1/issuance-requests": (lambda h, w: h.post("/v1/issuance-requests", json=_sealed("REQ-FR-2")),
                                   {"nga": 200, "nga_other_country": 403}),
    "POST /v1/issuance-requests/batch": (lambda h, w: h.post("/v1/issuance-requests/batch", json=[_sealed("REQ-FR-3")]),
                                         {"nga": 200, "nga_other_country": 403}),
    "POST /v1/duplicate-requests": (lambda h, w: h.post("/v1/duplicate-requests", json={
        "request_id": "REQ-FR-D", "nga": "FR", "issuing_association": "FR-CCI-PARIS",
        "original_number": w.ids["number"], "reason": "lost"}), {"nga": 202, "nga_other_country": 403}),
    "POST /v1/replacement-requests": (lambda h, w: h.post("/v1/replacement-requests", json=_replacement(w)),
                                      {"nga": 202, "nga_other_country": 403}),
    # another NGA's request id is not found under one's own key: no leak that it exists
    "GET /v1/requests/{id}": (lambda h, w: h.get("/v1/requests/REQ-FR-1"), {"nga": 200, "nga_other_country": 404}),
}
for _, _expected in NGA_ROUTES.values():
    _expected.update({"unknown_key": 401, "anonymous": 401})

NGA_CELLS = [(route, role) for route in NGA_ROUTES for role in sorted(NGA_ROLES, key=lambda r: r == "nga")]


@pytest.mark.parametrize(("route", "role"), NGA_CELLS, ids=[f"{r} as {p}" for r, p in NGA_CELLS])
async def test_issuer_nga_api(issuer_world: World, route: str, role: str) -> None:
    call, expected = NGA_ROUTES[route]
    async with issuer_world.client(role) as http:
        r = await call(http, issuer_world)
    assert r.status_code == expected[role], r.text
