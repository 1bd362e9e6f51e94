"""The holder's wallet (a PWA served by the core) in Debian's headless chromium, on the embedded stack: the five
services as processes, the development sign-in, and the NGA, the officer and the push service played by the test.

One journey: sign in, make the device key (X25519 in WebCrypto, registered with the core), receive a carnet the
NGA sealed for that key with nga_client (Python HPKE), open it on the device (JS HPKE), declare an exportation
(R11: only the moves the rules allow are offered), show the QR and its code, show it again offline from the
device, an officer commits it at the gateway, the notifier's push reaches the service worker and the carnet shows
the items exported; a split importation into Mexico refused with R14; share with a representative (the wallet
re-seals the data key in JS, the test opens it with nga_client) and revoke. Screenshots in var/screenshots/."""

from __future__ import annotations

import asyncio
import json
import os
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from contracts.messages import SealedDocument
from contracts.txcode import format_transaction_code, parse_transaction_code
from core import history
from deploy.local.demo import OFFICE, await_issuance_answer, issuance_request, officer_session, poll, publish_issuance
from deploy.local.identity import mint_wallet_token, private_key_path
from deploy.local.services import SERVICES
from deploy.local.stack import LocalStack
from nga_client import sealing
from nga_client.carnets import PlainCarnet, seal_request
from runtime.settings import DEFAULT_PORTS
from tests.browser.conftest import expect
from tests.support.peers import PushService, free_port
from tests.support.ports import free_port_offset
from tokens.qr import decode_qr_image

pytestmark = pytest.mark.e2e
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
#: The narrowest phone the wallet must work on, and a desktop.
PHONE_360 = {"viewport": {"width": 360, "height": 760}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
IGNORED = (
    "Failed to load resource: the server responded with a status of 4",  # refusals the test provokes
    "Failed to load resource: net::ERR_INTERNET_DISCONNECTED",  # the offline step, on purpose
    # a test's browser context is incognito-like: its pushManager.subscribe fails, and Chrome says so
    "Chrome currently does not support the Push API in incognito mode",
)


#: A description an NGA could send: the page must show it as text and never run it.
HOSTILE = 'Tripod <img src=x onerror="document.body.dataset.xss=1"> s/n FT-88812'
#: Values whose canonical JSON the page must write byte for byte as core/history.py does.
CANONICAL_CASES = [
    {"b": 1, "a": [True, None, "x"], "é": "Zürich", "Z": {"y": -7, "x": ""}},
    {
        "strings": [
            'quote " backslash \\ newline \n tab \t bell \u0007 del \u007f',
            "\u2028 line separator",
            "😀 astral",
        ]
    },
    {"\u00e9": 1, "e": 2, "\U0001f600": 3, "\uffff": 4},
]


async def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"wallet-{name}.png"), full_page=True)


@pytest.fixture(scope="session")
def wallet_built() -> None:
    """The page opens documents with the npm bundle: without it, skip locally and fail in CI."""
    if not (Path(__file__).resolve().parents[2] / "core" / "wallet" / "static" / "hpke.js").is_file():
        hint = "the wallet's HPKE bundle is not built: install npm (Node.js 18+) and run `make install`"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(hint, pytrace=False)
        pytest.skip(hint)


@pytest.fixture
async def stack(wallet_built: None, kafka_bootstrap: str, database_url: str, tmp_path: Path) -> Any:
    offset = free_port_offset()
    async with LocalStack(
        tmp_path / "stack",
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        service_ports={s: DEFAULT_PORTS[s] + offset for s in SERVICES},
        dev_identity_port=free_port(),
        progress=lambda _: None,
    ) as s:
        yield s


async def tab(browser: Any, options: dict[str, Any]) -> Any:
    context = await browser.new_context(**options)
    context.set_default_timeout(30_000)
    page = await context.new_page()
    page.errors = []
    page.on(
        "console",
        lambda m: page.errors.append(m.text) if m.type == "error" and not m.text.startswith(IGNORED) else None,
    )
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return page


async def sign_in(page: Any, wallet_url: str, party: str) -> None:
    await page.goto(wallet_url)
    await expect(page.locator("body[data-ready=true]")).to_be_attached()
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("DEVELOPMENT ONLY")).to_be_visible()
    await page.get_by_label("Wallet id").fill(party)
    await page.get_by_role("button", name="Sign in (development)").click()
    await page.wait_for_url(wallet_url)
    await expect(page.locator("#party")).to_have_text(party)


