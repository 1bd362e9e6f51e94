"""Officer accounts, logins with password + TOTP, sessions, CSV import and the audit log (R18)."""
# ruff: noqa: F811  (the `gateway` fixture is imported from tests.support.gateway and used as a parameter)

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp

from contracts.kinds import DeclarationKind as K
from customs_gateway.app import build
from tests.service.conftest import ADMIN
from tests.support.gateway import (  # noqa: F401  (gateway is a fixture)
    CH_OFFICER,
    FR_OFFICER,
    PASSWORD,
    SECRETS,
    audit,
    auth,
    client,
    commit,
    create_officer,
    gateway,
    log_in,
    make_token,
)

OTHER = "fr-officer-0099"


async def attempt(g: Any, officer: str, password: str, code: str) -> Any:
    return await g.http.post("/v1/sessions", json={"officer_id": officer, "password": password, "totp": code})


def logins(g: Any, outcome: str) -> float:
    return g.service.registry.get_sample_value("ata_officer_logins_total", {"outcome": outcome}) or 0


async def test_login_with_password_and_totp_gives_a_session_that_works_until_logout(gateway, clock):
    async with gateway() as g:
        secret = await create_officer(g.http, OTHER, "FR-CDG-FRET")
        r = await attempt(g, OTHER, PASSWORD, pyotp.TOTP(secret).at(clock.now))
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        token, _ = make_token(g.key, clock.now)
        scan = await g.http.post("/v1/scans", json={"token": token}, headers=headers)
        out = await g.http.delete("/v1/sessions/current", headers=headers)
        after = await g.http.post("/v1/scans", json={"token": token}, headers=headers)
        async with g.service.pool.acquire() as conn:
            stored = await conn.fetchval("SELECT password_hash FROM officers WHERE officer_id = $1", OTHER)
        entries = await audit(g, officer_id=OTHER)
    assert r.status_code == 201, r.text
    assert scan.status_code == 200 and out.status_code == 204
    assert after.status_code == 401 and after.headers["www-authenticate"] == "Bearer"
    assert stored.startswith("scrypt$16384$8$1$") and PASSWORD not in stored
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("officer_created", "success"),
        ("login", "success"),
        ("scan", "valid"),
        ("logout", "success"),
    ]


async def test_wrong_password_wrong_totp_and_a_reused_code_are_refused(gateway, clock):
    async with gateway() as g:
        secret = await create_officer(g.http, OTHER, "FR-CDG-FRET")
        code = pyotp.TOTP(secret).at(clock.now)
        wrong_password = await attempt(g, OTHER, "not the password", code)
        wrong_code = await attempt(g, OTHER, PASSWORD, "000000" if code != "000000" else "111111")
        unknown = await attempt(g, "nobody", PASSWORD, code)
        ok = await attempt(g, OTHER, PASSWORD, code)
        reused = await attempt(g, OTHER, PASSWORD, code)
        clock.now += timedelta(seconds=30)
        next_code = await attempt(g, OTHER, PASSWORD, pyotp.TOTP(secret).at(clock.now))
        counts = {o: logins(g, o) for o in ("bad_password", "bad_totp", "totp_reused", "unknown_officer")}
    assert [r.status_code for r in (wrong_password, wrong_code, unknown, reused)] == [401] * 4
    assert ok.status_code == 201 and next_code.status_code == 201
    assert counts == {"bad_password": 1, "bad_totp": 1, "totp_reused": 1, "unknown_officer": 1}


