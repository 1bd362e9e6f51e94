"""Declaration token claims (contracts.token). R9: only the item numbers that cross, signed and dated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from uuid import UUID

import cbor2
import pytest
from pydantic import ValidationError

from contracts.kinds import DeclarationKind
from contracts.token import ATA_CLAIM, ClaimsError, DeclarationClaims
from tokens.cose import generate_signing_key, sign_token, verify_token

ISSUED = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)

FIELDS = dict(
    carnet_number="FR-2025-0001234",
    transaction_code="DK57ZC8TMFHQY",
    kind=DeclarationKind.IMPORTATION,
    country="DE",
    items=(1, 2, 5),
    general_list_digest="3f2a9c0d8e7b6a5f4e3d2c1b0a998877",
    sequence=2,
    carnet_expiry=date(2026, 3, 31),
    token_id=UUID("0b7e5c1a-4f0e-4c6e-9a55-2d3c4b5a6f70"),
    issued_at=ISSUED,
    expires_at=ISSUED + timedelta(hours=24),
)


def make(**changes) -> DeclarationClaims:
    return DeclarationClaims(**{**FIELDS, **changes})


def test_to_cwt_layout():
    cwt = make().to_cwt()
    assert cwt == {
        4: int((ISSUED + timedelta(hours=24)).timestamp()),
        6: int(ISSUED.timestamp()),
        7: FIELDS["token_id"].bytes,
        ATA_CLAIM: {
            1: "FR-2025-0001234",
            2: "DK57ZC8TMFHQY",
            3: DeclarationKind.IMPORTATION.code,
            4: "DE",
            5: [1, 2, 5],
            6: bytes.fromhex("3f2a9c0d8e7b6a5f4e3d2c1b0a998877"),
            7: 2,
            8: (date(2026, 3, 31) - date(1970, 1, 1)).days,
        },
    }
    assert ATA_CLAIM == -70000


@pytest.mark.parametrize("kind", list(DeclarationKind))
def test_round_trip_through_cbor(kind):
    claims = make(kind=kind)
    assert DeclarationClaims.from_cwt(cbor2.loads(cbor2.dumps(claims.to_cwt()))) == claims


def test_round_trip_through_a_signed_token():
    key = generate_signing_key()
    claims = make()
    verified = verify_token(sign_token(claims.to_cwt(), key), lambda kid: key.public_key, ISSUED)
    assert DeclarationClaims.from_cwt(verified) == claims


def test_carries_no_names_or_values_of_goods():
    """Privacy rule: a QR code can be photographed, so only numbers and a digest of the list travel."""
    assert set(DeclarationClaims.model_fields) == set(FIELDS)


def test_every_field_is_documented_with_an_example():
    schema = DeclarationClaims.model_json_schema()
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name
        assert prop.get("examples"), name


def test_is_frozen():
    with pytest.raises(ValidationError):
        make().sequence = 3


def test_times_are_held_as_whole_utc_seconds():
    cet = timezone(timedelta(hours=1))
    claims = make(issued_at=datetime(2025, 6, 1, 9, 30, 0, 999_999, tzinfo=cet))
    assert claims.issued_at == ISSUED
    assert claims.issued_at.tzinfo == UTC


@pytest.mark.parametrize(
    "changes",
    [
        {"items": ()},
        {"items": (2, 1)},
        {"items": (1, 1, 2)},
        {"items": (0, 1)},
        {"country": "de"},
        {"country": "DEU"},
        {"general_list_digest": "3F2A9C0D8E7B6A5F4E3D2C1B0A998877"},
        {"general_list_digest": "3f2a"},
        {"transaction_code": "DK57-ZC8T-MFHQ-Y"},  # valid, but not canonical
        {"transaction_code": "DK57ZC8TMFHQZ"},  # wrong check symbol
        {"sequence": 0},
        {"carnet_number": ""},
        {"issued_at": datetime(2025, 6, 1, 8, 30)},  # naive
        {"expires_at": ISSUED},
        {"item_descriptions": ("camera",)},  # no goods data, even by accident
    ],
)
def test_invalid_claims_are_refused(changes):
    with pytest.raises(ValidationError):
        make(**changes)


def without(mapping: dict, key) -> dict:
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize("key", [4, 6, 7, ATA_CLAIM])
def test_missing_top_level_claim(key):
    with pytest.raises(ClaimsError, match=f"key {key}\\) is missing"):
        DeclarationClaims.from_cwt(without(make().to_cwt(), key))


@pytest.mark.parametrize("key", range(1, 9))
def test_missing_ata_claim(key):
    cwt = make().to_cwt()
    cwt[ATA_CLAIM] = without(cwt[ATA_CLAIM], key)
    with pytest.raises(ClaimsError, match=f"key {key}\\) is missing"):
        DeclarationClaims.from_cwt(cwt)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (1, 1234),
        (2, b"DK57ZC8TMFHQY"),
        (3, "3"),
        (3, True),
        (4, None),
        (5, "1,2,5"),
        (5, [1, True, 5]),
        (6, "3f2a9c0d8e7b6a5f4e3d2c1b0a998877"),
        (6, b"\x00" * 15),
        (7, 2.0),
        (8, "2026-03-31"),
    ],
)
def test_ata_claim_of_the_wrong_type(key, value):
    cwt = make().to_cwt()
    cwt[ATA_CLAIM] = {**cwt[ATA_CLAIM], key: value}
    with pytest.raises(ClaimsError):
        DeclarationClaims.from_cwt(cwt)


@pytest.mark.parametrize(("key", "value"), [(4, 1.5e9), (6, "now"), (7, b"\x00" * 15), (ATA_CLAIM, [1, 2])])
def test_top_level_claim_of_the_wrong_type(key, value):
    with pytest.raises(ClaimsError):
        DeclarationClaims.from_cwt({**make().to_cwt(), key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [(3, 99), (4, "de"), (5, [5, 1]), (8, 10**12)],
)
def test_ata_claim_with_an_invalid_value(key, value):
    cwt = make().to_cwt()
    cwt[ATA_CLAIM] = {**cwt[ATA_CLAIM], key: value}
    with pytest.raises(ClaimsError):
        DeclarationClaims.from_cwt(cwt)


def test_absurd_timestamp_is_a_claims_error():
    with pytest.raises(ClaimsError):
        DeclarationClaims.from_cwt({**make().to_cwt(), 4: 10**20})


def test_claims_error_is_a_value_error():
    with pytest.raises(ValueError):
        DeclarationClaims.from_cwt([])
