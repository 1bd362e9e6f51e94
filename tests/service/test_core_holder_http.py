"""Core ledger service: the holder HTTP API's carnet, declaration (with its QR image) and history routes."""

from __future__ import annotations

from typing import Any

import httpx

from contracts.kinds import DeclarationKind as K
from contracts.topics import CUSTOMS_COMMITS
from core.app import build
from deploy.local.identity import mint_wallet_token, private_key_path
from tests.support.core import NUMBER, activate, claims_of, declare, fetch, issue, publish, with_key
from tests.support.core_service import settings  # noqa: F401  (settings: the fixture)
from tests.support.messages import customs_commit
from tokens.qr import decode_qr_image


def client(service: Any, party: str = "hld_1") -> httpx.AsyncClient:
    """The holder API as `party`'s wallet app calls it: with a bearer token minted at the service's clock."""
    token = mint_wallet_token(private_key_path(service.settings.data_dir), party, now=service.clock())
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=service.http),
        base_url="http://core",
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_http_get_carnet_and_unknown_carnet(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        found = await http.get(f"/v1/carnets/{NUMBER}")
        unknown = await http.get("/v1/carnets/FR2699999999")
        malformed = await http.get("/v1/carnets/not-a-number")
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["carnet_number"], body["home_country"], body["countries"], body["expiry_date"], body["active"]) == (
        NUMBER,
        "FR",
        ["CH", "GB"],
        "2027-11-21",
        False,
    )
    assert [(i["item_number"], i["location"]) for i in body["items"]] == [(1, "home"), (2, "home"), (3, "home")]
    assert unknown.status_code == 404
    assert unknown.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert malformed.status_code == 422


async def test_http_declaration_gives_a_qr_image_of_the_token(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        created = await http.post(
            f"/v1/carnets/{NUMBER}/declarations", json={"kind": "exportation", "country": "FR", "items": [1, 2]}
        )
        assert created.status_code == 201, created.text
        body = created.json()
        image = await http.get(body["qr_png_url"])
        again = await http.get(f"/v1/declarations/{body['declaration_id']}")
        missing = await http.get("/v1/declarations/00000000-0000-0000-0000-000000000000/qr.png")
    assert (body["kind"], body["country"], body["items"], body["sequence"], body["status"]) == (
        "exportation",
        "FR",
        [1, 2],
        1,
        "pending",
    )
    assert body["transaction_code"].count("-") == 3  # grouped for reading aloud
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert decode_qr_image(image.content) == [body["token"]]
    claims = claims_of(body["token"], key, clock.now)
    assert claims.items == (1, 2) and claims.transaction_code == body["transaction_code"].replace("-", "")
    assert again.json()["token"] == body["token"]
    assert missing.status_code == 404


async def test_http_refused_declaration_is_422_with_reasons_and_404_for_strangers(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http, client(service, "intruder") as intruder:
        await issue(broker)
        await with_key(service)
        refused_ = await http.post(
            f"/v1/carnets/{NUMBER}/declarations",
            json={"kind": "importation", "country": "CH", "items": [1], "intended_use": "film shoot"},
        )
        stranger = await intruder.post(
            f"/v1/carnets/{NUMBER}/declarations", json={"kind": "exportation", "country": "FR", "items": [1]}
        )
        unknown = await http.post(
            "/v1/carnets/FR2699999999/declarations", json={"kind": "exportation", "country": "FR", "items": [1]}
        )
        declarations = await fetch(service, "SELECT count(*) AS n FROM declarations")
    assert refused_.status_code == 422
    assert "R10" in [r["rule"] for r in refused_.json()["detail"]["reasons"]]
    # someone else's carnet answers exactly as a carnet that does not exist
    assert (stranger.status_code, unknown.status_code) == (404, 404)
    assert stranger.json()["detail"]["reasons"][0]["rule"] == unknown.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert declarations[0]["n"] == 0


async def test_http_history_lists_the_transactions(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        await activate(service, broker, key, clock, [1, 2])
        history = await http.get(f"/v1/carnets/{NUMBER}/transactions")
        carnet = await http.get(f"/v1/carnets/{NUMBER}")
    assert history.status_code == 200
    assert [(t["kind"], t["decision"], t["items"]) for t in history.json()] == [("exportation", "committed", [1, 2])]
    assert carnet.json()["active"] is True


async def test_http_history_gives_the_reasons_of_a_refused_transaction_as_a_list(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker, client(service) as http:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1])
        commit = customs_commit(
            claims_of(created.token, key, clock.now), clock.now, decision="refused", refusal_reason="seal broken"
        )
        await publish(broker, commit, CUSTOMS_COMMITS.name, NUMBER)
        history = await http.get(f"/v1/carnets/{NUMBER}/transactions")
    assert history.status_code == 200
    assert [{k: r[k] for k in ("rule", "field", "item_number", "message")} for r in history.json()[0]["reasons"]] == [
        {"rule": "customs", "field": None, "item_number": None, "message": "seal broken"}
    ]