async def test_no_or_an_expired_session_is_401_on_scans_and_commits(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(g.key, clock.now)
        none = [
            await g.http.post(p, json={"token": token, "decision": "committed"}) for p in ("/v1/scans", "/v1/commits")
        ]
        garbage = await commit(g.http, token, "nobody")
        clock.now += timedelta(hours=8)
        expired = [
            await g.http.post(p, json={"token": token, "decision": "committed"}, headers=auth(FR_OFFICER))
            for p in ("/v1/scans", "/v1/commits")
        ]
        image = await g.http.post(
            "/v1/scans/image", files={"image": ("qr.png", b"x", "image/png")}, headers=auth(FR_OFFICER)
        )
    for r in (*none, garbage, *expired, image):
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"


async def test_an_fr_officer_cannot_commit_a_ch_token_r18_and_everything_is_audited(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH")
        scanned = await g.http.post("/v1/scans", json={"token": token}, headers=auth(FR_OFFICER))
        refused = await commit(g.http, token, FR_OFFICER)
        done = await commit(g.http, token, CH_OFFICER)
        by_carnet = await audit(g, carnet_number=claims.carnet_number)
        logins_ = [e for e in await audit(g) if e["action"] == "login"]
    # R18: another country's declaration is neither shown nor committed, and both attempts are audited
    assert scanned.status_code == 403 and scanned.json()["detail"]["reason"] == "wrong_country"
    assert "items" not in scanned.json()["detail"]
    assert refused.status_code == 403 and refused.json()["detail"]["reason"] == "wrong_country"
    assert done.status_code == 202
    assert [(e["officer_id"], e["action"], e["outcome"], e["office_id"]) for e in by_carnet] == [
        (FR_OFFICER, "scan", "wrong_country", "FR-CDG-FRET"),
        (FR_OFFICER, "commit", "wrong_country", "FR-CDG-FRET"),
        (CH_OFFICER, "commit", "posted", "CH-GVA-AIR"),
    ]
    assert by_carnet[2]["detail"]["commit_id"] == done.json()["commit_id"]
    assert {(e["officer_id"], e["outcome"]) for e in logins_} == {(FR_OFFICER, "success"), (CH_OFFICER, "success")}


CSV_OK = "officer_id,office_id,password\nfr-imp-1,FR-CDG-FRET,long enough password\nch-imp-1,CH-GVA-AIR,another long password\n"


async def test_csv_import_is_all_or_nothing_with_a_per_row_report(gateway, clock):
    async with gateway() as g:
        bad = (
            f"officer_id,office_id,password\nfr-imp-1,FR-CDG-FRET,long enough password\n"
            f"fr-imp-1,FR-CDG-FRET,long enough password\nx-2,XX-NOWHERE,short\n{FR_OFFICER},FR-CDG-FRET,"
            f"long enough password\nonly,two\n"
        )
        refused = await g.http.post(
            "/v1/admin/officers/import", content=bad, headers={**ADMIN, "Content-Type": "text/csv"}
        )
        async with g.service.pool.acquire() as conn:
            after_refusal = await conn.fetchval("SELECT count(*) FROM officers")
        ok = await g.http.post(
            "/v1/admin/officers/import", content=CSV_OK, headers={**ADMIN, "Content-Type": "text/csv"}
        )
        again = await g.http.post(
            "/v1/admin/officers/import", content=CSV_OK, headers={**ADMIN, "Content-Type": "text/csv"}
        )
        enrolled = {o["officer_id"]: o for o in ok.json()["officers"]}
        login = await log_in(
            g.http, "ch-imp-1", enrolled["ch-imp-1"]["totp_secret"], clock.now, password="another long password"
        )
        too_many = await g.http.post(
            "/v1/admin/officers/import",
            headers={**ADMIN, "Content-Type": "text/csv"},
            content="officer_id,office_id,password\n" + "a,b,c\n" * 5001,
        )
        no_admin = await g.http.post("/v1/admin/officers/import", content=CSV_OK, headers={"Content-Type": "text/csv"})
    assert refused.status_code == 422
    assert after_refusal == 2  # the fixture's two officers only: nothing half-imported
    assert refused.json()["detail"]["rows"] == [
        {"row": 3, "officer_id": "fr-imp-1", "errors": ["duplicate officer_id (also on line 2)"]},
        {
            "row": 4,
            "officer_id": "x-2",
            "errors": ["unknown office 'XX-NOWHERE'", "password shorter than 12 characters"],
        },
        {"row": 5, "officer_id": FR_OFFICER, "errors": ["officer_id already exists"]},
        {"row": 6, "officer_id": "only", "errors": ["malformed row: 2 fields, expected 3"]},
    ]
    assert ok.status_code == 201 and ok.json()["imported"] == 2
    assert all(o["totp_uri"].startswith("otpauth://totp/ATA%20customs:") for o in ok.json()["officers"])
    assert again.status_code == 422 and {r["row"] for r in again.json()["detail"]["rows"]} == {2, 3}
    assert login["Authorization"].startswith("Bearer ")
    assert too_many.status_code == 422 and "5000" in too_many.json()["detail"]["message"]
    assert no_admin.status_code == 401


async def test_admin_offices_and_admin_disabled_without_a_token(gateway, settings, clock, running):
    async with gateway() as g:
        created = await g.http.post(
            "/v1/admin/offices",
            headers=ADMIN,
            json={
                "office_id": "FR-ORY-FRET",
                "country": "FR",
                "region": "FR-IDF",
                "name": "Orly Fret",
                "timezone": "Europe/Paris",
            },
        )
        bad_zone = await g.http.post(
            "/v1/admin/offices",
            headers=ADMIN,
            json={"office_id": "FR-XXX", "country": "FR", "region": "FR-IDF", "name": "x", "timezone": "Mars/Olympus"},
        )
        listed = await g.http.get("/v1/admin/offices", headers=ADMIN)
    assert created.status_code == 201, created.text
    assert bad_zone.status_code == 422 and bad_zone.json()["detail"]["reason"] == "unknown_timezone"
    assert "FR-ORY-FRET" in {o["office_id"] for o in listed.json()}
    service = build(settings.model_copy(update={"gateway_admin_token": None}), clock=clock)
    async with running(service), client(service) as http:
        r = await http.get("/v1/admin/offices", headers=ADMIN)
    assert r.status_code == 503 and r.json()["detail"]["message"] == "administration disabled"
