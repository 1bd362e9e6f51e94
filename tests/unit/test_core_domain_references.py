"""The ledger's declaration rules as pure functions (core/domain): R8 numbering and references, R9 what a
declaration lists (with R3, the general list).

Pure: no I/O, no wall clock (every instant is a literal).
"""

from __future__ import annotations

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    EXPORTED,
    HOME,
    Carnet,
    Crossing,
    Item,
    apply_crossing,
    closed_reference,
    next_sequence,
)
from tests.support.core_domain import (
    USE,
    WHERE,
    carnet,
    check,
    codes,
    commit,
    cross,
    item,
    ready_crossing,
    ready_for,
)

# --- R8: numbering and references ------------------------------------------------------------------


def test_r8_sets_are_used_in_numerical_sequence():
    assert next_sequence([]) == 1
    assert next_sequence([1]) == 2
    assert next_sequence([1, 2, 3]) == 4
    assert next_sequence([3, 1, 2]) == 4


def test_r8_sequence_per_kind_is_recorded_on_the_items():
    used: dict[K, list[int]] = {k: [] for k in K}

    def step(c: Carnet, crossing: Crossing) -> Carnet:
        seq = next_sequence(used[crossing.kind])
        used[crossing.kind].append(seq)
        return commit(c, crossing, seq)

    c = carnet(n=3, active=False)
    c = step(c, cross(K.EXPORTATION, "FR", [1]))
    c = step(c, cross(K.EXPORTATION, "FR", [2, 3]))
    assert [c.items[n].exported_by for n in (1, 2, 3)] == [1, 2, 2]
    c = step(c, cross(K.IMPORTATION, "CH", [1, 2]))
    assert [c.items[n].entered_by for n in (1, 2)] == [1, 1]
    c = step(c, cross(K.TRANSIT_ENTRY, "GB", [3]))
    assert c.items[3].entered_by == 1  # transit entry No. 1: its own sequence, not importation No. 2
    c = step(c, cross(K.REEXPORTATION, "CH", [1, 2]))
    c = step(c, cross(K.IMPORTATION, "DE", [1]))
    assert c.items[1].entered_by == 2  # importation No. 2
    assert used == {
        K.EXPORTATION: [1, 2],
        K.IMPORTATION: [1, 2],
        K.TRANSIT_ENTRY: [1],
        K.REEXPORTATION: [1],
        K.REIMPORTATION: [],
        K.TRANSIT_DISCHARGE: [],
    }


def test_r8_reexportation_infers_the_importation_it_closes_when_unambiguous():
    c = carnet(item(1, ABROAD, "CH", entered_by=4), item(2, ABROAD, "CH", entered_by=4))
    crossing = cross(K.REEXPORTATION, "CH", [1, 2])
    assert closed_reference(c, crossing) == 4
    assert check(c, crossing) == []
    after = apply_crossing(c, crossing, 1, None)
    assert [after.items[n].entered_by for n in (1, 2)] == [None, None]


def test_r8_reexportation_of_items_from_different_importations_must_name_one():
    c = carnet(item(1, ABROAD, "CH", entered_by=1), item(2, ABROAD, "CH", entered_by=2))
    missing = check(c, cross(K.REEXPORTATION, "CH", [1, 2]))
    assert codes(missing) == [("R8", "reference_missing")]
    assert missing[0].field == "closes"
    assert closed_reference(c, cross(K.REEXPORTATION, "CH", [1, 2])) is None
    mismatch = check(c, cross(K.REEXPORTATION, "CH", [1, 2], closes=1))
    assert codes(mismatch) == [("R8", "reference_mismatch")]
    assert "[2]" in mismatch[0].message and "No. 1" in mismatch[0].message
    assert check(c, cross(K.REEXPORTATION, "CH", [1], closes=1)) == []
    assert check(c, cross(K.REEXPORTATION, "CH", [2], closes=2)) == []


def test_r8_reexportation_naming_the_wrong_importation_is_refused():
    c = carnet(item(1, ABROAD, "CH", entered_by=1))
    reasons = check(c, cross(K.REEXPORTATION, "CH", [1], closes=2))
    assert codes(reasons) == [("R8", "reference_mismatch")]
    assert "No. 2" in reasons[0].message
    assert closed_reference(c, cross(K.REEXPORTATION, "CH", [1], closes=2)) == 2
    assert check(c, cross(K.REEXPORTATION, "CH", [1], closes=1)) == []


