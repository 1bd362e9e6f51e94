"""The core's holder API as a wallet app calls it: settings with the wallet issuer's key, and a client holding a
party's bearer token."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from deploy.local.identity import ensure_wallet_issuer, mint_wallet_token, private_key_path


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"wallet_issuer_public_key_path": ensure_wallet_issuer(settings.data_dir)})


def token_for(service: Any, party: str, **kw: Any) -> str:
    kw.setdefault("now", service.clock())
    return mint_wallet_token(private_key_path(service.settings.data_dir), party, **kw)


def as_party(service: Any, party: str | None = "hld_1", *, token: str | None = None) -> httpx.AsyncClient:
    """The holder API as a wallet app calls it; `party=None` and no token: no Authorization header at all."""
    if token is None and party is not None:
        token = token_for(service, party)
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://core", headers=headers)
