"""The core's side of the holder's wallet: the wallet key directory (PUT /v1/wallet-keys/me, GET
/v1/wallet-keys/{id}) and the PWA's pages (/wallet/: app shell, service worker, manifest, static files) with the
same Content-Security-Policy discipline as the officer's page. Real PostgreSQL, the core's real app over ASGI."""

from __future__ import annotations

import json
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from core.app import build
from core.wallet_pages import csp, moves
from nga_client import sealing
from notifier.app import build as build_notifier
from tests.support.holder_api import as_party, settings  # noqa: F401  (settings: the fixture with the wallet key)

ROOT = Path(__file__).resolve().parents[2]


def key_text() -> str:
    return sealing.public_key_text(X25519PrivateKey.generate())


def registered(service) -> dict[str, float]:
    return {
        o: service.registry.get_sample_value("ata_wallet_keys_registered_total", {"outcome": o})
        for o in ("created", "replaced", "same")
    }


async def test_r1_a_wallet_registers_its_x25519_key_replaces_it_and_anyone_signed_in_reads_it(settings, clock, running):
    service = build(settings, clock=clock)
    first, second = key_text(), key_text()
    async with running(service):
        async with as_party(service, "hld_1") as holder, as_party(service, "nga-fr") as nga:
            created = await holder.put("/v1/wallet-keys/me", json={"public_key": first})
            same = await holder.put("/v1/wallet-keys/me", json={"public_key": first})
            read = await nga.get("/v1/wallet-keys/hld_1")
            replaced = await holder.put("/v1/wallet-keys/me", json={"public_key": second})
            reread = await nga.get("/v1/wallet-keys/hld_1")
            unknown = await nga.get("/v1/wallet-keys/hld_nobody")
        async with as_party(service, None) as anonymous:
            anonymous_read = await anonymous.get("/v1/wallet-keys/hld_1")
            anonymous_put = await anonymous.put("/v1/wallet-keys/me", json={"public_key": first})
    assert (created.status_code, same.status_code, replaced.status_code) == (201, 200, 200)
    assert read.json()["public_key"] == first and reread.json()["public_key"] == second
    assert read.json()["party_id"] == "hld_1" and read.json()["registered_at"] == clock.now.isoformat().replace(
        "+00:00", "Z"
    )
    assert unknown.status_code == 404 and unknown.json()["detail"]["reasons"][0]["rule"] == "R1"
    assert (anonymous_read.status_code, anonymous_put.status_code) == (401, 401)
    assert registered(service) == {"created": 1, "replaced": 1, "same": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"public_key": "A" * 42},  # 31.5 bytes
        {"public_key": "A" * 44},  # 33 bytes
        {"public_key": "A" * 43},  # the all-zero point
        {"public_key": "B" * 42 + "B"},  # 43 characters whose last one leaves padding bits set
        {"public_key": "+" * 42 + "A"},  # base64, not base64url
        {"public_key": "<script>alert(1)</script>" + "A" * 18},
        {"public_key": "A" * 100_000},
        {"public_key": 123},
        {"public_key": None},
        {},
        {"public_key": "A" * 42 + "E", "holder_id": "hld_2"},  # no field the API does not know (another's id)
    ],
)
async def test_hostile_wallet_keys_are_refused_before_the_database(settings, clock, running, body):
    service = build(settings, clock=clock)
    async with running(service), as_party(service, "hld_1") as holder:
        answer = await holder.put("/v1/wallet-keys/me", json=body)
        listed = await holder.get("/v1/wallet-keys/hld_1")
    # A body past the route's 64 KiB is refused while it arrives (runtime/http_limits.py), the rest by the contract.
    assert answer.status_code == (413 if len(str(body)) > 64 * 1024 else 422), answer.text
    assert listed.status_code == 404


@pytest.mark.parametrize("party", ["a" * 65, "-leading-dash", "hld 1", "hld%2F..%2Fx", "é"])
async def test_a_hostile_party_id_in_the_path_is_refused(settings, clock, running, party):
    service = build(settings, clock=clock)
    async with running(service), as_party(service, "hld_1") as holder:
        answer = await holder.get(f"/v1/wallet-keys/{party}")
    assert answer.status_code in (404, 422)
    assert answer.status_code == 422 or "no wallet key" not in answer.text


