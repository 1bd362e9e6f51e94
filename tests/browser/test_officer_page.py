"""The customs officer's web page (issue 4, item 10) in a real headless chromium, against the real gateway app on a
real port and a real PostgreSQL: log in with password + TOTP (R18), choose an office of one's own country (R18),
read a declaration three ways (QR picture, QR text typed by a reader, transaction code), see every check and the
carnet on file, commit with a final date (R13) or refuse with a reason."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pyotp

from contracts.kinds import DeclarationKind as K
from contracts.messages import ItemLocation, TransactionCancelled
from contracts.topics import CUSTOMS_LEDGER, ISSUANCE_EVENTS
from contracts.txcode import format_transaction_code, new_transaction_code
from tests.browser.conftest import expect, serving
from tests.service.conftest import ADMIN, outbox
from tests.support.gateway import (
    EXPIRY,
    NUMBER,
    PASSWORD,
    auth,
    carnet_issued,
    commit,
    create_officer,
    declared,
    make_token,
    publish,
    sloppy,
)
from tests.support.messages import wire
from tests.vectors.make_token_vectors import tamper_one_item
from tokens.qr import qr_png

SCREENSHOT = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "officer-scan.png"
CHECKS = [
    "signature",
    "expiry",
    "territory",
    "replay",
    "carnet_status",
    "carnet_on_file",
    "items_on_list",
    "digest",
    "countries",
]
#: An office name an administrator could type; the page must show it as text and never run it.
HOSTILE_NAME = 'Zürich Flughafen <img src=x onerror="document.body.dataset.xss=1">'


async def log_in(page: Any, base: str, officer: str, code: str, password: str = PASSWORD) -> None:
    await page.goto(f"{base}/officer/")
    await expect(page.locator("body[data-ready=true]")).to_be_attached()
    await page.get_by_label("Officer ID").fill(officer)
    await page.get_by_label("Password").fill(password)
    await page.get_by_label("Authenticator code").fill(code)
    await page.get_by_role("button", name="Log in").click()


async def logged_in(page: Any, base: str, officer: str, secret: str, at: Any) -> None:
    await log_in(page, base, officer, pyotp.TOTP(secret).at(at))
    await page.wait_for_url(f"{base}/officer/scan")
    await expect(page.locator("body[data-ready=true]")).to_be_attached()


async def rows(table: Any) -> list[list[str]]:
    return await table.locator("tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")


async def facts(dl: Any) -> dict[str, str]:
    pairs = await dl.evaluate(
        "dl => [...dl.querySelectorAll('dt')].map(dt => [dt.textContent, dt.nextElementSibling.textContent])"
    )
    return dict(pairs)


def page_views(g: Any, page: str) -> float:
    return g.service.registry.get_sample_value("ata_officer_page_views_total", {"page": page}) or 0


async def test_r18_r13_log_in_with_totp_choose_an_office_upload_a_qr_see_every_check_and_commit(
    gateway, clock, phone, tmp_path
):
    """The main walk: password + TOTP, an office of the officer's own country only (R18), a QR picture, every check
    passed and the carnet's declared items shown, then a commit with a final date for re-exportation (R13)."""
    async with gateway() as g, serving(g.service.http) as base:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        created = await g.http.post(
            "/v1/admin/offices",
            headers=ADMIN,
            json={
                "office_id": "CH-ZRH-AIR",
                "country": "CH",
                "region": "CH-ZH",
                "name": HOSTILE_NAME,
                "timezone": "Europe/Zurich",
            },
        )
        assert created.status_code == 201, created.text
        secret = await create_officer(g.http, "ch-officer-web", "CH-GVA-AIR")
        token, claims = make_token(g.key, clock.now, kind=K.IMPORTATION, country="CH", items=(1, 3))
        picture = tmp_path / "qr.png"
        picture.write_bytes(qr_png(token))

        page = phone
        await logged_in(page, base, "ch-officer-web", secret, clock.now)
        office = page.get_by_label("I act for")
        options = await office.locator("option").all_text_contents()
        # R18: CH's offices only (the reference data has FR, GB, US, NZ, DE and MX offices too)
        assert [o.split(" — ")[0] for o in options] == ["CH-GVA-AIR", "CH-ZRH-AIR"]
        assert await office.input_value() == "CH-GVA-AIR"
        assert options[1] == "CH-ZRH-AIR — " + HOSTILE_NAME  # shown as text, not parsed
        await office.select_option("CH-ZRH-AIR")

        await page.locator("#image-file").set_input_files(str(picture))
        verdict = page.locator("#verdict")
        await expect(verdict).to_have_text(f"Verified: no mismatch for carnet {NUMBER}.")
        checks = await rows(page.locator("#checks"))
        shown = await page.locator("#checks tbody tr").evaluate_all("rows => rows.map(r => r.dataset.check)")
        carnet = await facts(page.locator("#carnet"))
        declaration = await facts(page.locator("#declaration"))
        items = await rows(page.locator("#carnet-items"))
        mismatches = await page.locator("#mismatches li").all_text_contents()
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.unlink(missing_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)

        await expect(page.get_by_label(re.compile("Final date for re-exportation"))).to_be_visible()
        await page.get_by_label(re.compile("Final date for re-exportation")).fill("2027-03-31")
        await page.get_by_role("button", name="Commit").click()
        outcome = page.locator("#outcome-text")
        await expect(outcome).to_contain_text("Committed: carnet " + NUMBER)
        queued = await outbox(g.service)
        async with g.service.pool.acquire() as conn:
            scans = await conn.fetch("SELECT office_id, outcome FROM audit_log WHERE action = 'scan'")
        xss = await page.evaluate("document.body.dataset.xss")
        images = await page.locator("#office img").count()
        views = (page_views(g, "login"), page_views(g, "scan"))

    assert shown == CHECKS
    assert [c[1] for c in checks] == ["✓ passed"] * len(CHECKS)
    assert mismatches == ["None."]
    assert (declaration["Kind"], declaration["Country"], declaration["Items declared"]) == ("Importation", "CH", "1, 3")
    assert carnet == {
        "Carnet": NUMBER,
        "Home country": "FR",
        "Countries": "CH, GB",
        "Expiry date": "2027-11-21",
        "Status": "active",
    }
    assert items == [["1", "1", "DE"], ["3", "3", "DE"]]  # only the declared items of the carnet
    png = SCREENSHOT.read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    payload = queued[-1]["payload"]
    assert (payload["decision"], payload["office_id"], payload["final_date"], payload["token_id"]) == (
        "committed",
        "CH-ZRH-AIR",
        "2027-03-31",
        str(claims.token_id),
    )
    assert payload["commit_id"] in await outcome.text_content()
    assert [(s["office_id"], s["outcome"]) for s in scans] == [("CH-ZRH-AIR", "valid")]
    assert xss is None and images == 0
    assert views[0] >= 1 and views[1] >= 1
    assert phone.errors == []  # no script error, no CSP violation


