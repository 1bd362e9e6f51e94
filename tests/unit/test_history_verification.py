"""The history chain's links and verification (issue 3, item 7): each kind of tampering is detected where it happens."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from core.history import GENESIS, LINK_BROKEN, POSITION_GAP, RECORD_ALTERED, ChainCheck, link, verify
from tests.support.history_chain import chain

RECORDS = [
    {"event": "crossing", "kind": "exportation", "country": "FR", "items": [1, 2]},
    {"event": "crossing", "kind": "importation", "country": "CH", "items": [1, 2]},
    {"event": "crossing", "kind": "reexportation", "country": "CH", "items": [1]},
    {"event": "items_accounted_for", "country": "CH", "items": [2]},
]


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