async def test_the_wallet_pages_forbid_inline_and_foreign_script_and_name_the_notifier_only_for_connecting(
    settings, clock, running
):
    service = build(
        settings.model_copy(
            update={
                "wallet_sign_in_url": "https://id.example/authorize",
                "wallet_notifier_url": "https://notify.example",
            }
        ),
        clock=clock,
    )
    async with running(service), as_party(service, None) as browser:
        shell = await browser.get("/wallet/")
        sw = await browser.get("/wallet/sw.js")
        manifest = await browser.get("/wallet/manifest.webmanifest")
        script = await browser.get("/wallet/static/wallet.js")
        again = await browser.get("/wallet/static/wallet.js", headers={"If-None-Match": script.headers["etag"]})
        missing = await browser.get("/wallet/static/..%2Fwallet_pages.py")
        views = service.registry.get_sample_value("ata_wallet_page_views_total", {"page": "shell"})
    policy = shell.headers["content-security-policy"]
    assert policy == csp("https://notify.example")
    assert (
        "script-src 'self';" in policy
        and "unsafe" not in policy
        and "connect-src 'self' https://notify.example;" in policy
    )
    assert shell.headers["x-content-type-options"] == "nosniff" and shell.headers["referrer-policy"] == "no-referrer"
    assert 'data-sign-in="https://id.example/authorize"' in shell.text and "<script>" not in shell.text
    assert sw.headers["content-type"].startswith("text/javascript") and '"/wallet/"' in sw.text
    assert (
        json.loads(manifest.text)["scope"] == "/wallet/"
        and manifest.headers["content-type"] == "application/manifest+json"
    )
    assert (script.status_code, again.status_code, missing.status_code) == (200, 304, 404)
    assert views == 1


async def test_without_settings_the_page_says_so_and_connects_to_its_own_origin_only(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service), as_party(service, None) as browser:
        shell = await browser.get("/wallet/")
    assert "connect-src 'self';" in shell.headers["content-security-policy"]
    assert 'data-sign-in=""' in shell.text and 'data-notifier=""' in shell.text


def test_r11_the_moves_the_page_offers_come_from_the_ledger_rules():
    offered = moves()
    assert offered["exportation"] == {"from": "home", "country": "home"}
    assert offered["importation"] == {"from": "exported", "country": "covered"}
    assert offered["reexportation"] == {"from": "abroad", "country": "item"}
    assert offered["reimportation"] == {"from": "exported", "country": "home"}
    assert set(offered) == {
        "exportation",
        "reimportation",
        "importation",
        "reexportation",
        "transit_entry",
        "transit_discharge",
    }


def test_the_wallet_files_are_package_data_and_every_text_is_in_the_one_english_file():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = ROOT / "core" / "wallet"
    files = [
        p.relative_to(package).as_posix()
        for d in ("templates", "static", "texts")
        for p in (package / d).iterdir()
        if p.name != "hpke.js"
    ]  # hpke.js: the npm build's output, not in git
    patterns = globs.get("core.wallet", []) + globs.get("*", [])
    assert [f for f in files if not any(fnmatch(f, p) for p in patterns)] == []
    texts = json.loads((package / "texts" / "en.json").read_text())
    keys_in_code: set[str] = set()
    for name in ("static/wallet.js", "static/carnet.js"):
        keys_in_code |= set(re.findall(r't\("([a-z_]+\.[a-z_.0-9]+)"\)', (package / name).read_text()))
    keys_in_code |= set(re.findall(r"t\['([a-z_]+\.[a-z_.0-9]+)'\]", (package / "templates/wallet.html").read_text()))
    assert keys_in_code - set(texts) == set()  # every literal key the page asks for exists


@pytest.mark.parametrize("origins", ["http://127.0.0.1:8102", ""])
async def test_the_notifier_lets_the_wallet_origin_call_from_a_browser_and_no_other(settings, clock, running, origins):
    service = build_notifier(settings.model_copy(update={"wallet_origins": origins}), clock=clock)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with (
        running(service),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://notifier") as http,
    ):
        wallet = await http.options("/v1/endpoints/webpush", headers={"Origin": "http://127.0.0.1:8102", **preflight})
        foreign = await http.options("/v1/endpoints/webpush", headers={"Origin": "https://evil.example", **preflight})
    allowed = wallet.headers.get("access-control-allow-origin")
    assert allowed == ("http://127.0.0.1:8102" if origins else None)
    assert foreign.headers.get("access-control-allow-origin") is None
    assert "access-control-allow-credentials" not in wallet.headers  # bearer tokens only: no cookies cross origins


def test_the_image_bundles_the_wallet_hpke_library_with_the_locked_npm_packages():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    lock = json.loads((ROOT / "wallet" / "package-lock.json").read_text())
    assert "COPY wallet/package.json wallet/package-lock.json ./" in dockerfile and "npm ci" in dockerfile
    assert "COPY --from=wallet /src/core/wallet/static/hpke.js ./core/wallet/static/hpke.js" in dockerfile
    assert "npm ci --prefix wallet" in makefile
    assert (
        "../core/wallet/static/hpke.js"
        in json.loads((ROOT / "wallet" / "package.json").read_text())["scripts"]["prepare"]
    )
    assert {"node_modules/@hpke/core", "node_modules/esbuild"} <= set(lock["packages"])
