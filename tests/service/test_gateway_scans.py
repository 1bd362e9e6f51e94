"""Customs gateway service: scans show a token's claims and record nothing, QR images are decoded, and the carnet's
validity is judged at the gateway (R12)."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from contracts.kinds import DeclarationKind as K
from tests.service.conftest import outbox
from tests.support.gateway import (  # noqa: F401  (gateway: the fixture)
    CH_OFFICER,
    FR_OFFICER,
    NUMBER,
    auth,
    commit,
    commits,
    gateway,
    make_token,
    tamper,
)
from tokens.cose import generate_signing_key
from tokens.qr import qr_png

# --- scans -------------------------------------------------------------------------------------


async def test_scan_shows_the_claims_and_records_nothing(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now, items=(1, 3))
        r = await g.http.post("/v1/scans", json={"token": token}, headers=auth(FR_OFFICER))
        unknown = await g.http.post("/v1/scans", json={"token": token}, headers=auth("nobody"))
        bad = await g.http.post("/v1/scans", json={"token": tamper(token)}, headers=auth(FR_OFFICER))
        rows = await commits(g.service)
        queued = await outbox(g.service)
        # a scanned token can still be committed afterwards
        committed = await commit(g.http, token)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (
        body["carnet_number"],
        body["kind"],
        body["country"],
        body["items"],
        body["sequence"],
        body["carnet_expiry"],
        body["general_list_digest"],
    ) == (NUMBER, "exportation", "FR", [1, 3], 1, "2027-11-21", claims.general_list_digest)
    assert body["transaction_code"].replace("-", "") == claims.transaction_code
    assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"
    assert bad.status_code == 422
    assert rows == [] and queued == []
    assert committed.status_code == 202


async def test_scan_image_decodes_the_qr_and_verifies(gateway, clock):
    async with gateway() as g:
        token, claims = make_token(g.key, clock.now)
        png = qr_png(token)
        r = await g.http.post(
            "/v1/scans/image", files={"image": ("qr.png", png, "image/png")}, headers=auth(FR_OFFICER)
        )
        other_key, _ = make_token(generate_signing_key(), clock.now)
        unknown = await g.http.post(
            "/v1/scans/image", files={"image": ("qr.png", qr_png(other_key), "image/png")}, headers=auth(FR_OFFICER)
        )
        not_image = await g.http.post(
            "/v1/scans/image", files={"image": ("qr.txt", b"hello, customs", "text/plain")}, headers=auth(FR_OFFICER)
        )
        blank = io.BytesIO()
        Image.new("L", (200, 200), 255).save(blank, format="PNG")
        no_code = await g.http.post(
            "/v1/scans/image", files={"image": ("blank.png", blank.getvalue(), "image/png")}, headers=auth(FR_OFFICER)
        )
        rows = await commits(g.service)
        reads = {
            by: g.service.registry.get_sample_value("ata_qr_images_total", {"read_by": by})
            for by in ("0", "none", "unreadable")
        }
        timed = g.service.registry.get_sample_value("ata_qr_image_read_seconds_count")
    assert r.status_code == 200, r.text
    assert r.json()["transaction_code"].replace("-", "") == claims.transaction_code
    assert unknown.status_code == 422 and unknown.json()["detail"]["reason"] == "unknown_kid"
    assert not_image.status_code == 400 and not_image.json()["detail"]["reason"] == "no_qr"
    assert no_code.status_code == 400 and no_code.json()["detail"]["reason"] == "no_qr"
    assert rows == []
    # Both symbols read on the first pass (the unknown key is refused after reading); every upload is timed.
    assert reads == {"0": 2, "none": 1, "unreadable": 1}
    assert timed == 4


async def test_r12_an_importation_on_an_expired_carnet_is_refused_at_the_gateway(gateway, clock):
    async with gateway() as g:
        # the token is still valid (72 h) but the carnet's last valid day has passed in Zurich
        token, _ = make_token(
            g.key, clock.now, kind=K.IMPORTATION, country="CH", carnet_expiry=clock.now.date() - timedelta(days=1)
        )
        r = await commit(g.http, token, CH_OFFICER)
        rows = await commits(g.service)
    assert r.status_code == 422 and r.json()["detail"]["reason"] == "R12"
    assert rows == []


async def test_r12_reimportation_on_an_expired_carnet_is_accepted_at_the_gateway(gateway, clock):
    async with gateway() as g:
        token, _ = make_token(
            g.key, clock.now, kind=K.REIMPORTATION, country="FR", carnet_expiry=clock.now.date() - timedelta(days=30)
        )
        r = await commit(g.http, token)
    assert r.status_code == 202, r.text
