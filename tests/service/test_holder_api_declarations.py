"""The holder's HTTP API (issue 3, item 9): declarations by the authenticated party, with their QR images
and transaction code.

Real PostgreSQL, the core's real handlers, HTTP through ASGI (no lifespan: the test opens the database).
Tokens are minted at the injected clock, so nothing here depends on the wall clock."""

from __future__ import annotations

import re
from typing import Any

from contracts.token import DeclarationClaims
from contracts.topics import CUSTOMS_COMMITS
from core.app import build
from tests.support.holder_api import as_party, settings  # noqa: F401  (settings: the fixture)
from tests.support.holder_api_steps import NUMBER, issue, post_declaration, with_key
from tests.support.messages import customs_commit, wire
from tokens.cose import SigningKey, verify_token
from tokens.qr import decode_qr_image, qr_version


def claims_of(token: str, key: SigningKey, service: Any) -> DeclarationClaims:
    return DeclarationClaims.from_cwt(
        verify_token(token, lambda kid: key.public_key if kid == key.kid else None, service.clock())
    )


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
            with_use = await post_declaration(
                holder, kind="importation", country="CH", intended_use="film shoot in Geneva"
            )
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
