"""The development-only wallet sign-in (deploy/local/dev_identity.py): it runs on the embedded stack only, redirects
only to the stack's wallet, bounds every input, and its token is one the core and the notifier verify."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from deploy.local.dev_identity import DevIdentityRefused, DevIdentityServer, app
from deploy.local.identity import ensure_wallet_issuer, public_key_path
from deploy.local.stack import LocalStack
from tokens.wallet_auth import WalletVerifier, load_public_key

WALLET = "http://127.0.0.1:8102/wallet/"
NOW = datetime(2026, 11, 22, 8, 30, tzinfo=UTC)
STATE = "s" * 22


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    ensure_wallet_issuer(tmp_path)
    return tmp_path


def client(data_dir: Path) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(data_dir, [WALLET], clock=lambda: NOW)), base_url="http://127.0.0.1:8109"
    )


async def test_signing_in_redirects_to_the_wallet_with_a_token_the_core_and_the_notifier_accept(data_dir):
    async with client(data_dir) as http:
        form = await http.get("/authorize", params={"redirect_uri": WALLET, "state": STATE})
        answer = await http.post("/authorize", data={"wallet_id": "hld_7f3a9c", "redirect_uri": WALLET, "state": STATE})
    assert form.status_code == 200 and "DEVELOPMENT ONLY" in form.text
    assert "form-action 'self' http://127.0.0.1:8102" in form.headers["content-security-policy"]
    assert answer.status_code == 303
    target = urlsplit(answer.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == WALLET and target.query == ""
    fragment = parse_qs(target.fragment)
    assert fragment["state"] == [STATE] and fragment["token_type"] == ["Bearer"]
    key = load_public_key(public_key_path(data_dir))
    for audience in ("ata-core", "ata-notifier"):
        assert WalletVerifier(key, audience, lambda: NOW).verify(fragment["access_token"][0]) == "hld_7f3a9c"


@pytest.mark.parametrize(
    "fields",
    [
        {"redirect_uri": "https://evil.example/wallet/"},
        {"redirect_uri": WALLET + "x"},
        {"redirect_uri": WALLET + "#a"},
        {"state": "short"},
        {"state": "s" * 129},
        {"state": "<script>x</script>"},
        {"wallet_id": "-dash"},
        {"wallet_id": "a" * 65},
        {"wallet_id": "hld 1"},
        {"wallet_id": ""},
    ],
)
async def test_hostile_sign_ins_are_refused_and_mint_nothing(data_dir, fields):
    body = {"wallet_id": "hld_1", "redirect_uri": WALLET, "state": STATE, **fields}
    async with client(data_dir) as http:
        answer = await http.post("/authorize", data=body)
        form = await http.get("/authorize", params={k: v for k, v in body.items() if k != "wallet_id"})
    assert answer.status_code in (400, 422) and "location" not in answer.headers
    assert "access_token" not in answer.text
    if "wallet_id" not in fields:
        assert form.status_code in (400, 422)


def test_it_refuses_to_run_off_the_embedded_stack(tmp_path):
    with pytest.raises(DevIdentityRefused, match="embedded stack only"):
        app(tmp_path / "no-identity-here", [WALLET])  # no stack-made key: not the embedded stack
    ensure_wallet_issuer(tmp_path)
    with pytest.raises(DevIdentityRefused, match="loopback"):
        DevIdentityServer(tmp_path, [WALLET], host="0.0.0.0")
    with pytest.raises(DevIdentityRefused, match="wallet URLs"):
        app(tmp_path, [])
    with pytest.raises(DevIdentityRefused, match="another identity provider"):
        LocalStack(
            tmp_path / "stack",
            kafka_bootstrap="127.0.0.1:1",
            database_url="postgresql://x@127.0.0.1:1/x",
            env={"ATA_WALLET_ISSUER_PUBLIC_KEY_PATH": "/etc/ata/real-provider.pub.pem"},
            dev_identity_port=8109,
        )


def test_the_stack_points_the_wallet_at_the_sign_in_and_the_notifier_lets_the_wallet_call(tmp_path):
    stack = LocalStack(
        tmp_path / "stack",
        kafka_bootstrap="127.0.0.1:1",
        database_url="postgresql://x@127.0.0.1:1/x",
        dev_identity_port=18109,
    )
    core, notifier = stack.services["core"], stack.services["notifier"]
    assert core.extra_env["ATA_WALLET_SIGN_IN_URL"] == "http://127.0.0.1:18109/authorize"
    assert core.extra_env["ATA_WALLET_NOTIFIER_URL"] == notifier.base_url
    assert notifier.extra_env["ATA_WALLET_ORIGINS"] == core.base_url
    assert stack.wallet_redirects == [f"{core.base_url}/wallet/"] == [stack.wallet_url]
    plain = LocalStack(tmp_path / "plain", kafka_bootstrap="127.0.0.1:1", database_url="postgresql://x@127.0.0.1:1/x")
    assert "ATA_WALLET_SIGN_IN_URL" not in plain.services["core"].extra_env and plain.wallet_redirects == []
