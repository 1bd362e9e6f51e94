"""The holder's HTTP API (issue 3, item 9): wallet bearer tokens, own and shared carnets, declarations with
their QR images and transaction code, sharing with a representative and revoking it.

Real PostgreSQL, the core's real handlers, HTTP through ASGI (no lifespan: the test opens the database).
Tokens are minted at the injected clock, so nothing here depends on the wall clock.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from contracts.messages import Holder
from contracts.token import DeclarationClaims
from contracts.topics import CUSTOMS_COMMITS, ISSUANCE_EVENTS
from core.app import build
from deploy.local.identity import ensure_wallet_issuer, load_private_key, mint_wallet_token, private_key_path
from issuer.domain import issued
from tests.support.holder_api import as_party, settings, token_for  # noqa: F401  (settings: the fixture with the wallet key)
from tests.support.messages import customs_commit, issuance_request, wire
from tokens.cose import SigningKey, generate_signing_key, verify_token
from tokens.qr import decode_qr_image, qr_version
from tokens.wallet_auth import WalletConfigError

NUMBER = "FR2600000010"
OTHER = "FR2600000028"  # held by hld_2


async def issue(broker: Any, number: str = NUMBER, holder_id: str = "hld_1", **overrides: Any) -> Any:
    holder = Holder(holder_id=holder_id, name="Lumière Productions SARL", address="8 rue des Arts, Lyon", person="legal")
    carnet = issued(issuance_request(f"REQ-{number}", holder=holder, **overrides), number)
    body, headers, _ = wire(carnet, producer="issuer", subject=number)
    await broker.publish(body, ISSUANCE_EVENTS.name, key=number.encode(), headers=headers)
    return carnet


async def with_key(service: Any) -> SigningKey:
    key = generate_signing_key()
    async with service.pool.acquire() as conn:
        await service.state["handlers"].publish_signing_key(conn, key)
    return key


def claims_of(token: str, key: SigningKey, service: Any) -> DeclarationClaims:
    return DeclarationClaims.from_cwt(verify_token(token, lambda kid: key.public_key if kid == key.kid else None,
                                                   service.clock()))


async def post_declaration(http: httpx.AsyncClient, number: str = NUMBER, **body: Any) -> httpx.Response:
    return await http.post(f"/v1/carnets/{number}/declarations",
                           json={"kind": "exportation", "country": "FR", "items": [1], **body})


def hand_made(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    """A JWT built by hand, for the algorithms PyJWT rightly refuses to produce with these keys."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def failures(service: Any, reason: str) -> float:
    return service.registry.get_sample_value("ata_holder_auth_failures_total", {"reason": reason}) or 0.0


# --- authentication -------------------------------------------------------------------------------------


async def test_every_route_needs_a_valid_wallet_token(settings, clock, running, tmp_path):
    service = build(settings, clock=clock)
    foreign = private_key_path(tmp_path / "another-provider")
    ensure_wallet_issuer(tmp_path / "another-provider")
    async with running(service) as broker:
        await issue(broker)
        tokens = {
            "expired": token_for(service, "hld_1", now=clock.now - timedelta(hours=2)),
            "bad_signature": mint_wallet_token(foreign, "hld_1", now=clock.now),
            "wrong_audience": token_for(service, "hld_1", audience="ata-customs"),
            "malformed": "not.a.jwt",
        }
        async with as_party(service, None) as anonymous:
            missing = await anonymous.get(f"/v1/carnets/{NUMBER}")
            listing = await anonymous.get("/v1/carnets")
            basic = await anonymous.get("/v1/carnets", headers={"Authorization": "Basic aGxkXzE6eA=="})
        refused = {}
        for reason, token in tokens.items():
            async with as_party(service, token=token) as http:
                refused[reason] = await http.get(f"/v1/carnets/{NUMBER}")
        async with as_party(service) as holder:
            ok = await holder.get(f"/v1/carnets/{NUMBER}")
    for response in (missing, listing, basic, *refused.values()):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert missing.json()["detail"]["reason"] == "missing"
    assert {reason: r.json()["detail"]["reason"] for reason, r in refused.items()} == {r: r for r in refused}
    assert 'error="invalid_token"' in refused["expired"].headers["www-authenticate"]
    assert "expired" in refused["expired"].json()["detail"]["reasons"][0]["message"]
    assert ok.status_code == 200
    assert failures(service, "missing") == 3
    assert [failures(service, r) for r in tokens] == [1, 1, 1, 1]


