"""deploy.secrets: the test cluster's key files load with the services' own loaders, and a second run keeps
them (a re-run must never rotate a key by accident: docs/operations.md, "Rotating keys")."""

from __future__ import annotations

import stat

from deploy import secrets
from notifier.webpush import Vapid
from tokens.cose import load_or_create_signing_key
from tokens.trustlist import load_anchor_public
from tokens.wallet_auth import load_public_key


def test_keys_load_and_a_second_run_keeps_them(tmp_path):
    directory = tmp_path / "secrets"
    files = secrets.make(directory)
    assert all(p.exists() for p in files)
    signing = load_or_create_signing_key(directory / secrets.SIGNING_KEY)
    anchor = load_or_create_signing_key(directory / secrets.TRUST_ANCHOR)
    assert (
        load_anchor_public(directory / secrets.TRUST_ANCHOR_PUBLIC).public_numbers()
        == anchor.public_key.public_numbers()
    )
    load_public_key(directory / "identity" / "wallet-issuer.pub.pem")
    Vapid.load(directory / secrets.VAPID_KEY, "mailto:ops@example.org")
    env = dict(line.split("=", 1) for line in (directory / secrets.ENV_FILE).read_text().splitlines())
    assert set(env) == set(secrets.ENV_NAMES) and all(len(v) >= 40 for v in env.values())
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE((directory / secrets.ENV_FILE).stat().st_mode) == 0o600

    before = {p: p.read_bytes() for p in files}
    secrets.make(directory)
    assert {p: p.read_bytes() for p in files} == before
    assert load_or_create_signing_key(directory / secrets.SIGNING_KEY).kid == signing.kid
