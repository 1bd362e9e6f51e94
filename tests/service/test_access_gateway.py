"""Issue 10 item 5: who may do what, one test per cell, on every HTTP endpoint of the customs gateway (officer
API, R18, and administration).

Parties: an officer of the right country and of another country; an officer who gave no MFA code; the
administrator; a holder's wallet; anonymous.

Each service runs once per module on its own fresh database (the cells only read, or change what no other cell
looks at), so the whole matrix costs a few seconds, not one database per cell.

Command topics are not in this matrix: who may write them is a Kafka ACL (docs/reliability.md lists them).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest

from contracts.topics import ISSUANCE_EVENTS
from contracts.txcode import new_transaction_code
from deploy.local.identity import mint_wallet_token, private_key_path
from tests.service.conftest import ADMIN, FixedClock
from tests.support.access_matrix import NOW, World, service_world
from tokens.cose import generate_signing_key

# --- customs gateway: officers (R18) and administration --------------------------------------------------------

OFFICER_ROLES = (
    "officer",
    "officer_other_country",
    "officer_without_mfa",
    "administrator",
    "holder_wallet",
    "anonymous",
)
PASSWORD = "correct horse battery staple"
CONSENT = new_transaction_code()
OFFICERS = {
    "officer": ("fr-officer-m1", "FR-CDG-FRET"),
    "officer_other_country": ("ch-officer-m1", "CH-GVA-AIR"),
    "officer_without_mfa": ("fr-officer-m2", "FR-CDG-FRET"),
}


async def _log_in(http: httpx.AsyncClient, officer: str, secret: str, at: datetime) -> dict[str, str]:
    r = await http.post(
        "/v1/sessions", json={"officer_id": officer, "password": PASSWORD, "totp": pyotp.TOTP(secret).at(at)}
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(scope="module")
async def gateway_world(pg_server: str, tmp_path_factory: Any) -> AsyncIterator[World]:
    from customs_gateway.app import build
    from tests.support.gateway import CORE, carnet_issued, declared, learn_key, make_token, publish

    clock = FixedClock(NOW)
    async with AsyncExitStack() as stack:
        w = await service_world(
            stack, pg_server, tmp_path_factory.mktemp("gateway"), functools.partial(build, core=CORE.client()), clock
        )
        broker, settings = w.broker, w.settings
        key = w.ids["key"] = generate_signing_key()
        await learn_key(broker, key, clock.now - timedelta(days=1), settings)
        await publish(broker, carnet_issued(), ISSUANCE_EVENTS)
        w.ids["code"], _ = declared(clock.now)
        w.ids["token"] = lambda: make_token(key, clock.now, items=(1, 2))[0]
        async with w.client("none") as http:
            secrets = {}
            for role, (officer, office) in OFFICERS.items():
                r = await http.post(
                    "/v1/admin/officers",
                    headers=ADMIN,
                    json={"officer_id": officer, "office_id": office, "password": PASSWORD},
                )
                assert r.status_code == 201, r.text
                secrets[role] = r.json()["totp_secret"]
            w.ids["secrets"], w.ids["clock"] = secrets, clock
            for role in ("officer", "officer_other_country"):
                w.headers[role] = await _log_in(http, OFFICERS[role][0], secrets[role], clock.now)
            # R18: the second factor is mandatory: a password alone opens no session.
            no_code = await http.post(
                "/v1/sessions",
                json={"officer_id": OFFICERS["officer_without_mfa"][0], "password": PASSWORD, "totp": ""},
            )
            assert no_code.status_code in (401, 422) and "token" not in no_code.text
            w.headers["officer_without_mfa"] = {"Authorization": "Bearer no-session-without-mfa"}
            w.headers["administrator"] = ADMIN
            wallet = private_key_path(settings.data_dir)
            w.headers["holder_wallet"] = {
                "Authorization": f"Bearer {mint_wallet_token(wallet, 'hld_1', now=clock.now)}"
            }
            committed = w.ids["token"]()
            r = await http.post(
                "/v1/commits", headers=w.headers["officer"], json={"token": committed, "decision": "committed"}
            )
            assert r.status_code == 202, r.text
            w.ids["committed_code"] = r.json()["transaction_code"]
            r = await http.post(
                "/v1/commits", headers=w.headers["officer"], json={"token": w.ids["token"](), "decision": "committed"}
            )
            w.ids["cancel_code"] = r.json()["transaction_code"]
            r = await http.post(
                "/v1/cancellations",
                headers=w.headers["officer"],
                json={"transaction_code": w.ids["committed_code"], "cancellation_code": CONSENT, "reason": "test"},
            )
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


OFFICE_IN = {
    "office_id": "FR-LYS-M1",
    "country": "FR",
    "region": "FR-ARA",
    "name": "Lyon Saint-Exupéry",
    "timezone": "Europe/Paris",
}
CSV = "officer_id,office_id,password\nfr-officer-csv1,FR-CDG-FRET,a long enough password 1\n"
DENIED_TO_NON_OFFICERS = {"officer_without_mfa": 401, "administrator": 401, "holder_wallet": 401, "anonymous": 401}
DENIED_TO_NON_ADMINS = {
    "officer": 401,
    "officer_other_country": 401,
    "officer_without_mfa": 401,
    "holder_wallet": 401,
    "anonymous": 401,
}

GATEWAY_ROUTES: dict[
    str, tuple[Callable[[httpx.AsyncClient, World, str], Awaitable[httpx.Response]], dict[str, int]]
] = {
    "POST /v1/scans": (
        lambda h, w, r: h.post("/v1/scans", json={"token": w.ids["token"]()}),
        {"officer": 200, "officer_other_country": 403},
    ),
    "POST /v1/scans/image": (
        lambda h, w, r: h.post("/v1/scans/image", files={"image": ("qr.png", _png(w), "image/png")}),
        {"officer": 200, "officer_other_country": 403},
    ),
    "POST /v1/scans/code": (
        lambda h, w, r: h.post("/v1/scans/code", json={"code": w.ids["code"]}),
        {"officer": 200, "officer_other_country": 403},
    ),
    "POST /v1/commits": (
        lambda h, w, r: h.post("/v1/commits", json={"token": w.ids["token"](), "decision": "committed"}),
        {"officer": 202, "officer_other_country": 403},
    ),
    "POST /v1/commits/batch": (_batch_item, {"officer": 202, "officer_other_country": 403}),
    "POST /v1/cancellations": (
        lambda h, w, r: h.post(
            "/v1/cancellations",
            json={"transaction_code": w.ids["cancel_code"], "cancellation_code": CONSENT, "reason": "wrong gate"},
        ),
        {"officer": 202, "officer_other_country": 403},
    ),
    "GET /v1/cancellations/{id}": (
        lambda h, w, r: h.get(f"/v1/cancellations/{w.ids['cancellation']}"),
        {"officer": 200, "officer_other_country": 404},
    ),
    "GET /v1/sessions/current": (
        lambda h, w, r: h.get("/v1/sessions/current"),
        {"officer": 200, "officer_other_country": 200},
    ),
    "DELETE /v1/sessions/current": (
        lambda h, w, r: _own_fresh_session_deleted(h, w, r),
        {"officer": 204, "officer_other_country": 204},
    ),
    "GET /v1/admin/offices": (lambda h, w, r: h.get("/v1/admin/offices"), {"administrator": 200}),
    "POST /v1/admin/offices": (lambda h, w, r: h.post("/v1/admin/offices", json=OFFICE_IN), {"administrator": 201}),
    "POST /v1/admin/officers": (
        lambda h, w, r: h.post(
            "/v1/admin/officers", json={"officer_id": "fr-officer-m9", "office_id": "FR-CDG-FRET", "password": PASSWORD}
        ),
        {"administrator": 201},
    ),
    "POST /v1/admin/officers/import": (
        lambda h, w, r: h.post("/v1/admin/officers/import", content=CSV, headers={"Content-Type": "text/csv"}),
        {"administrator": 201},
    ),
    "GET /v1/admin/audit": (lambda h, w, r: h.get("/v1/admin/audit"), {"administrator": 200}),
}
for _route, (_, _expected) in GATEWAY_ROUTES.items():
    _expected.update(DENIED_TO_NON_ADMINS if "/admin/" in _route else DENIED_TO_NON_OFFICERS)

GATEWAY_LAST = {"officer", "administrator"}
GATEWAY_CELLS = [
    (route, role) for route in GATEWAY_ROUTES for role in sorted(OFFICER_ROLES, key=lambda r: r in GATEWAY_LAST)
]


@pytest.mark.parametrize(("route", "role"), GATEWAY_CELLS, ids=[f"{r} as {p}" for r, p in GATEWAY_CELLS])
async def test_customs_gateway_api(gateway_world: World, route: str, role: str) -> None:
    call, expected = GATEWAY_ROUTES[route]
    async with gateway_world.client(role) as http:
        r = await call(http, gateway_world, role)
    assert r.status_code == expected[role], r.text
