"""Issue 10 item 5: who may do what, one test per cell, on every HTTP endpoint of the issuer (NGA API).

Parties: the NGA; an NGA of another country; an unknown key; anonymous.

Each service runs once per module on its own fresh database (the cells only read, or change what no other cell
looks at), so the whole matrix costs a few seconds, not one database per cell.

Command topics are not in this matrix: who may write them is a Kafka ACL (docs/reliability.md lists them).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from tests.service.conftest import FixedClock
from tests.support.access_matrix import NOW, Call, World, service_world
from tests.support.messages import sealed_request

# --- issuer: the NGA API ------------------------------------------------------------------------------------------

NGA_ROLES = ("nga", "nga_other_country", "unknown_key", "anonymous")


@pytest.fixture(scope="module")
async def issuer_world(pg_server: str, tmp_path_factory: Any) -> AsyncIterator[World]:
    from deploy.local.registry import write_registry
    from issuer.app import build

    async with AsyncExitStack() as stack:
        tmp = tmp_path_factory.mktemp("issuer")
        path, keys = write_registry(tmp)
        w = await service_world(stack, pg_server, tmp, build, FixedClock(NOW), nga_registry_path=path)
        w.headers = {
            "nga": {"Authorization": f"Bearer {keys['FR']}"},
            "nga_other_country": {"Authorization": f"Bearer {keys['DE']}"},
            "unknown_key": {"Authorization": "Bearer not-a-registered-key"},
        }
        async with w.client("nga") as http:
            r = await http.post("/v1/issuance-requests", json=sealed_request("REQ-FR-1").model_dump(mode="json"))
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "issued", r.text
            w.ids["number"] = r.json()["answer"]["carnet_number"]
        yield w


def _sealed(request_id: str) -> dict[str, Any]:
    return sealed_request(request_id).model_dump(mode="json")


def _replacement(w: World) -> dict[str, Any]:
    return {
        **_sealed("REQ-FR-R"),
        "original_number": w.ids["number"],
        "requested_at": NOW.isoformat(),
        "approved_at": NOW.isoformat(),
    }


NGA_ROUTES: dict[str, tuple[Call, dict[str, int]]] = {
    # an FR request: FR's key issues it; DE's key may not speak for FR (403)
    "POST /v1/issuance-requests": (
        lambda h, w: h.post("/v1/issuance-requests", json=_sealed("REQ-FR-2")),
        {"nga": 200, "nga_other_country": 403},
    ),
    "POST /v1/issuance-requests/batch": (
        lambda h, w: h.post("/v1/issuance-requests/batch", json=[_sealed("REQ-FR-3")]),
        {"nga": 200, "nga_other_country": 403},
    ),
    "POST /v1/duplicate-requests": (
        lambda h, w: h.post(
            "/v1/duplicate-requests",
            json={
                "request_id": "REQ-FR-D",
                "nga": "FR",
                "issuing_association": "FR-CCI-PARIS",
                "original_number": w.ids["number"],
                "reason": "lost",
            },
        ),
        {"nga": 202, "nga_other_country": 403},
    ),
    "POST /v1/replacement-requests": (
        lambda h, w: h.post("/v1/replacement-requests", json=_replacement(w)),
        {"nga": 202, "nga_other_country": 403},
    ),
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
