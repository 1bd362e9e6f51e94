"""What the officer's web page needs from the gateway (issue 4, item 10), without a browser: the page's security
headers and assets, the offices an officer may act for (R18, `X-Office-Id`), and the token a picture held."""
# ruff: noqa: F811  (the `gateway` fixture is imported from tests.support.gateway and used as a parameter)

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tests.service.conftest import ADMIN
from tests.support.gateway import (  # noqa: F401  (gateway is a fixture)
    FR_OFFICER,
    auth,
    gateway,
    make_token,
)
from tokens.qr import qr_png

ORLY = {
    "office_id": "FR-ORY-FRET",
    "country": "FR",
    "region": "FR-IDF",
    "name": "Orly Fret",
    "timezone": "Europe/Paris",
}


async def test_the_pages_forbid_inline_and_foreign_script_and_are_not_cached(gateway):
    async with gateway() as g:
        pages = [await g.http.get(p) for p in ("/officer/", "/officer/scan")]
        script = await g.http.get("/officer/static/officer.js")
        again = await g.http.get("/officer/static/officer.js", headers={"If-None-Match": script.headers["etag"]})
        missing = await g.http.get("/officer/static/..%2Fweb.py")
        views = g.service.registry.get_sample_value("ata_officer_page_views_total", {"page": "scan"})
        schema = (await g.http.get("/openapi.json")).json()
    for r in pages:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
        assert csp["script-src"] == "'self'" and csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'"
        assert r.headers["cache-control"] == "no-store" and r.headers["x-content-type-options"] == "nosniff"
        # every script is a file of this origin: an inline one would not run under the policy anyway
        assert re.findall(r"<script[^>]*>", r.text) == [
            re.search(r'<script src="/officer/static/officer\.js\?v=\w+" defer>', r.text).group(0)
        ]
        # the script writes text only: no HTML parsing of API values, no code from strings
        assert (
            re.findall(r"\.(?:inner|outer)HTML|insertAdjacentHTML|document\.write|\beval\(|new Function", script.text)
            == []
        )
    assert script.headers["content-type"].startswith("text/javascript") and again.status_code == 304
    assert missing.status_code == 404
    assert views == 1
    assert not any(p.startswith("/officer") for p in schema["paths"])  # pages are not part of the API document


async def test_r18_an_officer_acts_for_any_office_of_their_country_and_no_other(gateway, clock):
    async with gateway() as g:
        assert (await g.http.post("/v1/admin/offices", headers=ADMIN, json=ORLY)).status_code == 201
        token, _ = make_token(g.key, clock.now)
        me = await g.http.get("/v1/sessions/current", headers=auth())
        acting = await g.http.get("/v1/sessions/current", headers={**auth(), "X-Office-Id": "FR-ORY-FRET"})
        at_orly = await g.http.post(
            "/v1/commits",
            json={"token": token, "decision": "committed"},
            headers={**auth(), "X-Office-Id": "FR-ORY-FRET"},
        )
        abroad = await g.http.post("/v1/scans", json={"token": token}, headers={**auth(), "X-Office-Id": "CH-GVA-AIR"})
        unknown = await g.http.post("/v1/scans", json={"token": token}, headers={**auth(), "X-Office-Id": "FR-NOWHERE"})
        malformed = await g.http.post("/v1/scans", json={"token": token}, headers={**auth(), "X-Office-Id": "fr cdg"})
        async with g.service.pool.acquire() as conn:
            audit = await conn.fetch(
                "SELECT action, office_id, outcome FROM audit_log WHERE officer_id = $1"
                " AND action IN ('commit', 'act_for_office') ORDER BY id",
                FR_OFFICER,
            )
    assert me.status_code == 200, me.text
    body = me.json()
    assert (body["officer_id"], body["country"], body["home_office_id"], body["acting_office_id"]) == (
        FR_OFFICER,
        "FR",
        "FR-CDG-FRET",
        "FR-CDG-FRET",
    )
    assert [o["office_id"] for o in body["offices"]] == ["FR-CDG-FRET", "FR-ORY-FRET"]
    assert (acting.json()["home_office_id"], acting.json()["acting_office_id"]) == ("FR-CDG-FRET", "FR-ORY-FRET")
    assert at_orly.status_code == 202 and at_orly.json()["office_id"] == "FR-ORY-FRET"
    assert abroad.status_code == unknown.status_code == 403
    assert abroad.json()["detail"]["reason"] == "office_not_allowed"
    assert malformed.status_code == 422
    assert [tuple(r) for r in audit] == [
        ("commit", "FR-ORY-FRET", "posted"),
        ("act_for_office", "CH-GVA-AIR", "refused"),
        ("act_for_office", "FR-NOWHERE", "refused"),
    ]


async def test_a_scanned_picture_answers_the_token_it_held_so_the_page_can_commit_it(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        by_picture = await g.http.post(
            "/v1/scans/image", files={"image": ("qr.png", qr_png(token), "image/png")}, headers=auth()
        )
        by_text = await g.http.post("/v1/scans", json={"token": token}, headers=auth())
    assert by_picture.status_code == 200, by_picture.text
    assert by_picture.json()["token"] == token
    assert by_text.json()["token"] is None  # the client sent it: nothing to echo


def test_the_page_templates_and_assets_are_package_data_so_a_wheel_install_serves_them():
    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    package = root / "customs_gateway"
    files = [p.relative_to(package).as_posix() for d in ("templates", "static") for p in (package / d).iterdir()]
    patterns = globs.get("customs_gateway", []) + globs.get("*", [])
    assert {"templates/login.html", "templates/scan.html", "static/officer.js", "static/officer.css"} <= set(files)
    assert [f for f in files if not any(fnmatch(f, p) for p in patterns)] == []