async def push_registration(cdp: Any, scope: str) -> str:
    found: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def updated(event: dict[str, Any]) -> None:
        for r in event["registrations"]:
            if r["scopeURL"] == scope and not r["isDeleted"] and not found.done():
                found.set_result(r["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", updated)
    await cdp.send("ServiceWorker.enable")
    return await asyncio.wait_for(found, 30)


async def test_holder_journey_sign_in_keys_sealed_carnet_declare_offline_qr_commit_push_refusal_share(
    stack: LocalStack, browser: Any
) -> None:
    core, gateway, notifier = (stack.endpoints[n] for n in ("core", "customs_gateway", "notifier"))
    wallet_url = stack.wallet_url
    holder, rep = "hld_wallet01", "rep_wallet01"
    key_file = private_key_path(stack.data_dir)
    as_nga = {"Authorization": f"Bearer {mint_wallet_token(key_file, 'nga-fr-issuing')}"}
    as_rep = {"Authorization": f"Bearer {mint_wallet_token(key_file, rep)}"}
    page = await tab(browser, PHONE_360)
    await page.context.grant_permissions(["notifications"], origin=core)
    async with httpx.AsyncClient(timeout=15) as http, PushService(lambda: datetime.now(UTC)) as push:
        # --- sign in (development identity provider) and make the device key ---------------------------------
        await page.goto(wallet_url)
        await expect(page.locator("body[data-ready=true]")).to_be_attached()
        await shot(page, "1-sign-in")
        await sign_in(page, wallet_url, holder)
        await page.get_by_role("button", name="Create my key").click()
        await expect(page.locator("#keys-ready")).to_be_visible()
        r = await http.get(f"{core}/v1/wallet-keys/{holder}", headers=as_nga)
        assert r.status_code == 200, r.text
        holder_key = r.json()["public_key"]
        fingerprint = await page.locator("#keys-fingerprint").text_content()
        stored = await page.evaluate("""async () => {
            const db = await new Promise((ok) => { const r = indexedDB.open('ata-wallet', 1); r.onsuccess = () => ok(r.result); });
            const entry = await new Promise((ok) => { const r = db.transaction('keys').objectStore('keys').get('hld_wallet01');
                                                      r.onsuccess = () => ok(r.result); });
            return {extractable: entry.keyPair.privateKey.extractable, algorithm: entry.keyPair.privateKey.algorithm.name,
                    publicKey: entry.publicKey}; }""")
        assert stored == {"extractable": False, "algorithm": "X25519", "publicKey": holder_key}

        # --- the NGA seals a carnet for that key (Python HPKE) ----------------------------------------------------
        plain = issuance_request(date.today(), holder, countries=("CH", "GB", "MX"))
        goods = [
            plain.goods[0].model_copy(update={"description": "Kamera „Zürich“ — s/n K1 ✓"}),
            plain.goods[1],
            plain.goods[2].model_copy(update={"description": HOSTILE}),
        ]
        plain = plain.model_copy(update={"goods": goods})  # non-ASCII: the digest is over ASCII-escaped JSON
        await publish_issuance(
            stack.kafka_bootstrap, seal_request(PlainCarnet(carnet=plain, holder_public_key=holder_key))
        )
        kind, answer = await await_issuance_answer(stack.kafka_bootstrap, plain.request_id)
        assert kind == "CarnetIssued", answer
        number = answer["carnet_number"]
        as_holder = {"Authorization": f"Bearer {mint_wallet_token(key_file, holder)}"}
        await poll(lambda: known(http, f"{core}/v1/carnets/{number}", as_holder), "the core to record the carnet")

        # --- the carnet opened on the device ------------------------------------------------------------------
        await page.get_by_role("button", name="Refresh").click()
        await page.get_by_role("button", name=f"Open {number}").click()
        await expect(page.locator("#carnet")).to_have_attribute("data-loaded", f"{number}:home,home,home")
        facts = await dl(page.locator("#carnet-facts"))
        assert facts["Document"] == "Opened on this device; general list digest checked"
        assert facts["Holder"] == plain.holder.name
        items = await rows(page.locator("#items"))
        assert [r[:4] for r in items] == [
            [str(g.item_number), g.description, str(g.quantity), "at home"] for g in plain.goods
        ]
        await expect(page.locator("#chain")).to_have_attribute("data-verified", "true")
        assert await page.evaluate("document.body.dataset.xss") is None and await page.locator("main img").count() == 0
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360  # nothing wider than the phone
        kinds = await page.get_by_label("Kind of crossing").locator("option").evaluate_all("o => o.map(x => x.value)")
        assert kinds == ["exportation"]  # R11: every item is at home, so only an exportation is offered
        await shot(page, "2-carnet")

        # --- declare an exportation: the QR and the typed code ------------------------------------------------
        await page.get_by_label("Item 1 —").check()
        await page.get_by_label("Item 2 —").check()
        await page.get_by_role("button", name="Declare").click()
        dialog = page.get_by_role("dialog")
        await expect(dialog).to_be_visible()
        code = await page.locator("#qr-code").text_content()
        await expect(page.locator("#qr-validity")).to_contain_text("Stored on this device")
        await shot(page, "3-qr")
        token = decode_qr_image(await page.locator("#qr-image").screenshot())
        assert len(token) == 1 and token[0].startswith("ATA1:")
        assert format_transaction_code(parse_transaction_code(code)) == code  # grouped, with a valid check symbol
        await page.get_by_role("button", name="Close").click()

        # --- offline: the app shell from the service worker, the token from the device --------------------------
        await page.wait_for_function("navigator.serviceWorker.controller !== null")
        await page.context.set_offline(True)
        await page.reload()
        await expect(page.locator("#offline")).to_be_visible()
        await page.get_by_role("button", name="Show QR").click()
        await expect(page.locator("#qr-validity")).to_contain_text("Offline: showing the token stored on this device")
        assert await page.locator("#qr-code").text_content() == code
        assert decode_qr_image(await page.locator("#qr-image").screenshot()) == token
        await shot(page, "4-offline-qr")
        await page.context.set_offline(False)
        await page.keyboard.press("Escape")  # the dialog closes from the keyboard too
        await expect(page.get_by_role("dialog")).to_be_hidden()
        await page.reload()
        await expect(page.locator("#party")).to_have_text(holder)

        # --- push: the wallet asks; headless chromium has no push service, so the test's push service stands in --
        await page.get_by_role("button", name="Get confirmations on this device").click()
        await expect(page.locator("#push-state")).not_to_be_empty()
        _, browser_json = push.subscribe()
        r = await http.post(
            f"{notifier}/v1/endpoints/webpush",
            json=browser_json,
            headers={"Authorization": f"Bearer {mint_wallet_token(key_file, holder, 'ata-notifier')}"},
        )
        assert r.status_code == 201, r.text
        cdp = await page.context.new_cdp_session(page)
        registration = await push_registration(cdp, wallet_url)

        # --- an officer commits it at the gateway ----------------------------------------------------------------
        officer = await officer_session(http, gateway, stack.admin_token, "fr-officer-wallet", OFFICE)
        r = await http.post(f"{gateway}/v1/commits", headers=officer, json={"token": token[0], "decision": "committed"})
        assert r.status_code == 202, r.text
        await poll(lambda: asyncio.sleep(0, bool(push.received)), "the notifier's push", timeout=60)
        message = push.received[0]["message"]
        assert (message["type"], message["data"]["carnet_number"]) == ("transaction.committed", number)
        await page.get_by_role("button", name=f"Open {number}").click()
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": core, "registrationId": registration, "data": json.dumps(message)},
        )
        await expect(page.locator("#notice")).to_contain_text(f"Customs committed: {number}")
        await expect(page.locator("#items tbody tr[data-location=exported]")).to_have_count(2)
        decided = await rows(page.locator("#transactions"))
        assert [r[:3] for r in decided] == [["Exportation (leaving the home country) · FR · 1, 2", "committed", OFFICE]]
        assert format_transaction_code(parse_transaction_code(decided[0][4])) == decided[0][4]  # the cancellation code
        await expect(page.locator("#stored")).to_be_hidden()  # a committed token is not kept: it would be refused
        await expect(page.locator("#chain")).to_contain_text("History chain verified on this device (records: 1; head ")
        await shot(page, "5-confirmed")
        # with no wallet page open, the service worker keeps the confirmation for the next time the wallet opens
        await page.goto(f"{core}/health")  # same origin, outside the wallet: no wallet page listens
        await cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": core, "registrationId": registration, "data": json.dumps(message)},
        )
        await page.wait_for_function("""() => new Promise((done) => {
            const r = indexedDB.open('ata-wallet', 1);
            r.onsuccess = () => { const q = r.result.transaction('confirmations').objectStore('confirmations').count();
                                  q.onsuccess = () => done(q.result === 1); }; })""")
        await page.goto(wallet_url)
        await expect(page.locator("#notice")).to_contain_text(f"Customs committed: {number}")
        await page.get_by_role("button", name=f"Open {number}").click()

        # --- a refusal: a split importation into Mexico (R14) ------------------------------------------------------
        await page.get_by_label("Kind of crossing").select_option("importation")
        await page.get_by_label("Country").select_option("MX")
        await page.get_by_label("Item 1 —").check()
        await page.get_by_label("Intended use of the goods (importation)").fill("Documentary shoot in Oaxaca")
        await page.get_by_role("button", name="Declare").click()
        refusal = page.locator("#declare-reasons li[data-rule=R14]")
        await expect(refusal).to_contain_text("This country does not accept part of a shipment")
        await shot(page, "6-refused")

        # --- share with a representative (the data key re-sealed on the device), then revoke -------------------------
        rep_key = X25519PrivateKey.generate()
        r = await http.put(
            f"{core}/v1/wallet-keys/me", json={"public_key": sealing.public_key_text(rep_key)}, headers=as_rep
        )
        assert r.status_code == 201, r.text
        await page.get_by_label("Representative's wallet id").fill(rep)
        await page.get_by_role("button", name="Share", exact=True).click()
        await expect(page.locator("#notice")).to_have_text(f"Shared with {rep}.")
        r = await http.get(f"{core}/v1/carnets/{number}/document", headers=as_rep)
        assert r.status_code == 200, r.text
        sealed = r.json()
        opened = sealing.open_document(
            SealedDocument.model_validate(sealed["document"]),
            rep,
            rep_key,
            nga=sealed["nga"],
            request_id=sealed["request_id"],
            digest=sealed["general_list_digest"],
        )
        assert opened == plain.model_dump(mode="json")
        await shot(page, "7-shared")
        await page.get_by_role("button", name=f"Revoke {rep}").click()
        await expect(page.locator("#notice")).to_have_text(f"No longer shared with {rep}.")
        assert (await http.get(f"{core}/v1/carnets/{number}", headers=as_rep)).status_code == 404

        # --- a representative's own wallet: key made in that browser, the share re-sealed in the holder's --------------
        agent = await tab(browser, PHONE_360)
        await sign_in(agent, wallet_url, "rep_wallet02")
        await agent.get_by_role("button", name="Create my key").click()
        await expect(agent.locator("#keys-ready")).to_be_visible()
        await page.get_by_label("Representative's wallet id").fill("rep_wallet02")
        await page.get_by_role("button", name="Share", exact=True).click()
        await expect(page.locator("#notice")).to_have_text("Shared with rep_wallet02.")
        await agent.get_by_role("button", name="Refresh").click()
        await agent.get_by_role("button", name=f"Open {number}").click()
        await expect(agent.locator("#carnet")).to_have_attribute("data-loaded", re.compile(f"^{number}:"))
        agent_facts = await dl(agent.locator("#carnet-facts"))
        assert (agent_facts["Role"], agent_facts["Document"]) == (
            "representative",
            "Opened on this device; general list digest checked",
        )
        await expect(agent.locator("#share-box")).to_be_hidden()  # only the holder shares (R1)
        assert agent.errors == []
        await agent.context.close()

        # --- a history altered in the ledger's table fails the device's check ---------------------------------------
        canon = await page.evaluate(
            """async (values) => {
            const { canonical } = await import('/wallet/static/chain.js');
            return values.map(canonical); }""",
            CANONICAL_CASES,
        )
        assert canon == [history.canonical(v).decode() for v in CANONICAL_CASES]
        conn = await asyncpg.connect(stack.database_url)
        try:  # someone with the table owner's rights, bypassing the append-only trigger
            async with conn.transaction():
                await conn.execute("ALTER TABLE core.history DISABLE TRIGGER history_append_only")
                await conn.execute(
                    "UPDATE core.history SET record = jsonb_set(record, '{items}', '[1]')"
                    " WHERE carnet_number = $1 AND position = 1",
                    number,
                )
                await conn.execute("ALTER TABLE core.history ENABLE TRIGGER history_append_only")
        finally:
            await conn.close()
        await page.get_by_role("button", name="Back to my carnets").click()
        await page.get_by_role("button", name=f"Open {number}").click()
        await expect(page.locator("#chain")).to_have_attribute("data-verified", "false")
        await expect(page.locator("#chain")).to_have_text(
            "History chain does NOT verify from position 1 (record altered)."
        )

        # --- the same wallet on a desktop ---------------------------------------------------------------------------
        desk = await tab(browser, DESKTOP)
        await sign_in(desk, wallet_url, holder)
        await desk.get_by_role("button", name=f"Open {number}").click()
        await expect(desk.locator("#carnet-facts")).to_contain_text(
            "Sealed for your key on another device"
        )  # no key on this device
        await shot(desk, "8-desktop")
        await desk.context.close()
    assert page.errors == []  # no script error, no CSP violation
    await page.context.close()
    assert re.fullmatch(r"[0-9a-f]{4}( [0-9a-f]{4}){3}", fingerprint)


async def known(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> bool:
    return (await http.get(url, headers=headers)).status_code == 200


async def dl(node: Any) -> dict[str, str]:
    return dict(
        await node.evaluate(
            "dl => [...dl.querySelectorAll('dt')].map(dt => [dt.textContent, dt.nextElementSibling.textContent])"
        )
    )


async def rows(table: Any) -> list[list[str]]:
    return await table.locator("tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