async def test_r18_a_wrong_totp_code_and_a_throttled_login_are_shown_and_give_no_session(gateway, clock, phone):
    async with gateway() as g, serving(g.service.http) as base:
        secret = await create_officer(g.http, "fr-officer-web", "FR-CDG-FRET")
        good = pyotp.TOTP(secret).at(clock.now)
        wrong = "000000" if good != "000000" else "111111"
        await log_in(phone, base, "fr-officer-web", wrong)
        error = phone.get_by_role("alert")
        await expect(error).to_contain_text("Wrong officer ID, password or authenticator code")
        after_wrong = (
            phone.url,
            await phone.evaluate("sessionStorage.length"),
            await phone.get_by_label("Authenticator code").input_value(),
        )
        for _ in range(3):  # four failures from this address: its next try waits (the test's clock stands still)
            r = await g.http.post(
                "/v1/sessions", json={"officer_id": "fr-officer-web", "password": "wrong password!", "totp": wrong}
            )
            assert r.status_code == 401
        await phone.get_by_label("Authenticator code").fill(good)
        await phone.get_by_role("button", name="Log in").click()
        await expect(error).to_contain_text(
            "Too many failed logins from this device: too many failed logins; try again in 1 s"
        )
        after_locked = (phone.url, await phone.evaluate("sessionStorage.length"))
    assert after_wrong == (f"{base}/officer/", 0, "")  # no session, and the spent code is cleared
    assert after_locked == (f"{base}/officer/", 0)
    assert phone.errors == []