async def test_expiry_is_judged_by_the_service_clock_not_the_wall_clock(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        async with as_party(service, token=token_for(service, "hld_1", ttl=timedelta(hours=1))) as http:
            fresh = await http.get("/v1/carnets")
            clock.now += timedelta(minutes=59)
            still = await http.get("/v1/carnets")
            clock.now += timedelta(minutes=2)
            expired = await http.get("/v1/carnets")
        # a token issued well in the service's future is refused too
        async with as_party(service, token=token_for(service, "hld_1", now=clock.now + timedelta(hours=1))) as http:
            early = await http.get("/v1/carnets")
    assert (fresh.status_code, still.status_code, expired.status_code, early.status_code) == (200, 200, 401, 401)
    assert (expired.json()["detail"]["reason"], early.json()["detail"]["reason"]) == ("expired", "not_yet_valid")


async def test_tokens_must_be_es256_and_carry_the_required_claims(settings, clock, running):
    service = build(settings, clock=clock)
    key = load_private_key(private_key_path(settings.data_dir))
    iat = int(clock.now.timestamp())
    full = {"sub": "hld_1", "aud": "ata-core", "iat": iat, "exp": iat + 3600}
    pem_public = Path(settings.wallet_issuer_public_key_path).read_bytes()
    cases = {
        "no_exp": jwt.encode({k: v for k, v in full.items() if k != "exp"}, key, algorithm="ES256"),
        "no_sub": jwt.encode({k: v for k, v in full.items() if k != "sub"}, key, algorithm="ES256"),
        "no_aud": jwt.encode({k: v for k, v in full.items() if k != "aud"}, key, algorithm="ES256"),
        "string_exp": jwt.encode({**full, "exp": "tomorrow"}, key, algorithm="ES256"),
        "long_sub": jwt.encode({**full, "sub": "x" * 65}, key, algorithm="ES256"),
        # the classic confusion: HMAC keyed with the public key the verifier holds
        "hs256_with_public_key": hand_made({"alg": "HS256", "typ": "JWT"}, full,
                                           lambda signing_input: hmac.new(pem_public, signing_input, "sha256").digest()),
        "alg_none": hand_made({"alg": "none", "typ": "JWT"}, full, lambda _: b""),
    }
    async with running(service):
        answers = {}
        for name, token in cases.items():
            async with as_party(service, token=token) as http:
                answers[name] = await http.get("/v1/carnets")
    assert {n: r.status_code for n, r in answers.items()} == {n: 401 for n in cases}
    assert answers["no_exp"].json()["detail"]["reason"] == "malformed"
    assert answers["no_aud"].json()["detail"]["reason"] == "malformed"
    assert answers["hs256_with_public_key"].json()["detail"]["reason"] == "bad_signature"


def test_the_core_refuses_to_build_without_the_identity_provider_key(settings, clock, tmp_path):
    with pytest.raises(WalletConfigError, match="ATA_WALLET_ISSUER_PUBLIC_KEY_PATH"):
        build(settings.model_copy(update={"wallet_issuer_public_key_path": None}), clock=clock)
    not_a_key = tmp_path / "junk.pem"
    not_a_key.write_text("hello")
    with pytest.raises(WalletConfigError, match="not a PEM public key"):
        build(settings.model_copy(update={"wallet_issuer_public_key_path": not_a_key}), clock=clock)


def test_the_identity_key_pair_is_made_once_and_private(tmp_path):
    public = ensure_wallet_issuer(tmp_path)
    first = (public.read_bytes(), private_key_path(tmp_path).read_bytes())
    assert ensure_wallet_issuer(tmp_path) == public
    assert (public.read_bytes(), private_key_path(tmp_path).read_bytes()) == first
    assert private_key_path(tmp_path).stat().st_mode & 0o777 == 0o600
    assert public.name == "wallet-issuer.pub.pem" and public.parent == tmp_path / "identity"


# --- what a party sees ------------------------------------------------------------------------------------


async def test_a_holder_lists_only_their_own_carnets(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await issue(broker, OTHER, holder_id="hld_2")
        async with as_party(service, "hld_1") as one, as_party(service, "hld_2") as two, as_party(service, "nobody") as three:
            mine, theirs, none = await one.get("/v1/carnets"), await two.get("/v1/carnets"), await three.get("/v1/carnets")
            detail = await one.get(f"/v1/carnets/{NUMBER}")
    assert [(c["carnet_number"], c["role"]) for c in mine.json()] == [(NUMBER, "holder")]
    assert [(c["carnet_number"], c["role"]) for c in theirs.json()] == [(OTHER, "holder")]
    assert none.json() == []
    body = detail.json()
    assert (body["role"], body["representative_ids"], body["countries"], body["expiry_date"]) == (
        "holder", [], ["CH", "GB"], "2027-11-21")
    assert [(i["item_number"], i["location"]) for i in body["items"]] == [(1, "home"), (2, "home"), (3, "home")]


async def test_a_stranger_gets_404_for_everything_exactly_as_for_unknown_ids(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await with_key(service)
        async with as_party(service) as holder, as_party(service, "intruder") as stranger:
            created = (await post_declaration(holder)).json()
            did = created["declaration_id"]
            seen = {path: await stranger.get(path) for path in (
                f"/v1/carnets/{NUMBER}", f"/v1/carnets/{NUMBER}/transactions", f"/v1/declarations/{did}",
                f"/v1/declarations/{did}/qr.png", f"/v1/declarations/{did}/qr.svg", f"/v1/declarations/{did}/transaction-code")}
            seen["declare"] = await post_declaration(stranger)
            seen["share"] = await stranger.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "intruder_2"})
            seen["revoke"] = await stranger.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            unknown_carnet = await holder.get("/v1/carnets/FR2699999999")
            unknown_declaration = await holder.get("/v1/declarations/00000000-0000-0000-0000-000000000000")
        count = await service.pool.fetchval("SELECT count(*) FROM declarations")
    assert {k: r.status_code for k, r in seen.items()} == {k: 404 for k in seen}
    # the same body as for a carnet that does not exist, but for the number it repeats
    unknown = unknown_carnet.json()["detail"]["reasons"][0]
    assert seen[f"/v1/carnets/{NUMBER}"].json()["detail"] == {"reasons": [{**unknown, "message": f"unknown carnet {NUMBER}"}]}
    assert seen[f"/v1/declarations/{did}"].json() == unknown_declaration.json()
    assert count == 1  # the stranger's declaration was never made
    assert service.registry.get_sample_value("ata_holder_not_found_total", {"route": "declaration"}) == 2


# --- sharing -------------------------------------------------------------------------------------------


async def test_a_representative_acts_only_while_the_carnet_is_shared(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await with_key(service)
        async with as_party(service, "hld_1") as holder, as_party(service, "rep_1") as rep:
            before = (await rep.get(f"/v1/carnets/{NUMBER}"), await rep.get("/v1/carnets"), await post_declaration(rep))
            shared = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_1"})
            again = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_1"})
            listed = await rep.get("/v1/carnets")
            detail = await rep.get(f"/v1/carnets/{NUMBER}")
            declared = await post_declaration(rep, items=[1, 2])
            did = declared.json()["declaration_id"]
            png_while_shared = await rep.get(f"/v1/declarations/{did}/qr.png")
            holder_view = await holder.get(f"/v1/carnets/{NUMBER}")
            revoked = await holder.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            revoked_again = await holder.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            after = (await rep.get(f"/v1/carnets/{NUMBER}"), await rep.get("/v1/carnets"), await post_declaration(rep, items=[3]),
                     await rep.get(f"/v1/declarations/{did}"), await rep.get(f"/v1/declarations/{did}/qr.png"))
            holder_still = await holder.get(f"/v1/declarations/{did}")
        row = await service.pool.fetchrow("SELECT representative_ids FROM carnets WHERE carnet_number = $1", NUMBER)
        declared_by = await service.pool.fetch("SELECT declared_by, items FROM declarations")
    assert [r.status_code for r in before] == [404, 200, 404] and before[1].json() == []
    assert (shared.status_code, shared.json()) == (201, {"carnet_number": NUMBER, "representative_ids": ["rep_1"]})
    assert (again.status_code, again.json()) == (200, shared.json())  # idempotent
    assert [(c["carnet_number"], c["role"]) for c in listed.json()] == [(NUMBER, "representative")]
    assert (detail.status_code, detail.json()["role"], detail.json()["representative_ids"]) == (200, "representative", None)
    assert (declared.status_code, declared.json()["declared_by"]) == (201, "rep_1")
    assert png_while_shared.status_code == 200
    assert holder_view.json()["representative_ids"] == ["rep_1"]
    assert revoked.status_code == 204 and revoked.content == b""
    assert revoked_again.status_code == 404
    assert [r.status_code for r in after] == [404, 200, 404, 404, 404] and after[1].json() == []
    assert holder_still.status_code == 200
    assert list(row["representative_ids"]) == []
    assert [(r["declared_by"], list(r["items"])) for r in declared_by] == [("rep_1", [1, 2])]
    shares = {(a, o): service.registry.get_sample_value("ata_holder_shares_total", {"action": a, "outcome": o})
              for a, o in (("share", "added"), ("share", "already"), ("revoke", "removed"), ("revoke", "not_shared"))}
    assert shares == {("share", "added"): 1, ("share", "already"): 1, ("revoke", "removed"): 1, ("revoke", "not_shared"): 1}


async def test_only_the_holder_shares_and_revokes(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker, representative_ids=["rep_1"])  # named by the NGA at issuance
        async with as_party(service, "hld_1") as holder, as_party(service, "rep_1") as rep:
            rep_shares = await rep.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_2"})
            rep_revokes = await rep.delete(f"/v1/carnets/{NUMBER}/shares/rep_1")
            self_share = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "hld_1"})
            bad_id = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep 1; DROP"})
            holder_shares = await holder.post(f"/v1/carnets/{NUMBER}/shares", json={"representative_id": "rep_2"})
        row = await service.pool.fetchrow("SELECT representative_ids FROM carnets WHERE carnet_number = $1", NUMBER)
    assert (rep_shares.status_code, rep_revokes.status_code) == (403, 403)
    assert (self_share.status_code, bad_id.status_code) == (422, 422)
    assert (holder_shares.status_code, holder_shares.json()["representative_ids"]) == (201, ["rep_1", "rep_2"])
    assert list(row["representative_ids"]) == ["rep_1", "rep_2"]


