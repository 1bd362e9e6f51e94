"""The history chain's canonical encoding (issue 3, item 7): key order, types, what has no canonical form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from contracts.kinds import DeclarationKind
from contracts.messages import ItemLocation, TransactionRecorded
from core.history import NotCanonical, canonical, crossing_record, to_native
from tests.support.history_chain import KEYS, LEAVES

# --- canonical encoding --------------------------------------------------------------------


def test_canonical_does_not_depend_on_key_order_at_any_depth():
    a = {"b": 1, "a": {"y": [1, {"q": 1, "p": 2}], "x": None}, "c": True}
    b = {"c": True, "a": {"x": None, "y": [1, {"p": 2, "q": 1}]}, "b": 1}
    assert canonical(a) == canonical(b) == b'{"a":{"x":null,"y":[1,{"p":2,"q":1}]},"b":1,"c":true}'
    assert canonical(MappingProxyType(a)) == canonical(a)


def test_canonical_is_compact_utf8_without_ascii_escapes():
    assert canonical({"name": "Zürich 東京"}) == '{"name":"Zürich 東京"}'.encode()


def test_canonical_converts_dates_uuids_decimals_enums_tuples_and_models():
    paris = ZoneInfo("Europe/Paris")

    class Colour(StrEnum):
        RED = "red"

    @dataclass
    class Point:
        x: int
        when: date

    record = {
        "at": datetime(2026, 11, 22, 9, 31, 1, tzinfo=paris),
        "day": date(2027, 11, 21),
        "id": UUID("3F0C2B8A-0A4E-4A51-9C55-6F3E6C2A1D90"),
        "value": Decimal("45000.00"),
        "kind": DeclarationKind.EXPORTATION,
        "colour": Colour.RED,
        "items": (1, 2),
        "point": Point(1, date(2026, 1, 2)),
        "location": ItemLocation(item_number=1, location="abroad", country="CH", final_date=date(2027, 1, 31)),
    }
    assert json.loads(canonical(record)) == {
        "at": "2026-11-22T08:31:01.000000Z",
        "day": "2027-11-21",
        "id": "3f0c2b8a-0a4e-4a51-9c55-6f3e6c2a1d90",
        "value": "45000",
        "kind": "exportation",
        "colour": "red",
        "items": [1, 2],
        "point": {"x": 1, "when": "2026-01-02"},
        "location": {"item_number": 1, "location": "abroad", "country": "CH", "final_date": "2027-01-31"},
    }


def test_the_same_instant_in_any_zone_encodes_alike():
    utc = datetime(2026, 11, 22, 8, 31, 1, 5, tzinfo=UTC)
    assert (
        canonical({"t": utc})
        == canonical({"t": utc.astimezone(ZoneInfo("Asia/Tokyo"))})
        == canonical({"t": utc.astimezone(timezone(timedelta(hours=-3)))})
        == b'{"t":"2026-11-22T08:31:01.000005Z"}'
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2.30", "2.3"),
        ("2.3", "2.3"),
        ("1E+2", "100"),
        ("0.000", "0"),
        ("-0", "0"),
        ("-5.50", "-5.5"),
        ("1E-7", "0.0000001"),
        ("1.2345678901234567890123456789012000", "1.2345678901234567890123456789012"),  # no rounding to the context
    ],
)
def test_decimals_are_plain_and_without_trailing_zeros(value, text):
    assert to_native(Decimal(value)) == text


@pytest.mark.parametrize(
    "bad",
    [
        {"at": datetime(2026, 11, 22, 9, 30)},  # naive
        {"weight": 2.5},
        {"nested": [{"weight": 1.0}]},
        {"value": Decimal("NaN")},
        {"value": Decimal("Infinity")},
        {1: "int key"},
        {"s": "nul\x00byte"},
        {"s": "lone \ud800 surrogate"},
        {"items": {1, 2}},
        {"raw": b"bytes"},
        {"obj": object()},
    ],
)
def test_canonical_refuses_what_has_no_canonical_form(bad):
    with pytest.raises(ValueError):
        canonical(bad)
    with pytest.raises(NotCanonical):
        canonical(bad)


def test_canonical_refuses_a_non_mapping_record():
    with pytest.raises(ValueError):
        canonical([1, 2])  # type: ignore[arg-type]


def test_str_subclasses_encode_by_their_characters():
    class Shouty(str):
        def __str__(self) -> str:
            return "SHOUT"

    assert canonical({"a": Shouty("quiet")}) == b'{"a":"quiet"}'


def test_to_native_is_idempotent_and_leaves_json_values_alone():
    record = {"at": datetime(2026, 11, 22, 9, 31, tzinfo=UTC), "id": UUID(int=7), "n": [1, "x", None, False]}
    native = to_native(record)
    assert to_native(native) == native
    assert json.loads(canonical(record)) == native
    assert canonical(native) == canonical(record)


JSON_RECORDS = st.dictionaries(KEYS, LEAVES, min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(record=JSON_RECORDS)
def test_canonical_does_not_depend_on_insertion_order(record):
    assert canonical(dict(reversed(list(record.items())))) == canonical(record)


# --- the crossing record ---------------------------------------------------------------------------------


def test_crossing_record_keeps_what_identifies_and_decides_the_crossing():
    recorded = TransactionRecorded(
        transaction_id=UUID(int=1),
        carnet_number="FR2600000017",
        declaration_id=UUID(int=2),
        commit_id=UUID(int=3),
        kind=DeclarationKind.EXPORTATION,
        country="FR",
        items=[1, 2],
        sequence=1,
        decision="committed",
        office_id="FR-CDG-FRET",
        office_timezone="Europe/Paris",
        carnet_expiry=date(2027, 11, 21),
        item_locations=[
            ItemLocation(item_number=1, location="exported"),
            ItemLocation(item_number=2, location="exported"),
        ],
        recorded_at=datetime(2026, 11, 22, 9, 31, 1, tzinfo=ZoneInfo("Europe/Paris")),
    )
    record = crossing_record(
        recorded, officer_id="fr-officer-0042", decided_at=datetime(2026, 11, 22, 8, 31, tzinfo=UTC)
    )
    assert record == {
        "transaction_id": str(UUID(int=1)),
        "declaration_id": str(UUID(int=2)),
        "commit_id": str(UUID(int=3)),
        "kind": "exportation",
        "country": "FR",
        "items": [1, 2],
        "sequence": 1,
        "decision": "committed",
        "office_id": "FR-CDG-FRET",
        "office_timezone": "Europe/Paris",
        "officer_id": "fr-officer-0042",
        "decided_at": "2026-11-22T08:31:00.000000Z",
        "recorded_at": "2026-11-22T08:31:01.000000Z",
        "item_locations": [
            {"item_number": 1, "location": "exported", "country": None, "final_date": None},
            {"item_number": 2, "location": "exported", "country": None, "final_date": None},
        ],
    }
    assert canonical(record) == canonical(json.loads(canonical(record)))
