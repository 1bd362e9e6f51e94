"""Write the declaration-token test vectors in tests/vectors/tokens/ (issue 4, item 2).

Run by hand from the repository root, never at import or test time:

    .venv/bin/python tests/vectors/make_token_vectors.py

Every run makes fresh P-256 keys (ES256 signatures are randomised anyway), deletes the old
``*.json`` files in tests/vectors/tokens/ and writes a new set. The claims (carnet numbers,
transaction codes, token ids, times) are fixed, so a re-run only changes keys, kids, signatures
and tokens. tests/vectors/README.md describes the format; tests/unit/test_token_vectors.py
checks every file against our verifier.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import base45
import cbor2

from contracts.kinds import DeclarationKind
from contracts.token import ATA_CLAIM, DeclarationClaims
from contracts.txcode import new_transaction_code
from tokens.cose import (
    PREFIX,
    SigningKey,
    TokenError,
    generate_signing_key,
    public_jwk,
    sign_token,
    verify_token,
)

OUT_DIR = Path(__file__).resolve().parent / "tokens"

# All tokens are issued at one fixed instant and live 24 hours.
ISSUED_AT = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
LIFETIME = timedelta(hours=24)
EXPIRES_AT = ISSUED_AT + LIFETIME

_ITEM_KEY = 5  # inside the ATA_CLAIM map


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def claims_to_json(value: Any) -> Any:
    """The JSON mapping of decoded CWT claims that README.md documents.

    Map keys (all integers in our claims) become their decimal strings, byte strings become
    lower-case hex text, text, integers and arrays stay as they are.
    """
    if isinstance(value, dict):
        return {str(key): claims_to_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [claims_to_json(item) for item in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"no JSON mapping for {type(value).__name__}")
    return value


def fixed_code(seed: str) -> str:
    """A canonical transaction code derived from ``seed``, so re-runs keep the same claims."""
    return new_transaction_code(lambda n: hashlib.sha256(seed.encode()).digest()[:n])


def declaration(
    *,
    seed: str,
    carnet_number: str,
    kind: DeclarationKind,
    country: str,
    items: tuple[int, ...],
    sequence: int,
    carnet_expiry: date,
) -> DeclarationClaims:
    return DeclarationClaims(
        carnet_number=carnet_number,
        transaction_code=fixed_code(seed),
        kind=kind,
        country=country,
        items=items,
        general_list_digest=hashlib.sha256(f"general list of {carnet_number}".encode()).digest()[:16].hex(),
        sequence=sequence,
        carnet_expiry=carnet_expiry,
        token_id=UUID(bytes=hashlib.sha256(f"token {seed}".encode()).digest()[:16], version=4),
        issued_at=ISSUED_AT,
        expires_at=EXPIRES_AT,
    )


def cose_of(token: str) -> bytes:
    """The uncompressed, tagged COSE_Sign1 bytes inside a token of ours."""
    body = base45.b45decode(token[len(PREFIX) :])
    return zlib.decompress(body) if body[0] == 0x78 else body


def token_from_cose(cose: bytes, *, force_zlib: bool = False) -> str:
    """Base45-encode ``cose`` with the prefix, compressing by sign_token's rule (or always)."""
    compressed = zlib.compress(cose, 9)
    body = compressed if force_zlib or len(compressed) < len(cose) else cose
    return PREFIX + base45.b45encode(body).decode("ascii")


def tamper_one_item(token: str) -> tuple[str, int, int]:
    """Change the last item number in the signed payload and re-encode WITHOUT re-signing."""
    message = cbor2.loads(cose_of(token))
    protected, unprotected, payload, signature = message.value
    claims = cbor2.loads(payload)
    items = claims[ATA_CLAIM][_ITEM_KEY]
    old = items[-1]
    new = old + 1
    items[-1] = new
    tampered = cbor2.dumps(claims)
    # Both item numbers are below 24, so each is one CBOR byte: exactly one payload byte differs.
    assert len(tampered) == len(payload)
    assert sum(a != b for a, b in zip(tampered, payload, strict=True)) == 1
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, tampered, signature]))
    return token_from_cose(cose), old, new