# --- declarations ------------------------------------------------------------------------------------------


async def test_the_declaring_party_is_the_authenticated_one(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        await with_key(service)
        async with as_party(service) as holder:
            impersonating = await post_declaration(holder, declared_by="rep_9")
            created = await post_declaration(holder)
    assert impersonating.status_code == 422  # the body has no declared_by any more
    assert (created.status_code, created.json()["declared_by"]) == (201, "hld_1")


async def test_importation_needs_the_intended_use_r9(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        async with as_party(service) as holder:
            exported = (await post_declaration(holder, items=[1, 2])).json()
            commit = customs_commit(claims_of(exported["token"], key, service), clock.now)
            body, headers, _ = wire(commit, subject=NUMBER)
            await broker.publish(body, CUSTOMS_COMMITS.name, key=NUMBER.encode(), headers=headers)
            without = await post_declaration(holder, kind="importation", country="CH")
            empty = await post_declaration(holder, kind="importation", country="CH", intended_use="")
            with_use = await post_declaration(holder, kind="importation", country="CH", intended_use="film shoot in Geneva")
        stored = await service.pool.fetch("SELECT kind FROM declarations ORDER BY created_at")
    assert without.status_code == 422
    assert [(r["rule"], r["field"]) for r in without.json()["detail"]["reasons"]] == [("R9", "intended_use")]
    assert empty.status_code == 422
    assert with_use.status_code == 201, with_use.text
    assert [r["kind"] for r in stored] == ["exportation", "importation"]


async def test_qr_png_and_svg_and_transaction_code_are_the_token(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        async with as_party(service) as holder:
            created = (await post_declaration(holder, items=[1, 2])).json()
            png = await holder.get(created["qr_png_url"])
            svg = await holder.get(created["qr_svg_url"])
            svg_again = await holder.get(created["qr_svg_url"])
            code = await holder.get(created["transaction_code_url"])
    token = created["token"]
    claims = claims_of(token, key, service)
    assert png.headers["content-type"] == "image/png" and decode_qr_image(png.content) == [token]
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.headers["cache-control"] == "private, max-age=300"
    text = svg.text
    assert text.startswith("<?xml") and "<svg" in text
    assert re.search(r'<path[^>]* d="M[0-9]', text)
    # the same symbol as the PNG: 17 + 4 x version modules, a 4-module border each side, 6 px a module
    side = (17 + 4 * qr_version(token) + 2 * 4) * 6
    assert f'width="{side}"' in text and f'height="{side}"' in text
    assert svg_again.content == svg.content
    assert code.json() == {"transaction_code": created["transaction_code"], "canonical": claims.transaction_code}
    assert code.json()["transaction_code"].replace("-", "") == claims.transaction_code


async def test_the_openapi_document_describes_the_holder_api_and_its_bearer_scheme(settings, clock):
    service = build(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://core") as http:
        doc = (await http.get("/openapi.json")).json()
    holder_routes = {(path, method) for path, ops in doc["paths"].items() for method, op in ops.items()
                     if "holder" in op.get("tags", [])}
    assert holder_routes >= {
        ("/v1/carnets", "get"), ("/v1/carnets/{carnet_number}", "get"), ("/v1/carnets/{carnet_number}/declarations", "post"),
        ("/v1/declarations/{declaration_id}", "get"), ("/v1/declarations/{declaration_id}/qr.png", "get"),
        ("/v1/declarations/{declaration_id}/qr.svg", "get"), ("/v1/declarations/{declaration_id}/transaction-code", "get"),
        ("/v1/carnets/{carnet_number}/transactions", "get"), ("/v1/carnets/{carnet_number}/shares", "post"),
        ("/v1/carnets/{carnet_number}/shares/{representative_id}", "delete"),
    }
    assert doc["components"]["securitySchemes"]["WalletToken"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["WalletToken"]["description"]}
    for path, method in holder_routes:
        op = doc["paths"][path][method]
        assert op["security"] == [{"WalletToken": []}], (path, method)
        assert "401" in op["responses"], (path, method)
    request = doc["components"]["schemas"]["DeclarationRequest"]["properties"]
    assert "declared_by" not in request and {"intended_use", "closes"} <= set(request)
