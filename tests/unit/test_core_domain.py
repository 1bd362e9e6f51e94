"""The ledger's declaration rules (R8, R10-R13) as pure functions, plus a property over random journeys."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.deadlines import DeadlineError
from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    EXPORTED,
    FROM,
    HOME,
    IN_TRANSIT,
    LATEST_ZONE,
    TO,
    Carnet,
    Item,
    apply_crossing,
    check_declaration,
    next_sequence,
)

EXPIRY = date(2027, 11, 21)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")
ZURICH = ZoneInfo("Europe/Zurich")


def carnet(n: int = 3, *, active: bool = False, **items: Item) -> Carnet:
    c = Carnet(number="FR2600000010", home_country="FR", countries=("CH", "GB", "DE"), expiry_date=EXPIRY,
               holder_id="hld_1", representative_ids=("rep_1",), active=active,
               items={i: Item(i) for i in range(1, n + 1)})
    return c


def placed(c: Carnet, **where: tuple[str, str | None]) -> Carnet:
    """Carnet with items moved by hand: placed(c, i1=(ABROAD, "CH"))."""
    items = dict(c.items)
    for key, (location, country) in where.items():
        n = int(key[1:])
        items[n] = Item(n, location, country, EXPIRY if location in (ABROAD, IN_TRANSIT) else None)
    return replace(c, items=items)


def rules(reasons) -> list[str]:
    return [r.rule for r in reasons]


# Where each kind happens: home kinds in FR, the others in CH.
COUNTRY = {K.EXPORTATION: "FR", K.REIMPORTATION: "FR", K.IMPORTATION: "CH", K.REEXPORTATION: "CH",
           K.TRANSIT_ENTRY: "CH", K.TRANSIT_DISCHARGE: "CH"}


# --- R11: the transition table ------------------------------------------------------------


def test_r11_transition_table_for_all_six_kinds():
    assert FROM == {K.EXPORTATION: HOME, K.REIMPORTATION: EXPORTED, K.IMPORTATION: EXPORTED,
                    K.REEXPORTATION: ABROAD, K.TRANSIT_ENTRY: EXPORTED, K.TRANSIT_DISCHARGE: IN_TRANSIT}
    assert TO == {K.EXPORTATION: EXPORTED, K.REIMPORTATION: HOME, K.IMPORTATION: ABROAD,
                  K.REEXPORTATION: EXPORTED, K.TRANSIT_ENTRY: IN_TRANSIT, K.TRANSIT_DISCHARGE: EXPORTED}


@pytest.mark.parametrize("kind", list(K))
def test_r11_each_kind_moves_an_item_from_its_from_to_its_to(kind):
    country = COUNTRY[kind]
    start_country = country if FROM[kind] in (ABROAD, IN_TRANSIT) else None
    c = placed(carnet(active=True), i1=(FROM[kind], start_country))
    assert check_declaration(c, kind, country, [1], BEFORE, PARIS) == []
    after = apply_crossing(c, kind, country, [1], None)
    item = after.items[1]
    assert item.location == TO[kind]
    if TO[kind] in (ABROAD, IN_TRANSIT):
        assert (item.country, item.final_date) == (country, EXPIRY)
    else:
        assert (item.country, item.final_date) == (None, None)


@pytest.mark.parametrize(("kind", "location"), [(k, loc) for k in K for loc in (HOME, EXPORTED, ABROAD, IN_TRANSIT)
                                                 if loc != FROM[k]])
def test_r11_an_item_cannot_cross_from_anywhere_else(kind, location):
    country = COUNTRY[kind]
    c = placed(carnet(active=True), i1=(location, "CH" if location in (ABROAD, IN_TRANSIT) else None))
    reasons = check_declaration(c, kind, country, [1], BEFORE, PARIS)
    assert [(r.rule, r.item_number) for r in reasons] == [("R11", 1)]


def test_r11_reexportation_must_be_from_the_country_the_item_is_in():
    c = placed(carnet(active=True), i1=(ABROAD, "CH"))
    reasons = check_declaration(c, K.REEXPORTATION, "GB", [1], BEFORE, PARIS)
    assert [(r.rule, r.item_number) for r in reasons] == [("R11", 1)]
    assert "in CH, not GB" in reasons[0].message


def test_r11_an_item_is_never_imported_twice_without_leaving():
    c = carnet(active=True)
    c = apply_crossing(placed(c, i1=(EXPORTED, None)), K.IMPORTATION, "CH", [1], None)
    assert rules(check_declaration(c, K.IMPORTATION, "CH", [1], BEFORE, PARIS)) == ["R11"]
    assert rules(check_declaration(c, K.IMPORTATION, "GB", [1], BEFORE, PARIS)) == ["R11"]
    c = apply_crossing(c, K.REEXPORTATION, "CH", [1], None)
    assert check_declaration(c, K.IMPORTATION, "GB", [1], BEFORE, PARIS) == []


def test_r11_home_kinds_happen_at_home_and_foreign_kinds_abroad():
    c = carnet()
    assert rules(check_declaration(c, K.EXPORTATION, "CH", [1], BEFORE, PARIS)) == ["R11"]
    c = placed(carnet(active=True), i1=(EXPORTED, None))
    assert "R11" in rules(check_declaration(c, K.IMPORTATION, "FR", [1], BEFORE, PARIS))


def test_r3_unknown_items_are_refused():
    reasons = check_declaration(carnet(), K.EXPORTATION, "FR", [1, 9], BEFORE, PARIS)
    assert rules(reasons) == ["R3"]
    assert "[9]" in reasons[0].message


def test_r1_importation_into_a_country_not_on_the_carnet_is_refused():
    c = placed(carnet(active=True), i1=(EXPORTED, None))
    reasons = check_declaration(c, K.IMPORTATION, "US", [1], BEFORE, PARIS)
    assert rules(reasons) == ["R1"]


def test_only_listed_items_move():
    c = apply_crossing(carnet(4), K.EXPORTATION, "FR", [2, 4], None)
    assert {n: i.location for n, i in c.items.items()} == {1: HOME, 2: EXPORTED, 3: HOME, 4: EXPORTED}
    c2 = apply_crossing(c, K.IMPORTATION, "CH", [4], None)
    assert {n: i.location for n, i in c2.items.items()} == {1: HOME, 2: EXPORTED, 3: HOME, 4: ABROAD}
    assert c2.items[2] == c.items[2]


# --- R10: activation ------------------------------------------------------------------------


def test_r10_entry_abroad_before_activation_is_refused():
    c = placed(carnet(active=False), i1=(EXPORTED, None))
    assert rules(check_declaration(c, K.IMPORTATION, "CH", [1], BEFORE, PARIS)) == ["R10"]
    assert rules(check_declaration(c, K.TRANSIT_ENTRY, "CH", [1], BEFORE, PARIS)) == ["R10"]


@pytest.mark.parametrize("kind", [k for k in K if k is not K.EXPORTATION])
def test_r10_only_an_exportation_activates(kind):
    country = COUNTRY[kind]
    c = placed(carnet(), i1=(FROM[kind], country if FROM[kind] in (ABROAD, IN_TRANSIT) else None))
    assert apply_crossing(c, kind, country, [1], None).active is False


def test_r10_the_first_exportation_activates_and_activation_stays():
    c = apply_crossing(carnet(), K.EXPORTATION, "FR", [1], None)
    assert c.active
    c = apply_crossing(c, K.REIMPORTATION, "FR", [1], None)
    assert c.active


# --- R12: expiry ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r12_entry_is_refused_after_expiry_in_the_office_zone(kind):
    c = placed(carnet(active=True), i1=(EXPORTED, None))
    last_minute = datetime(2027, 11, 21, 22, 59, tzinfo=UTC)  # 23:59 in Zurich
    too_late = datetime(2027, 11, 21, 23, 0, tzinfo=UTC)  # 00:00 on 22 Nov in Zurich
    assert check_declaration(c, kind, "CH", [1], last_minute, ZURICH) == []
    reasons = check_declaration(c, kind, "CH", [1], too_late, ZURICH)
    assert rules(reasons) == ["R12"]


def test_r12_declaration_time_judges_in_the_latest_zone():
    c = placed(carnet(active=True), i1=(EXPORTED, None))
    # 22 Nov 11:59 UTC is still 21 Nov in Etc/GMT+12 (UTC-12): valid somewhere
    assert check_declaration(c, K.IMPORTATION, "CH", [1], datetime(2027, 11, 22, 11, 59, tzinfo=UTC)) == []
    assert rules(check_declaration(c, K.IMPORTATION, "CH", [1],
                                   datetime(2027, 11, 22, 12, 0, tzinfo=UTC))) == ["R12"]
    assert LATEST_ZONE.key == "Etc/GMT+12"


@pytest.mark.parametrize("kind", [K.REIMPORTATION, K.REEXPORTATION, K.TRANSIT_DISCHARGE, K.EXPORTATION])
def test_r12_leaving_and_coming_home_are_allowed_after_expiry(kind):
    country = COUNTRY[kind]
    c = placed(carnet(active=True), i1=(FROM[kind], country if FROM[kind] in (ABROAD, IN_TRANSIT) else None))
    long_after = datetime(2028, 6, 1, tzinfo=UTC)
    assert check_declaration(c, kind, country, [1], long_after, PARIS) == []


# --- R13: final dates ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r13_final_date_defaults_to_expiry_and_a_restriction_is_kept(kind):
    c = placed(carnet(active=True), i1=(EXPORTED, None), i2=(EXPORTED, None))
    assert apply_crossing(c, kind, "CH", [1], None).items[1].final_date == EXPIRY
    restricted = date(2027, 3, 31)
    assert apply_crossing(c, kind, "CH", [2], restricted).items[2].final_date == restricted


def test_r13_a_final_date_after_expiry_is_refused():
    c = placed(carnet(active=True), i1=(EXPORTED, None))
    with pytest.raises(DeadlineError):
        apply_crossing(c, K.IMPORTATION, "CH", [1], date(2027, 11, 22))


def test_r13_leaving_clears_the_final_date():
    c = placed(carnet(active=True), i1=(ABROAD, "CH"))
    assert apply_crossing(c, K.REEXPORTATION, "CH", [1], None).items[1] == Item(1, EXPORTED, None, None)


# --- R8: sequences -----------------------------------------------------------------------------


def test_r8_next_sequence():
    assert next_sequence([]) == 1
    assert next_sequence([1]) == 2
    assert next_sequence([1, 2, 3]) == 4
    assert next_sequence([3, 1, 2]) == 4


# --- the declared party ----------------------------------------------------------------------------


def test_r9_only_holder_and_representatives_may_declare():
    c = carnet()
    assert c.may_declare("hld_1") and c.may_declare("rep_1")
    assert not c.may_declare("someone_else")


# --- property: random journeys ----------------------------------------------------------------------

KINDS_FROM = {loc: [k for k in K if FROM[k] == loc] for loc in (HOME, EXPORTED, ABROAD, IN_TRANSIT)}


@st.composite
def step(draw, c: Carnet):
    """One crossing: usually a plausible one for where a random item is now, sometimes anything at all."""
    if draw(st.booleans()):
        item = c.items[draw(st.sampled_from(sorted(c.items)))]
        kind = draw(st.sampled_from(KINDS_FROM[item.location]))
        if item.country:
            country = item.country
        elif kind in (K.EXPORTATION, K.REIMPORTATION):
            country = "FR"
        else:
            country = draw(st.sampled_from(["CH", "GB"]))
        others = draw(st.lists(st.sampled_from(sorted(c.items)), max_size=2))
        items = [item.number, *others]
    else:
        kind = draw(st.sampled_from(list(K)))
        country = draw(st.sampled_from(["FR", "CH", "GB", "DE", "US"]))
        items = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    final = draw(st.sampled_from([None, date(2027, 1, 31), EXPIRY]))
    return kind, country, items, final


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_property_accepted_crossings_keep_every_item_in_exactly_one_consistent_place(data):
    """Apply only what check_declaration accepts; every item stays in one coherent place (R11), is never
    imported twice without leaving, has a final date only while abroad (R13), and entry needs activation (R10)."""
    c = carnet(3)
    inside: dict[int, bool] = {n: False for n in c.items}  # entered a foreign country and not yet left
    exported_once = False
    for _ in range(data.draw(st.integers(1, 30), label="steps")):
        kind, country, items, final = data.draw(step(c))
        if check_declaration(c, kind, country, items, BEFORE, PARIS):
            continue
        if kind in (K.IMPORTATION, K.TRANSIT_ENTRY):
            assert c.active, "R10: entry abroad needs an activated carnet"
        exported_once = exported_once or kind is K.EXPORTATION
        before = c
        c = apply_crossing(c, kind, country, items, final)
        for n in c.items:
            if n not in items:
                assert c.items[n] == before.items[n], "an item moved without being listed"
        for n in set(items):
            if kind in (K.IMPORTATION, K.TRANSIT_ENTRY):
                assert not inside[n], f"item {n} entered twice without leaving"
                inside[n] = True
            elif kind in (K.REEXPORTATION, K.TRANSIT_DISCHARGE):
                assert inside[n]
                inside[n] = False
        for n, item in c.items.items():
            if item.location in (ABROAD, IN_TRANSIT):
                assert item.country in ("CH", "GB", "DE")
                assert item.final_date is not None and item.final_date <= EXPIRY
                assert inside[n]
            else:
                assert item.location in (HOME, EXPORTED)
                assert item.country is None and item.final_date is None
                assert not inside[n]
    assert c.active == exported_once, "R10: active exactly when an exportation was applied"