async def test_a_tampered_qr_typed_by_a_reader_shows_the_refusal_reason_and_offers_no_decision(gateway, clock, phone):
    """External QR readers type the ATA1: text like a keyboard and press Enter; one altered item number breaks the
    signature, and the page says why instead of showing any carnet data."""
    async with gateway() as g, serving(g.service.http) as base:
        secret = await create_officer(g.http, "fr-officer-web", "FR-CDG-FRET")
        token, _ = make_token(g.key, clock.now)
        tampered, _, _ = tamper_one_item(token)
        await logged_in(phone, base, "fr-officer-web", secret, clock.now)
        await phone.get_by_label("Token (starts with ATA1:)").click()
        await phone.keyboard.type(tampered)
        await phone.keyboard.press("Enter")
        await expect(phone.locator("#verdict")).to_have_text("Not verified.")
        problem = await phone.locator("#problem-text").text_content()
        hidden = [await phone.locator(s).is_hidden() for s in ("#verification", "#decide")]
        api = await g.http.post("/v1/scans", json={"token": tampered}, headers=await _auth(g, secret, clock))
    reason = api.json()["detail"]["reason"]
    assert api.status_code == 422 and reason == "bad_signature"
    assert "The signature does not verify" in problem and f"[422 {reason}]" in problem
    assert hidden == [True, True]


async def _auth(g: Any, secret: str, clock: Any) -> dict[str, str]:
    from datetime import timedelta

    clock.now += timedelta(seconds=30)  # the page spent this step's code (RFC 6238: a code works once)
    r = await g.http.post(
        "/v1/sessions",
        json={"officer_id": "fr-officer-web", "password": PASSWORD, "totp": pyotp.TOTP(secret).at(clock.now)},
    )
    return {"Authorization": f"Bearer {r.json()['token']}"}


async def test_the_typed_code_is_looked_up_as_typed_and_the_declaration_refused_with_a_reason(gateway, clock, phone):
    """The typed fallback: a wrong check character is refused before any lookup; lower case and O/I/L confusions are
    accepted; a refusal carries the officer's reason exactly (rendered and sent as text)."""
    reason = "seal broken on crate 2 <script>document.body.dataset.xss=1</script>"
    async with gateway() as g, serving(g.service.http) as base:
        await publish(g.broker, carnet_issued(), ISSUANCE_EVENTS)
        code, token_id = declared(clock.now)
        secret = await create_officer(g.http, "fr-officer-web", "FR-CDG-FRET")
        await logged_in(phone, base, "fr-officer-web", secret, clock.now)
        field = phone.get_by_label("Code as read out or printed")
        wrong_check = code[:-1] + ("0" if code[-1] != "0" else "1")
        await field.fill(wrong_check)
        await field.press("Enter")
        await expect(phone.locator("#problem-text")).to_contain_text("not a valid transaction code")
        await field.fill(sloppy(code))
        await field.press("Enter")
        await expect(phone.locator("#verdict")).to_have_text(f"Verified: no mismatch for carnet {NUMBER}.")
        declaration = await facts(phone.locator("#declaration"))
        checks = {r[0]: r[1] for r in await rows(phone.locator("#checks"))}
        await phone.get_by_label("Refuse").check()
        await expect(phone.get_by_label(re.compile("Final date"))).to_be_hidden()  # exportation: no R13 date
        await phone.get_by_label("Reason for refusal").fill(reason)
        await phone.get_by_role("button", name="Refuse").click()
        await expect(phone.locator("#outcome-text")).to_contain_text(f"Refused: carnet {NUMBER}, items 1, 2")
        queued = await outbox(g.service)
        xss = await phone.evaluate("document.body.dataset.xss")
    assert declaration["Transaction code"] == format_transaction_code(code)
    assert checks["General list digest"] == "– not checked"  # no token scanned: the core declared against its list
    payload = queued[-1]["payload"]
    assert (payload["decision"], payload["refusal_reason"], payload["token_id"], payload["transaction_code"]) == (
        "refused",
        reason,
        str(token_id),
        code,
    )
    assert xss is None


