"""The history chain's properties (issue 3, item 7): any one-byte change is detected, records round-trip to the same
bytes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import assume, given, settings, strategies as st

from core.history import GENESIS, RECORD_ALTERED, canonical, link, to_native, verify
from tests.support.history_chain import KEYS, LEAVES, chain


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
@given(
    records=st.lists(
        st.tuples(CHANGEABLE, st.dictionaries(KEYS, LEAVES, max_size=3)).map(lambda t: {**t[1], **t[0]}),
        min_size=1,
        max_size=5,
    ),
    data=st.data(),
)
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
