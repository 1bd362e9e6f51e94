"""The holder's HTTP API (issue 3, item 9): wallet bearer tokens, judged by the service clock, the identity
provider key, and the documented bearer scheme.

Real PostgreSQL, the core's real handlers, HTTP through ASGI (no lifespan: the test opens the database).
Tokens are minted at the injected clock, so nothing here depends on the wall clock."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from core.app import build
from deploy.local.identity import ensure_wallet_issuer, load_private_key, mint_wallet_token, private_key_path
from tests.support.holder_api import as_party, settings, token_for  # noqa: F401  (settings: the fixture)
from tests.support.holder_api_steps import NUMBER, issue
from tokens.wallet_auth import WalletConfigError


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
        "hs256_with_public_key": hand_made(
            {"alg": "HS256", "typ": "JWT"},
            full,
            lambda signing_input: hmac.new(pem_public, signing_input, "sha256").digest(),
        ),
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


async def test_the_openapi_document_describes_the_holder_api_and_its_bearer_scheme(settings, clock):
    service = build(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://core") as http:
        doc = (await http.get("/openapi.json")).json()
    holder_routes = {
        (path, method)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "holder" in op.get("tags", [])
    }
    assert holder_routes >= {
        ("/v1/carnets", "get"),
        ("/v1/carnets/{carnet_number}", "get"),
        ("/v1/carnets/{carnet_number}/declarations", "post"),
        ("/v1/declarations/{declaration_id}", "get"),
        ("/v1/declarations/{declaration_id}/qr.png", "get"),
        ("/v1/declarations/{declaration_id}/qr.svg", "get"),
        ("/v1/declarations/{declaration_id}/transaction-code", "get"),
        ("/v1/carnets/{carnet_number}/transactions", "get"),
        ("/v1/carnets/{carnet_number}/shares", "post"),
        ("/v1/carnets/{carnet_number}/shares/{representative_id}", "delete"),
    }
    assert doc["components"]["securitySchemes"]["WalletToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": doc["components"]["securitySchemes"]["WalletToken"]["description"],
    }
    for path, method in holder_routes:
        op = doc["paths"][path][method]
        assert op["security"] == [{"WalletToken": []}], (path, method)
        assert "401" in op["responses"], (path, method)
    request = doc["components"]["schemas"]["DeclarationRequest"]["properties"]
    assert "declared_by" not in request and {"intended_use", "closes"} <= set(request)
