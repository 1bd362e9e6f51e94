"""A wallet bearer token is verified (ES256) once, then trusted from a bounded cache keyed by its digest until
its own expiry; the times are judged again on every request against the injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deploy.local.identity import ensure_wallet_issuer, mint_wallet_token, private_key_path
from tokens import wallet_auth
from tokens.wallet_auth import WalletTokenError, WalletVerifier

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def verifier(tmp_path: Path, clock: Clock) -> tuple[WalletVerifier, list[str]]:
    v = WalletVerifier.from_settings(ensure_wallet_issuer(tmp_path), "ata-core", clock)
    seen: list[str] = []
    v.observe = seen.append
    return v, seen


def test_a_token_is_verified_once_then_answered_from_the_cache(tmp_path: Path) -> None:
    clock = Clock()
    v, seen = verifier(tmp_path, clock)
    token = mint_wallet_token(private_key_path(tmp_path), "hld_1", now=NOW)
    assert [v.verify(token) for _ in range(3)] == ["hld_1"] * 3
    assert seen == ["signature", "cache", "cache"]


def test_a_cached_token_still_expires_by_the_clock(tmp_path: Path) -> None:
    clock = Clock()
    v, seen = verifier(tmp_path, clock)
    token = mint_wallet_token(private_key_path(tmp_path), "hld_1", ttl=timedelta(minutes=5), now=NOW)
    assert v.verify(token) == "hld_1"
    clock.now = NOW + timedelta(minutes=6)
    with pytest.raises(WalletTokenError) as refused:
        v.verify(token)
    assert refused.value.reason == "expired"
    clock.now = NOW  # gone from the cache once refused: a clock moved back checks the signature again
    assert v.verify(token) == "hld_1"
    assert seen == ["signature", "cache", "signature"]


def test_an_altered_token_is_another_digest_and_fails_its_own_signature_check(tmp_path: Path) -> None:
    clock = Clock()
    v, seen = verifier(tmp_path, clock)
    token = mint_wallet_token(private_key_path(tmp_path), "hld_1", now=NOW)
    v.verify(token)
    header, claims, signature = token.split(".")
    tampered = ".".join((header, claims, ("A" if signature[0] != "A" else "B") + signature[1:]))
    with pytest.raises(WalletTokenError) as refused:
        v.verify(tampered)
    assert refused.value.reason in ("bad_signature", "malformed")
    assert seen == ["signature", "signature"]


def test_the_cache_is_bounded_and_forgets_the_oldest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wallet_auth, "VERIFIED_CACHE_SIZE", 2)
    clock = Clock()
    v, seen = verifier(tmp_path, clock)
    tokens = [mint_wallet_token(private_key_path(tmp_path), f"hld_{i}", now=NOW) for i in range(3)]
    for token in tokens:
        v.verify(token)
    v.verify(tokens[2])
    v.verify(tokens[0])
    assert seen == ["signature"] * 3 + ["cache", "signature"]