def test_r8_reimportation_names_the_exportation_which_survives_importation_and_reexportation():
    c = carnet(n=2, active=False)
    c = commit(c, cross(K.EXPORTATION, "FR", [1]), 1)
    c = commit(c, cross(K.EXPORTATION, "FR", [2]), 2)
    c = commit(c, cross(K.IMPORTATION, "CH", [1]), 1)
    assert c.items[1].exported_by == 1
    c = commit(c, cross(K.REEXPORTATION, "CH", [1]), 1)
    assert c.items[1].exported_by == 1
    back = cross(K.REIMPORTATION, "FR", [1])
    assert closed_reference(c, back) == 1
    assert codes(check(c, cross(K.REIMPORTATION, "FR", [1, 2]))) == [("R8", "reference_missing")]
    assert codes(check(c, cross(K.REIMPORTATION, "FR", [1], closes=2))) == [("R8", "reference_mismatch")]
    assert check(c, cross(K.REIMPORTATION, "FR", [1], closes=1)) == []
    c = commit(c, back, 1)
    assert c.items[1] == Item(1)  # home again, no reference left
    assert c.items[2].exported_by == 2


def test_r8_transit_discharge_names_the_transit_entry():
    c = carnet(item(1, EXPORTED))
    c = commit(c, cross(K.TRANSIT_ENTRY, "GB", [1]), 3)
    discharge = cross(K.TRANSIT_DISCHARGE, "GB", [1])
    assert closed_reference(c, discharge) == 3
    assert codes(check(c, cross(K.TRANSIT_DISCHARGE, "GB", [1], closes=2))) == [("R8", "reference_mismatch")]
    c = commit(c, discharge, 1)
    assert (c.items[1].location, c.items[1].entered_by, c.items[1].exported_by) == (EXPORTED, None, 1)


def test_r8_kinds_that_close_nothing_have_no_reference():
    c = carnet(item(1, EXPORTED))
    assert closed_reference(c, cross(K.IMPORTATION, "CH", [1])) is None
    assert closed_reference(carnet(), cross(K.EXPORTATION, "FR", [1])) is None


# --- R9: what a declaration lists -----------------------------------------------------------------


@pytest.mark.parametrize("use", [None, "", "   "])
def test_r9_importation_without_intended_use_is_refused(use):
    c = carnet(item(1, EXPORTED))
    reasons = check(c, Crossing.of(K.IMPORTATION, "CH", [1], intended_use=use))
    assert codes(reasons) == [("R9", "intended_use_missing")]
    assert reasons[0].field == "intended_use"
    assert check(c, Crossing.of(K.IMPORTATION, "CH", [1], intended_use=USE)) == []


@pytest.mark.parametrize("kind", [k for k in K if k is not K.IMPORTATION])
def test_r9_other_kinds_need_no_intended_use(kind):
    crossing = ready_crossing(kind)
    assert crossing.intended_use is None
    assert check(carnet(ready_for(kind)), crossing) == []


def test_r9_only_the_listed_items_move():
    c = carnet(n=4, active=False)
    c2 = commit(c, cross(K.EXPORTATION, "FR", [3, 1]), 1)
    assert [c2.items[n].location for n in (1, 2, 3, 4)] == [EXPORTED, HOME, EXPORTED, HOME]
    assert c2.items[2] is c.items[2] and c2.items[4] is c.items[4]
    c3 = commit(c2, cross(K.IMPORTATION, "CH", [3]), 1)
    assert [c3.items[n].location for n in (1, 2, 3, 4)] == [EXPORTED, HOME, ABROAD, HOME]
    assert {n: c3.items[n] for n in (1, 2, 4)} == {n: c2.items[n] for n in (1, 2, 4)}


@pytest.mark.parametrize("kind", [K.EXPORTATION, K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r9_a_declaration_lists_at_least_one_item(kind):
    c = carnet(item(1, EXPORTED), active=kind is not K.EXPORTATION)
    assert "R9" in [r.rule for r in check(c, cross(kind, WHERE[kind], []))]


def test_r9_only_the_holder_and_representatives_may_declare():
    c = carnet()
    assert c.may_declare("hld_1") and c.may_declare("rep_1")
    assert not c.may_declare("rep_2")


def test_r3_items_not_on_the_general_list_are_refused():
    reasons = check(carnet(), cross(K.EXPORTATION, "FR", [1, 9]))
    assert codes(reasons) == [("R3", "unknown_item")]
