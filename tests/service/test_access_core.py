"""Issue 10 item 5: who may do what, one test per cell, on every HTTP endpoint of the core (holder API).

Parties: the holder; a representative while the carnet is shared and one after revocation; another wallet;
an officer; anonymous; and the customs gateway for the typed-code lookup.

Each service runs once per module on its own fresh database (the cells only read, or change what no other cell
looks at), so the whole matrix costs a few seconds, not one database per cell.

Command topics are not in this matrix: who may write them is a Kafka ACL (docs/reliability.md lists them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from contracts.topics import ISSUANCE_EVENTS
from deploy.local.identity import mint_wallet_token, private_key_path
from issuer.domain import issued_sealed
from tests.service.conftest import FixedClock
from tests.support.access_matrix import NOW, Call, World, service_world
from tests.support.messages import sealed_request, wire
from tokens.cose import generate_signing_key

NUMBER = "FR2600000010"
CLOSABLE = "FR2600000028"


# --- core: the holder API -------------------------------------------------------------------------------------

HOLDER_ROLES = ("holder", "representative", "revoked_representative", "other_wallet", "officer", "anonymous")


@pytest.fixture(scope="module")
async def core_world(pg_server: str, tmp_path_factory: Any) -> AsyncIterator[World]:
    from core.app import build

    clock = FixedClock(NOW)
    async with AsyncExitStack() as stack:
        w = await service_world(
            stack, pg_server, tmp_path_factory.mktemp("core"), build, clock, core_customs_token=SecretStr(CUSTOMS_TOKEN)
        )
        service, broker, settings = w.service, w.broker, w.settings
        for number, request in ((NUMBER, "REQ-M1"), (CLOSABLE, "REQ-M2")):
            body, headers, _ = wire(issued_sealed(sealed_request(request), number), producer="issuer", subject=number)
            await broker.publish(body, ISSUANCE_EVENTS.name, key=number.encode(), headers=headers)
        async with service.pool.acquire() as conn:
            await service.state["handlers"].publish_signing_key(conn, generate_signing_key())
        wallet = private_key_path(settings.data_dir)
        w.headers = {
            p: {"Authorization": f"Bearer {mint_wallet_token(wallet, wallet_id, now=clock.now)}"}
            for p, wallet_id in (
                ("holder", "hld_1"),
                ("representative", "rep_1"),
                ("revoked_representative", "rep_2"),
                ("other_wallet", "hld_9"),
            )
        }
        w.headers["officer"] = {"Authorization": "Bearer an-officer-session-is-not-a-wallet-token"}
        w.headers["customs_gateway"] = {"Authorization": f"Bearer {CUSTOMS_TOKEN}"}
        async with w.client("holder") as http:
            for rep in ("rep_1", "rep_2", "rep_3"):
                assert (
                    await http.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": rep})
                ).status_code == 201
            assert (await http.delete(f"/v1/carnets/{NUMBER}/shares/rep_2")).status_code == 204
            r = await http.post(
                f"/v1/carnets/{NUMBER}/declarations", json={"kind": "exportation", "country": "FR", "items": [1]}
            )
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
    "GET /v1/carnets/{n}": (
        lambda h, w: h.get(f"/v1/carnets/{NUMBER}"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    "POST /v1/carnets/{n}/declarations": (
        _declare,
        {"holder": 201, "representative": 201, "revoked_representative": 404, "other_wallet": 404},
    ),
    "GET /v1/declarations/{id}": (
        lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    "GET /v1/declarations/{id}/qr.png": (
        lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}/qr.png"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    "GET /v1/declarations/{id}/qr.svg": (
        lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}/qr.svg"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    "GET /v1/declarations/{id}/transaction-code": (
        lambda h, w: h.get(f"/v1/declarations/{w.ids['declaration']}/transaction-code"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    "GET /v1/carnets/{n}/transactions": (
        lambda h, w: h.get(f"/v1/carnets/{NUMBER}/transactions"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    "GET /v1/carnets/{n}/history": (
        lambda h, w: h.get(f"/v1/carnets/{NUMBER}/history"),
        {"holder": 200, "representative": 200, "revoked_representative": 404, "other_wallet": 404},
    ),
    # the document was sealed for the holder only; sharing without a sealed key gives the representative none
    "GET /v1/carnets/{n}/document": (
        lambda h, w: h.get(f"/v1/carnets/{NUMBER}/document"),
        {"holder": 200, "representative": 404, "revoked_representative": 404, "other_wallet": 404},
    ),
    "POST /v1/carnets/{n}/shares": (
        lambda h, w: h.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_9"}),
        {"holder": 201, "representative": 403, "revoked_representative": 404, "other_wallet": 404},
    ),
    "DELETE /v1/carnets/{n}/shares/{rep}": (
        lambda h, w: h.delete(f"/v1/carnets/{NUMBER}/shares/rep_3"),
        {"holder": 204, "representative": 403, "revoked_representative": 404, "other_wallet": 404},
    ),
    "POST /v1/carnets/{n}/close": (
        lambda h, w: h.post(f"/v1/carnets/{CLOSABLE}/close"),
        {"holder": 200, "representative": 404, "revoked_representative": 404, "other_wallet": 404},
    ),
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
