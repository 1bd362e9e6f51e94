"""The published token test vectors (tests/vectors/tokens/*.json) check against our verifier.

The vectors are written by tests/vectors/make_token_vectors.py, run by hand; this test only reads
them. The JSON mapping of claims is reimplemented here from tests/vectors/README.md rather than
imported from the generator, so the two cannot drift together unnoticed.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from contracts.token import DeclarationClaims
from tokens.cose import TokenError, kid_for, public_key_from_jwk, verify_token
from tokens.qr import qr_version

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "tokens"
VECTOR_FILES = sorted(VECTOR_DIR.glob("*.json"))

FIELDS = {"description", "claims", "public_key", "kid", "verified_at", "token", "valid", "reason", "error"}
REASONS = {"bad signature", "unknown kid", "expired at verified_at", "truncated", "wrong prefix", "tampered claim"}
MAX_QR_VERSION = 12


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def claims_to_json(value: Any) -> Any:
    """README.md's mapping: integer map keys as decimal strings, byte strings as lower-case hex."""
    if isinstance(value, dict):
        return {str(key): claims_to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [claims_to_json(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    assert isinstance(value, (int, str)) and not isinstance(value, bool), type(value)
    return value


def test_there_are_enough_vectors_and_half_are_invalid():
    vectors = [load(path) for path in VECTOR_FILES]
    assert len(vectors) >= 10
    invalid = [v for v in vectors if not v["valid"]]
    assert 2 * len(invalid) >= len(vectors)
    # Every kind of invalid token the requirement names has at least one vector.
    assert {v["reason"] for v in invalid} == REASONS


@pytest.mark.parametrize("path", VECTOR_FILES, ids=[p.stem for p in VECTOR_FILES])
def test_vector(path: Path):
    v = load(path)
    assert set(v) == FIELDS
    assert isinstance(v["valid"], bool)

    public_key = public_key_from_jwk(v["public_key"])
    kid = bytes.fromhex(v["kid"])
    assert kid_for(public_key) == kid
    verified_at = datetime.fromisoformat(v["verified_at"])
    assert verified_at.tzinfo is not None

    def resolve(requested: bytes):
        return public_key if requested == kid else None

    if v["valid"]:
        assert v["reason"] is None and v["error"] is None
        claims = verify_token(v["token"], resolve, verified_at)
        expected = dict(v["claims"])
        declaration = expected.pop("declaration")
        assert claims_to_json(claims) == expected
        assert DeclarationClaims.from_cwt(claims).model_dump(mode="json") == declaration
        assert qr_version(v["token"]) <= MAX_QR_VERSION
    else:
        assert v["reason"] in REASONS
        assert isinstance(v["error"], str)
        with pytest.raises(TokenError) as caught:
            verify_token(v["token"], resolve, verified_at)
        assert caught.value.reason == v["error"]
