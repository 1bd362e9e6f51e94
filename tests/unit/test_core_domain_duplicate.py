"""A carnet's duplicate (R5, core/domain/lifecycle.py): same expiry and items, the original voided. Pure: no I/O, no
wall clock."""

from __future__ import annotations

from datetime import date

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import ABROAD, CLOSED, VALID, VOIDED, Carnet, Crossing, Item, apply_crossing, duplicate
from tests.support.core_lifecycle import (
    DUPLICATE,
    EXPIRY,
    NUMBER,
    abroad,
    accounted,
    carnet,
    codes,
    declare,
    exported,
    in_transit,
    refusal,
)

# --- R5: duplicate --------------------------------------------------------------------------------


def mixed() -> Carnet:
    return carnet(
        exported(1, exported_by=2),
        abroad(2, final=date(2027, 5, 1), entered_by=3),
        in_transit(3, "GB"),
        accounted(4),
        n=5,
    )


def test_r5_the_duplicate_keeps_the_expiry_and_every_item_where_it_is():
    original = mixed()
    _, copy = duplicate(original, DUPLICATE)
    assert copy.number == DUPLICATE
    assert copy.expiry_date == EXPIRY
    assert copy.items == original.items  # location, country, final date, references, notes
    assert copy.items[2] == Item(2, ABROAD, "CH", date(2027, 5, 1), exported_by=1, entered_by=3)
    assert (copy.status, copy.successor, copy.active) == (VALID, None, True)
    assert (copy.home_country, copy.countries, copy.holder_id, copy.representative_ids) == (
        original.home_country,
        original.countries,
        original.holder_id,
        original.representative_ids,
    )


def test_r5_the_original_is_voided_and_names_its_duplicate():
    original = mixed()
    voided, _ = duplicate(original, DUPLICATE)
    assert (voided.number, voided.status, voided.successor) == (NUMBER, VOIDED, DUPLICATE)
    assert voided.items == original.items
    assert original.status == VALID  # the input is not mutated


@pytest.mark.parametrize(
    "crossing",
    [
        Crossing.of(K.EXPORTATION, "FR", [5]),
        Crossing.of(K.REEXPORTATION, "CH", [2]),
        Crossing.of(K.REIMPORTATION, "FR", [1]),
        Crossing.of(K.TRANSIT_DISCHARGE, "GB", [3]),
    ],
    ids=lambda c: c.kind.value,
)
def test_r5_declarations_on_the_voided_original_are_refused(crossing):
    voided, copy = duplicate(mixed(), DUPLICATE)
    reasons = declare(voided, crossing)
    assert codes(reasons) == [("R5", "carnet_voided")]
    assert DUPLICATE in reasons[0].message
    assert declare(copy, crossing) == []  # the same crossing goes on with the duplicate


def test_r5_the_duplicate_goes_on_with_the_references_of_the_original():
    _, copy = duplicate(mixed(), DUPLICATE)
    copy = apply_crossing(copy, Crossing.of(K.REIMPORTATION, "FR", [1], closes=2), 1, None)
    assert copy.items[1] == Item(1)


@pytest.mark.parametrize(("status", "code"), [(VOIDED, "carnet_voided"), (CLOSED, "carnet_closed")])
def test_r5_duplicating_a_voided_or_closed_carnet_is_refused(status, code):
    assert refusal(duplicate, carnet(status=status), DUPLICATE) == [("R5", code)]


def test_r5_a_duplicate_can_itself_be_duplicated_but_not_the_original_twice():
    voided, copy = duplicate(carnet(), DUPLICATE)
    assert refusal(duplicate, voided, "FR2600000044") == [("R5", "carnet_voided")]
    _, second = duplicate(copy, "FR2600000044")
    assert (second.number, second.expiry_date) == ("FR2600000044", EXPIRY)