def vector(
    *,
    description: str,
    decl: DeclarationClaims,
    key: SigningKey,
    verified_at: datetime,
    token: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """One vector; ``error`` is whatever our verifier actually says, recorded rather than assumed."""
    resolve = lambda kid: key.public_key if kid == key.kid else None  # noqa: E731
    try:
        verify_token(token, resolve, verified_at)
    except TokenError as exc:
        error: str | None = exc.reason
    else:
        error = None
    valid = reason is None
    if valid != (error is None):
        raise AssertionError(f"{description!r}: expected valid={valid}, verifier said {error!r}")
    claims = claims_to_json(decl.to_cwt())
    claims["declaration"] = decl.model_dump(mode="json")
    return {
        "description": description,
        "claims": claims,
        "public_key": public_jwk(key.public_key),
        "kid": key.kid.hex(),
        "verified_at": rfc3339(verified_at),
        "token": token,
        "valid": valid,
        "reason": reason,
        "error": error,
    }


def build() -> dict[str, dict[str, Any]]:
    issuer = generate_signing_key()
    stranger = generate_signing_key()
    during = ISSUED_AT + timedelta(hours=2)

    export_1 = declaration(
        seed="export-1",
        carnet_number="FR2500000017",
        kind=DeclarationKind.EXPORTATION,
        country="FR",
        items=(1,),
        sequence=1,
        carnet_expiry=date(2026, 5, 31),
    )
    import_3 = declaration(
        seed="import-3",
        carnet_number="FR2500000017",
        kind=DeclarationKind.IMPORTATION,
        country="DE",
        items=(2, 5, 7),
        sequence=1,
        carnet_expiry=date(2026, 5, 31),
    )
    transit = declaration(
        seed="transit-entry",
        carnet_number="DE-2025-0004711",
        kind=DeclarationKind.TRANSIT_ENTRY,
        country="CH",
        items=(1, 2, 3, 4),
        sequence=2,
        carnet_expiry=date(2026, 2, 28),
    )
    reimport = declaration(
        seed="reimport",
        carnet_number="GB25000123",
        kind=DeclarationKind.REIMPORTATION,
        country="GB",
        items=(3, 9),
        sequence=1,
        carnet_expiry=date(2025, 12, 31),
    )
    reexport = declaration(
        seed="reexport",
        carnet_number="CH-2025-77",
        kind=DeclarationKind.REEXPORTATION,
        country="IT",
        items=(10, 11, 12),
        sequence=3,
        carnet_expiry=date(2026, 1, 15),
    )
    discharge = declaration(
        seed="transit-discharge",
        carnet_number="NL2500009999",
        kind=DeclarationKind.TRANSIT_DISCHARGE,
        country="AT",
        items=(4, 6),
        sequence=1,
        carnet_expiry=date(2026, 4, 1),
    )

    exp_s = int(EXPIRES_AT.timestamp())
    iat_s = int(ISSUED_AT.timestamp())
    valid_export = sign_token(export_1.to_cwt(), issuer)
    valid_import = sign_token(import_3.to_cwt(), issuer)
    tampered, old_item, new_item = tamper_one_item(valid_import)
    wrong_key = SigningKey(kid=issuer.kid, private_key=stranger.private_key)

    vectors = {
        "valid-exportation-1-item": vector(
            description="Valid: exportation from FR of item 1, verified two hours after issue.",
            decl=export_1,
            key=issuer,
            verified_at=during,
            token=valid_export,
        ),
        "valid-importation-3-items": vector(
            description="Valid: importation into DE of items 2, 5 and 7 (a split shipment), verified two hours after issue.",
            decl=import_3,
            key=issuer,
            verified_at=during,
            token=valid_import,
        ),
        "valid-transit-entry": vector(
            description="Valid: transit entry into CH of items 1-4, second transit declaration of the carnet.",
            decl=transit,
            key=issuer,
            verified_at=during,
            token=sign_token(transit.to_cwt(), issuer),
        ),
        "valid-one-second-before-exp": vector(
            description=f"Valid: verified at exp - 1 s ({exp_s - 1}); the token is accepted while now < exp.",
            decl=reimport,
            key=issuer,
            verified_at=EXPIRES_AT - timedelta(seconds=1),
            token=sign_token(reimport.to_cwt(), issuer),
        ),
        "valid-at-iat": vector(
            description=f"Valid: verified exactly at iat ({iat_s}).",
            decl=reexport,
            key=issuer,
            verified_at=ISSUED_AT,
            token=sign_token(reexport.to_cwt(), issuer),
        ),
        "valid-zlib-body": vector(
            description=(
                "Valid: the same kind of token with the zlib form of the body (first byte 0x78). "
                "Our signer only compresses when that is shorter, which small tokens never are, "
                "so this body was compressed by hand; a verifier must accept both forms."
            ),
            decl=discharge,
            key=issuer,
            verified_at=during,
            token=token_from_cose(cose_of(sign_token(discharge.to_cwt(), issuer)), force_zlib=True),
        ),
        "invalid-bad-signature": vector(
            description="Invalid: signed by another key but carrying the issuer's kid in the protected header.",
            decl=export_1,
            key=issuer,
            verified_at=during,
            token=sign_token(export_1.to_cwt(), wrong_key),
            reason="bad signature",
        ),
        "invalid-unknown-kid": vector(
            description=(
                "Invalid: validly signed by another key under that key's own kid; the verifier knows "
                "only the issuer key given here, so the kid resolves to nothing."
            ),
            decl=export_1,
            key=issuer,
            verified_at=during,
            token=sign_token(export_1.to_cwt(), stranger),
            reason="unknown kid",
        ),
        "invalid-expired-at-exp": vector(
            description=(
                f"Invalid: verified exactly at exp ({exp_s}). The boundary: a token is valid while "
                "verified_at < exp and expired once verified_at >= exp."
            ),
            decl=reimport,
            key=issuer,
            verified_at=EXPIRES_AT,
            token=sign_token(reimport.to_cwt(), issuer),
            reason="expired at verified_at",
        ),
        "invalid-expired-a-day-later": vector(
            description="Invalid: verified one day after exp.",
            decl=transit,
            key=issuer,
            verified_at=EXPIRES_AT + timedelta(days=1),
            token=sign_token(transit.to_cwt(), issuer),
            reason="expired at verified_at",
        ),
        "invalid-truncated": vector(
            description="Invalid: a valid token with its last 10 characters cut off.",
            decl=export_1,
            key=issuer,
            verified_at=during,
            token=valid_export[:-10],
            reason="truncated",
        ),
        "invalid-wrong-prefix-ata2": vector(
            description="Invalid: a valid token body under the prefix 'ATA2:' instead of 'ATA1:'.",
            decl=export_1,
            key=issuer,
            verified_at=during,
            token="ATA2:" + valid_export[len(PREFIX) :],
            reason="wrong prefix",
        ),
        "invalid-wrong-prefix-hc1": vector(
            description="Invalid: a valid token body under the EU DCC prefix 'HC1:' instead of 'ATA1:'.",
            decl=export_1,
            key=issuer,
            verified_at=during,
            token="HC1:" + valid_export[len(PREFIX) :],
            reason="wrong prefix",
        ),
        "invalid-tampered-claim": vector(
            description=(
                f"Invalid: the importation token above with item {old_item} changed to {new_item} in the "
                "signed payload (one CBOR byte), re-encoded without re-signing. 'claims' are the claims "
                "that were signed."
            ),
            decl=import_3,
            key=issuer,
            verified_at=during,
            token=tampered,
            reason="tampered claim",
        ),
    }
    return vectors


def main() -> None:
    vectors = build()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.json"):
        old.unlink()
    for number, (name, content) in enumerate(vectors.items(), start=1):
        path = OUT_DIR / f"{number:02d}-{name}.json"
        path.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    invalid = sum(not v["valid"] for v in vectors.values())
    print(f"wrote {len(vectors)} vectors ({invalid} invalid) to {OUT_DIR}")


if __name__ == "__main__":
    main()
