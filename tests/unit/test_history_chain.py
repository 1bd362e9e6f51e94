"""The per-carnet hash chain (issue 3, item 7): canonical encoding, links, and tamper detection."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings, strategies as st

from contracts.kinds import DeclarationKind
from contracts.messages import ItemLocation, TransactionRecorded
from core.history import (
    GENESIS,
    LINK_BROKEN,
    POSITION_GAP,
    RECORD_ALTERED,
    ChainCheck,
    NotCanonical,
    canonical,
    crossing_record,
    link,
    to_native,
    verify,
)

Entry = tuple[int, dict[str, Any], bytes, bytes]


def chain(records: list[dict[str, Any]]) -> list[Entry]:
    out: list[Entry] = []
    prev = GENESIS
    for position, record in enumerate(records, start=1):
        digest = link(prev, record)
        out.append((position, record, prev, digest))
        prev = digest
    return out


RECORDS = [{"event": "crossing", "kind": "exportation", "country": "FR", "items": [1, 2]},
           {"event": "crossing", "kind": "importation", "country": "CH", "items": [1, 2]},
           {"event": "crossing", "kind": "reexportation", "country": "CH", "items": [1]},
           {"event": "items_accounted_for", "country": "CH", "items": [2]}]


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
    assert canonical({"t": utc}) == canonical({"t": utc.astimezone(ZoneInfo("Asia/Tokyo"))}) \
        == canonical({"t": utc.astimezone(timezone(timedelta(hours=-3)))}) == b'{"t":"2026-11-22T08:31:01.000005Z"}'


@pytest.mark.parametrize(("value", "text"), [
    ("2.30", "2.3"), ("2.3", "2.3"), ("1E+2", "100"), ("0.000", "0"), ("-0", "0"), ("-5.50", "-5.5"), ("1E-7", "0.0000001"),
    ("1.2345678901234567890123456789012000", "1.2345678901234567890123456789012"),  # no rounding to the context
])
def test_decimals_are_plain_and_without_trailing_zeros(value, text):
    assert to_native(Decimal(value)) == text


@pytest.mark.parametrize("bad", [
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
])
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


# --- links -----------------------------------------------------------------------------------------


def test_link_is_sha256_of_previous_hash_and_canonical_bytes():
    record = {"b": 1, "a": "é", "when": date(2026, 11, 22)}
    expected = hashlib.sha256(bytes(32) + '{"a":"é","b":1,"when":"2026-11-22"}'.encode()).digest()
    assert GENESIS == b"\x00" * 32
    assert link(GENESIS, record) == expected
    second = {"n": 2}
    assert link(expected, second) == hashlib.sha256(expected + b'{"n":2}').digest()


def test_link_refuses_a_previous_hash_of_the_wrong_size():
    with pytest.raises(ValueError):
        link(b"\x00" * 31, {"a": 1})


# --- verification ----------------------------------------------------------------------------------


def test_an_empty_chain_verifies_with_the_genesis_head():
    assert verify([]) == ChainCheck(ok=True, length=0, head=GENESIS.hex(), broken_at=None, reason=None)


def test_a_good_chain_verifies_and_reports_its_head():
    entries = chain(RECORDS)
    assert verify(entries) == ChainCheck(True, 4, entries[-1][3].hex(), None, None)


def test_an_altered_record_is_detected_at_its_position():
    entries = chain(RECORDS)
    position, record, prev, digest = entries[1]
    entries[1] = (position, {**record, "country": "DE"}, prev, digest)
    check = verify(entries)
    assert (check.ok, check.broken_at, check.reason) == (False, 2, RECORD_ALTERED)
    assert check.length == 4 and check.head == entries[-1][3].hex()


def test_an_altered_stored_hash_is_detected():
    entries = chain(RECORDS)
    position, record, prev, _ = entries[3]
    entries[3] = (position, record, prev, bytes(32))
    assert (verify(entries).broken_at, verify(entries).reason) == (4, RECORD_ALTERED)


def test_a_float_written_into_a_stored_record_counts_as_altered():
    entries = chain(RECORDS)
    position, record, prev, digest = entries[0]
    entries[0] = (position, {**record, "items": [1.0, 2.0]}, prev, digest)
    assert (verify(entries).broken_at, verify(entries).reason) == (1, RECORD_ALTERED)


def test_swapped_records_are_detected():
    entries = chain(RECORDS)
    # Contents of positions 2 and 3 exchanged, positions renumbered to stay contiguous.
    (_, r2, prev2, h2), (_, r3, prev3, h3) = entries[1], entries[2]
    swapped = [entries[0], (2, r3, prev3, h3), (3, r2, prev2, h2), entries[3]]
    assert (verify(swapped).broken_at, verify(swapped).reason) == (2, LINK_BROKEN)
    # Rows handed over out of position order.
    reordered = [entries[1], entries[0], *entries[2:]]
    assert (verify(reordered).broken_at, verify(reordered).reason) == (1, POSITION_GAP)


def test_a_deleted_middle_entry_is_a_gap():
    entries = chain(RECORDS)
    del entries[1]
    check = verify(entries)
    assert (check.ok, check.broken_at, check.reason, check.length) == (False, 2, POSITION_GAP, 3)


def test_a_deleted_entry_with_renumbered_positions_breaks_the_link():
    entries = chain(RECORDS)
    del entries[1]
    renumbered = [(i, r, p, h) for i, (_, r, p, h) in enumerate(entries, start=1)]
    assert (verify(renumbered).broken_at, verify(renumbered).reason) == (2, LINK_BROKEN)


def test_a_first_entry_not_linked_to_the_genesis_is_broken():
    entries = chain(RECORDS)[1:]
    renumbered = [(i, r, p, h) for i, (_, r, p, h) in enumerate(entries, start=1)]
    assert (verify(renumbered).broken_at, verify(renumbered).reason) == (1, LINK_BROKEN)


def test_a_self_consistent_forgery_breaks_the_next_link():
    entries = chain(RECORDS)
    forged = {**RECORDS[1], "items": [1]}
    entries[1] = (2, forged, entries[1][2], link(entries[1][2], forged))
    assert verify(entries[:2]).ok  # alone, the forged entry is consistent ...
    check = verify(entries)
    assert (check.ok, check.broken_at, check.reason) == (False, 3, LINK_BROKEN)  # ... but its successor exposes it


# --- properties --------------------------------------------------------------------------------------

KEYS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=8)
LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(st.characters(codec="utf-8", exclude_characters="\x00")))
JSON_RECORDS = st.dictionaries(KEYS, LEAVES, min_size=1, max_size=6)


def _byte_class(b: int) -> range:
    """Bytes of the same UTF-8 role as `b` (ASCII, continuation, 2-, 3- or 4-byte lead): mostly still text."""
    for low, high in ((0x00, 0x7F), (0x80, 0xBF), (0xC2, 0xDF), (0xE0, 0xEF), (0xF0, 0xF4)):
        if low <= b <= high:
            return range(low, high + 1)
    raise AssertionError(f"{b:#x} is not in UTF-8 text")


@st.composite
def one_byte_changes(draw: Any, value: str | int) -> str | int:
    """`value` with one byte of its text changed: a string's UTF-8, an integer's decimal digits."""
    if isinstance(value, int):
        digits = bytearray(str(value).encode())
        at = draw(st.sampled_from([i for i, c in enumerate(digits) if chr(c).isdigit()]))
        digits[at] = draw(st.sampled_from([c for c in b"0123456789" if c != digits[at]]))
        return int(digits.decode())
    encoded = bytearray(value.encode())
    if not encoded:
        return draw(st.characters(codec="ascii"))  # the only one-byte change of an empty string: one byte more
    at = draw(st.integers(0, len(encoded) - 1))
    encoded[at] = draw(st.sampled_from([b for b in _byte_class(encoded[at]) if b != encoded[at]]))
    try:
        return encoded.decode()
    except UnicodeDecodeError:
        assume(False)  # e.g. a surrogate's code point: not text any more, so the row would not even be stored
        raise


TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"))
CHANGEABLE = st.dictionaries(KEYS, st.one_of(st.integers(), TEXT), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(records=st.lists(st.tuples(CHANGEABLE, st.dictionaries(KEYS, LEAVES, max_size=3)).map(lambda t: {**t[1], **t[0]}),
                        min_size=1, max_size=5),
       data=st.data())
def test_any_single_byte_change_of_any_record_value_is_detected(records, data):
    entries = chain(records)
    index = data.draw(st.integers(0, len(entries) - 1), label="entry")
    position, record, prev, digest = entries[index]
    changeable = sorted(k for k, v in record.items() if isinstance(v, (int, str)) and not isinstance(v, bool))
    key = data.draw(st.sampled_from(changeable), label="key")
    changed = data.draw(one_byte_changes(record[key]), label="changed value")
    assert changed != record[key]
    tampered = list(entries)
    tampered[index] = (position, {**record, key: changed}, prev, digest)
    check = verify(tampered)
    assert not check.ok
    assert (check.broken_at, check.reason) == (index + 1, RECORD_ALTERED)


RICH_LEAVES = st.one_of(
    LEAVES,
    st.dates(),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.timezones()),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=3).map(tuple),
)
RICH_RECORDS = st.recursive(
    st.dictionaries(KEYS, RICH_LEAVES, max_size=5),
    lambda inner: st.dictionaries(KEYS, st.one_of(RICH_LEAVES, inner, st.lists(inner, max_size=2)), max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(record=RICH_RECORDS)
def test_a_record_round_trips_through_its_json_form_to_the_same_bytes(record):
    # What the store does: hash and store the canonical JSON, decode it later, hash again.
    encoded = canonical(record)
    assert canonical(json.loads(encoded)) == encoded
    assert canonical(to_native(record)) == encoded
    assert link(GENESIS, json.loads(encoded)) == link(GENESIS, record)


@settings(max_examples=200, deadline=None)
@given(record=JSON_RECORDS)
def test_canonical_does_not_depend_on_insertion_order(record):
    assert canonical(dict(reversed(list(record.items())))) == canonical(record)


# --- the crossing record ---------------------------------------------------------------------------------


def test_crossing_record_keeps_what_identifies_and_decides_the_crossing():
    recorded = TransactionRecorded(
        transaction_id=UUID(int=1), carnet_number="FR2600000017", declaration_id=UUID(int=2), commit_id=UUID(int=3),
        kind=DeclarationKind.EXPORTATION, country="FR", items=[1, 2], sequence=1, decision="committed",
        office_id="FR-CDG-FRET", office_timezone="Europe/Paris", carnet_expiry=date(2027, 11, 21),
        item_locations=[ItemLocation(item_number=1, location="exported"), ItemLocation(item_number=2, location="exported")],
        recorded_at=datetime(2026, 11, 22, 9, 31, 1, tzinfo=ZoneInfo("Europe/Paris")),
    )
    record = crossing_record(recorded, officer_id="fr-officer-0042",
                             decided_at=datetime(2026, 11, 22, 8, 31, tzinfo=UTC))
    assert record == {
        "transaction_id": str(UUID(int=1)), "declaration_id": str(UUID(int=2)), "commit_id": str(UUID(int=3)),
        "kind": "exportation", "country": "FR", "items": [1, 2], "sequence": 1, "decision": "committed",
        "office_id": "FR-CDG-FRET", "office_timezone": "Europe/Paris", "officer_id": "fr-officer-0042",
        "decided_at": "2026-11-22T08:31:00.000000Z", "recorded_at": "2026-11-22T08:31:01.000000Z",
        "item_locations": [{"item_number": 1, "location": "exported", "country": None, "final_date": None},
                           {"item_number": 2, "location": "exported", "country": None, "final_date": None}],
    }
    assert canonical(record) == canonical(json.loads(canonical(record)))
