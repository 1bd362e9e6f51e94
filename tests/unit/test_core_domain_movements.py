"""The ledger's declaration rules as pure functions (core/domain): R10 activation by the first exportation,
R11 an item crosses only from where it is (with R27, goods coming home).

Pure: no I/O, no wall clock (every instant is a literal).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    ACCOUNTED,
    EXPORTED,
    HOME,
    IN_TRANSIT,
    TRANSFERRED,
    apply_crossing,
)
from tests.support.core_domain import (
    CLOSING,
    EXPIRY,
    SPEC_FROM,
    SPEC_TO,
    carnet,
    check,
    codes,
    commit,
    cross,
    item,
    ready_crossing,
    ready_for,
)

# --- R10: activation ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r10_entry_abroad_before_a_committed_exportation_is_refused(kind):
    c = carnet(item(1, EXPORTED), active=False)  # exported on paper, never committed here
    assert codes(check(c, cross(kind, "CH", [1]))) == [("R10", "not_activated")]
    assert check(replace(c, active=True), cross(kind, "CH", [1])) == []


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r10_entry_abroad_after_the_first_exportation_is_allowed(kind):
    c = carnet(active=False)
    assert not c.active
    c = commit(c, cross(K.EXPORTATION, "FR", [1]), 1)
    assert c.active
    assert check(c, cross(kind, "CH", [1])) == []
    c = commit(c, cross(K.REIMPORTATION, "FR", [1]), 1)
    assert c.active  # activation stays


@pytest.mark.parametrize("kind", [k for k in K if k is not K.EXPORTATION])
def test_r10_only_an_exportation_activates(kind):
    c = carnet(ready_for(kind), active=False)
    assert not apply_crossing(c, ready_crossing(kind), 1, EXPIRY).active


# --- R11: an item crosses only from where it is ----------------------------------------------------


@pytest.mark.parametrize("kind", list(K))
def test_r11_each_kind_moves_an_item_from_where_it_is_to_where_it_goes(kind):
    c = carnet(ready_for(kind))
    crossing = ready_crossing(kind)
    assert check(c, crossing) == []
    moved = commit(c, crossing, 1).items[1]
    assert moved.location == SPEC_TO[kind]
    if SPEC_TO[kind] in (ABROAD, IN_TRANSIT):
        assert (moved.country, moved.final_date) == ("CH", EXPIRY)
    else:
        assert (moved.country, moved.final_date) == (None, None)


@pytest.mark.parametrize(
    ("kind", "location"),
    [
        (k, loc)
        for k in K
        for loc in (HOME, EXPORTED, ABROAD, IN_TRANSIT, ACCOUNTED, TRANSFERRED)
        if loc != SPEC_FROM[k] and not (k is K.REIMPORTATION and loc in (ABROAD, IN_TRANSIT))
    ],
)
def test_r11_an_item_cannot_cross_from_anywhere_else(kind, location):
    c = carnet(item(1, location, "CH"))
    reasons = check(c, ready_crossing(kind))
    assert [(r.rule, r.code, r.item_number) for r in reasons] == [("R11", "item_not_there", 1)]


@pytest.mark.parametrize("location", [ABROAD, IN_TRANSIT])
def test_r11_r27_goods_come_home_although_their_departure_from_abroad_was_never_validated(location):
    """R27 (seed 001): a holder who failed to have the departure validated may be charged a fee "even if
    a claim does not occur": home customs re-import the goods; the fee is the foreign country's matter."""
    c = carnet(item(1, location, "CH", exported_by=1, entered_by=2))
    assert check(c, cross(K.REIMPORTATION, "FR", [1], closes=1)) == []
    home = commit(c, cross(K.REIMPORTATION, "FR", [1], closes=1), 1).items[1]
    assert (home.location, home.country, home.final_date, home.exported_by, home.entered_by) == (
        HOME,
        None,
        None,
        None,
        None,
    )
    assert codes(check(c, cross(K.REIMPORTATION, "FR", [1], closes=2))) == [("R8", "reference_mismatch")]


@pytest.mark.parametrize("kind", [K.REEXPORTATION, K.TRANSIT_DISCHARGE])
def test_r11_an_item_in_another_country_is_refused(kind):
    c = carnet(item(1, SPEC_FROM[kind], "CH"))
    reasons = check(c, cross(kind, "GB", [1], closes=1))
    assert [(r.rule, r.code, r.item_number) for r in reasons] == [("R11", "item_in_other_country", 1)]
    assert "in CH, not GB" in reasons[0].message


@pytest.mark.parametrize("location", [EXPORTED, ABROAD, IN_TRANSIT])
def test_r11_exportation_of_an_item_not_at_home_is_refused(location):
    c = carnet(item(1, location, "CH"))
    assert codes(check(c, cross(K.EXPORTATION, "FR", [1]))) == [("R11", "item_not_there")]
    assert check(c, cross(K.EXPORTATION, "FR", [2])) == []


def test_r11_reimportation_of_an_item_never_exported_is_refused():
    c = carnet(item(2, EXPORTED))
    assert ("R11", "item_not_there") in codes(check(c, cross(K.REIMPORTATION, "FR", [1])))
    assert ("R11", "item_not_there") in codes(check(c, cross(K.REIMPORTATION, "FR", [1, 2], closes=1)))
    assert check(c, cross(K.REIMPORTATION, "FR", [2])) == []


def test_r11_an_item_is_never_imported_twice_without_leaving_in_between():
    c = commit(carnet(item(1, EXPORTED)), cross(K.IMPORTATION, "CH", [1]), 1)
    assert codes(check(c, cross(K.IMPORTATION, "CH", [1]))) == [("R11", "item_not_there")]
    assert codes(check(c, cross(K.IMPORTATION, "GB", [1]))) == [("R11", "item_not_there")]
    assert codes(check(c, cross(K.TRANSIT_ENTRY, "GB", [1]))) == [("R11", "item_not_there")]
    c = commit(c, cross(K.REEXPORTATION, "CH", [1]), 1)
    assert check(c, cross(K.IMPORTATION, "GB", [1])) == []


@pytest.mark.parametrize("kind", [K.EXPORTATION, K.REIMPORTATION])
def test_r11_home_kinds_happen_only_in_the_home_country(kind):
    c = carnet(ready_for(kind))
    reasons = check(c, cross(kind, "CH", [1], closes=1 if kind in CLOSING else None))
    assert codes(reasons) == [("R11", "not_home_country")]
    assert reasons[0].field == "country"


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.REEXPORTATION, K.TRANSIT_ENTRY, K.TRANSIT_DISCHARGE])
def test_r11_foreign_kinds_never_happen_in_the_home_country(kind):
    c = carnet(item(1, SPEC_FROM[kind], "FR"))
    reasons = check(c, cross(kind, "FR", [1], closes=1 if kind in CLOSING else None))
    assert codes(reasons) == [("R11", "home_country")]


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.REEXPORTATION, K.TRANSIT_ENTRY, K.TRANSIT_DISCHARGE])
def test_r11_foreign_kinds_only_in_the_countries_of_the_carnet(kind):
    c = carnet(item(1, SPEC_FROM[kind], "US"))
    reasons = check(c, cross(kind, "US", [1], closes=1 if kind in CLOSING else None))
    assert codes(reasons) == [("R1", "country_not_covered")]
    assert check(carnet(item(1, SPEC_FROM[kind], "CH")), ready_crossing(kind)) == []
