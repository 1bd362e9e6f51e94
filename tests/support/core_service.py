"""What the core ledger service tests share: the `settings` fixture with the wallet identity provider's public key,
which core.app needs to build; a test module imports it to override the conftest's for all its tests."""

from __future__ import annotations

import pytest

from deploy.local.identity import ensure_wallet_issuer


@pytest.fixture
def settings(settings):
    """The core needs the wallet identity provider's public key (tokens/wallet_auth.py); one per test's data dir."""
    return settings.model_copy(update={"wallet_issuer_public_key_path": ensure_wallet_issuer(settings.data_dir)})