async def test_a_committed_transaction_is_cancelled_with_the_holders_code_and_the_ledgers_decision_shown(
    gateway, clock, phone
):
    """Issue 4 item 8 on the page: a mistyped cancellation code is caught before anything is sent; then the
    cancellation is asked, the page follows it until the ledger (here: the core's message) decides."""
    consent = new_transaction_code()
    async with gateway() as g, serving(g.service.http) as base:
        token, claims = make_token(g.key, clock.now)
        assert (await commit(g.http, token)).status_code == 202
        secret = await create_officer(g.http, "fr-officer-web", "FR-CDG-FRET")
        await logged_in(phone, base, "fr-officer-web", secret, clock.now)
        await phone.get_by_text("Cancel a transaction committed by mistake").click()
        await phone.get_by_label("Transaction code", exact=True).fill(format_transaction_code(claims.transaction_code))
        await phone.get_by_label("Holder's cancellation code").fill(consent[:-1] + ("0" if consent[-1] != "0" else "1"))
        await phone.get_by_label("Reason", exact=True).fill("committed at the wrong gate")
        await phone.get_by_role("button", name="Cancel the transaction").click()
        await expect(phone.locator("#cancel-problem-text")).to_contain_text("not a valid cancellation code")
        await phone.get_by_label("Holder's cancellation code").fill(sloppy(consent))
        await phone.get_by_role("button", name="Cancel the transaction").click()
        await expect(phone.locator("#cancel-outcome-text")).to_contain_text("waiting for the ledger")
        async with g.service.pool.acquire() as conn:
            asked = await conn.fetchrow("SELECT cancellation_id, office_id, reason FROM cancellations")
        body, headers, _ = wire(
            TransactionCancelled(
                cancellation_id=asked["cancellation_id"],
                transaction_id=asked["cancellation_id"],
                carnet_number=NUMBER,
                transaction_code=claims.transaction_code,
                kind=claims.kind,
                country="FR",
                items=list(claims.items),
                sequence=1,
                reason=asked["reason"],
                office_id="FR-CDG-FRET",
                office_timezone="Europe/Paris",
                officer_id="fr-officer-web",
                carnet_expiry=EXPIRY,
                cancelled_at=clock.now,
                item_locations=[ItemLocation(item_number=n, location="home") for n in claims.items],
            ),
            producer="core",
            subject=NUMBER,
        )
        await g.broker.publish(body, CUSTOMS_LEDGER.name, key=NUMBER.encode(), headers=headers)
        await expect(phone.locator("#cancel-outcome-text")).to_contain_text(
            f"Cancelled: transaction {format_transaction_code(claims.transaction_code)} of carnet {NUMBER}"
        )
        queued = [m for m in await outbox(g.service) if m["type"] == "CancellationPosted"]
        seen_by_other_country = await g.http.get(
            f"/v1/cancellations/{asked['cancellation_id']}", headers=auth("ch-officer-0001")
        )
    assert (asked["office_id"], asked["reason"]) == ("FR-CDG-FRET", "committed at the wrong gate")
    assert [m["payload"]["cancellation_code"] for m in queued] == [consent]
    assert seen_by_other_country.status_code == 404
