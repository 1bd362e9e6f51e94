"""Issuance rules (R1-R4), the general-list digest (R3) and carnet numbers (R1). Pure: no I/O."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from contracts.deadlines import r2_max_expiry_date
from contracts.messages import GoodsCategory
from issuer.domain import (
    EXCLUDED,
    carnet_number,
    check_digit,
    check_request,
    general_list_digest,
    is_valid_carnet_number,
)
from tests.support.messages import ISSUE_DATE, goods, issuance_request

ELIGIBLE = [
    GoodsCategory.PROFESSIONAL_EQUIPMENT,
    GoodsCategory.EXHIBITION,
    GoodsCategory.COMMERCIAL_SAMPLES,
    GoodsCategory.OTHER_TREATY,
]


def rules(reasons) -> list[str]:
    return [r.rule for r in reasons]


def test_a_valid_request_has_no_reasons():
    assert check_request(issuance_request()) == []


# --- R2: validity -------------------------------------------------------------------------


def test_r2_expiry_on_the_last_allowed_day_is_accepted():
    latest = r2_max_expiry_date(ISSUE_DATE)
    assert latest == date(2027, 11, 21)
    assert check_request(issuance_request(expiry_date=latest)) == []


def test_r2_expiry_one_day_after_the_last_allowed_day_is_rejected():
    reasons = check_request(issuance_request(expiry_date=r2_max_expiry_date(ISSUE_DATE) + timedelta(days=1)))
    assert rules(reasons) == ["R2"]
    assert reasons[0].field == "expiry_date"
    assert "2027-11-21" in reasons[0].message


def test_r2_expiry_before_issue_is_rejected_and_on_the_issue_day_accepted():
    before = check_request(issuance_request(expiry_date=ISSUE_DATE - timedelta(days=1)))
    assert rules(before) == ["R2"]
    assert "before the issue date" in before[0].message
    assert check_request(issuance_request(expiry_date=ISSUE_DATE)) == []


def test_r2_leap_day_issue_uses_the_period_rule():
    issue = date(2028, 2, 29)
    assert check_request(issuance_request(issue_date=issue, expiry_date=date(2029, 2, 28))) == []
    assert rules(check_request(issuance_request(issue_date=issue, expiry_date=date(2029, 3, 1)))) == ["R2"]


# --- R1: countries --------------------------------------------------------------------------


def test_r1_home_country_among_the_countries_of_use_is_rejected():
    reasons = check_request(issuance_request(countries=["CH", "FR"]))
    assert rules(reasons) == ["R1"]
    assert reasons[0].field == "countries"
    assert "FR" in reasons[0].message


def test_r1_duplicate_countries_are_rejected_and_named():
    reasons = check_request(issuance_request(countries=["CH", "GB", "CH", "GB", "DE"]))
    assert rules(reasons) == ["R1"]
    assert "CH, GB" in reasons[0].message
    assert "DE" not in reasons[0].message


# --- R3: item numbers -------------------------------------------------------------------------


@pytest.mark.parametrize("numbers", [[1, 2, 4], [2, 3, 4], [1, 1, 2], [1, 2, 2], [2], [1, 3]])
def test_r3_item_numbers_must_run_from_one_without_gap_or_repeat(numbers):
    items = [g.model_copy(update={"item_number": n}) for g, n in zip(goods(len(numbers)), numbers, strict=True)]
    reasons = check_request(issuance_request(goods=items))
    assert rules(reasons) == ["R3"]


def test_r3_item_numbers_in_any_order_are_accepted():
    items = list(reversed(goods(4)))
    assert check_request(issuance_request(goods=items)) == []


# --- R4: eligible goods ---------------------------------------------------------------------


@pytest.mark.parametrize("category", sorted(EXCLUDED))
def test_r4_each_excluded_category_gives_one_reason_naming_the_item(category):
    items = goods(3)
    items[1] = items[1].model_copy(update={"category": category})
    reasons = check_request(issuance_request(goods=items))
    assert [(r.rule, r.item_number, r.field) for r in reasons] == [("R4", 2, "goods[1].category")]
    assert reasons[0].message == EXCLUDED[category]


def test_r4_the_excluded_list_is_every_category_that_is_not_eligible():
    assert set(EXCLUDED) == set(GoodsCategory) - set(ELIGIBLE)


@pytest.mark.parametrize("category", ELIGIBLE)
def test_r4_eligible_categories_pass(category):
    items = [g.model_copy(update={"category": category}) for g in goods(3)]
    assert check_request(issuance_request(goods=items)) == []


def test_r4_one_reason_per_excluded_item_all_reported_together_with_other_rules():
    items = [g.model_copy(update={"category": GoodsCategory.TOBACCO}) for g in goods(3)]
    reasons = check_request(issuance_request(goods=items, countries=["FR"]))
    assert [(r.rule, r.item_number) for r in reasons] == [("R1", None), ("R4", 1), ("R4", 2), ("R4", 3)]


# --- R3: the general-list digest ---------------------------------------------------------------


def test_general_list_digest_ignores_input_order():
    items = goods(5)
    assert general_list_digest(items) == general_list_digest(list(reversed(items)))
    assert general_list_digest(items) == general_list_digest(items[2:] + items[:2])


@pytest.mark.parametrize(
    "change",
    [
        {"description": "Camera part 2, s/n X9999"},
        {"quantity": 2},
        {"weight_kg": Decimal("2.3")},
        {"volume_l": Decimal("1.5")},
        {"value": Decimal("1000.01")},
        {"currency": "CHF"},
        {"origin_country": "JP"},
        {"category": GoodsCategory.EXHIBITION},
        {"item_number": 7},
        {"hs_code": "8525.89"},
    ],
)
def test_r3_general_list_digest_changes_when_any_item_field_changes(change):
    items = goods(3)
    changed = list(items)
    changed[1] = items[1].model_copy(update=change)
    assert general_list_digest(changed) != general_list_digest(items)


def test_every_item_field_is_covered_by_the_digest_test():
    # If GoodsItem grows a field, the parametrized list above must grow with it.
    from contracts.messages import GoodsItem

    assert set(GoodsItem.model_fields) == {
        "description",
        "quantity",
        "weight_kg",
        "volume_l",
        "value",
        "currency",
        "origin_country",
        "category",
        "item_number",
        "hs_code",
    }


def test_r3_a_line_without_a_tariff_code_keeps_the_digest_it_had_before_the_code_existed():
    import hashlib
    import json

    items = goods(2)
    before = [g.model_dump(mode="json", exclude={"hs_code"}) for g in items]
    old = hashlib.sha256(json.dumps(before, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert general_list_digest(items) == old


@pytest.mark.parametrize(
    ("hs_code", "refused"),
    [
        ("2208.30", True),  # whisky
        ("220830", True),
        ("2203", True),  # beer
        ("2201.10", True),  # mineral water: consumed on use
        ("2402.20.10", True),  # cigarettes
        ("2106.90", False),  # chapter 21, the one before
        ("2301", False),  # chapter 23, between the two
        ("2501", False),  # chapter 25, the one after
        ("8525.89", False),  # cameras
        (None, False),
    ],
)
def test_r4_the_tariff_code_refuses_chapters_22_and_24_whatever_the_category(hs_code, refused):
    from contracts.messages import GoodsItem

    items = [g.model_copy(update={"category": GoodsCategory.EXHIBITION}) for g in goods(2)]
    items[1] = GoodsItem.model_validate(
        {**items[1].model_dump(), "hs_code": hs_code, "description": "whisky, 12 bottles"}
    )
    reasons = check_request(issuance_request(goods=items))
    assert [(r.rule, r.code, r.item_number, r.field) for r in reasons] == (
        [("R4", "tariff_code_excluded", 2, "goods[1].hs_code")] if refused else []
    )


@pytest.mark.parametrize(
    "hostile", ["22", "2208.3", "22083O", "2208.30.10.10.1", "2208 30", "２２０８", "-2208", "2208\n", "x" * 14]
)
def test_r4_a_tariff_code_outside_the_hs_shape_is_refused_by_the_contract(hostile):
    from pydantic import ValidationError

    from contracts.messages import GoodsItem, SealedItem

    with pytest.raises(ValidationError):
        GoodsItem.model_validate({**goods(1)[0].model_dump(), "hs_code": hostile})
    with pytest.raises(ValidationError):
        SealedItem(item_number=1, quantity=1, origin_country="DE", category="exhibition", hs_code=hostile)


def test_general_list_digest_changes_when_an_item_is_added_or_removed():
    assert general_list_digest(goods(3)) != general_list_digest(goods(4))
    assert general_list_digest(goods(3)) != general_list_digest(goods(3)[:2])


def test_general_list_digest_is_64_hex():
    digest = general_list_digest(goods(2))
    assert len(digest) == 64 and int(digest, 16) >= 0


# --- R1: carnet numbers -------------------------------------------------------------------------

SEQUENCES = list(range(1, 400)) + list(range(1_000_000, 10_000_000, 123_457)) + [9_999_999]


def test_carnet_number_layout():
    number = carnet_number("FR", 2026, 17)
    assert number[:-1] == "FR260000017"
    assert len(number) == 12
    assert is_valid_carnet_number(number)


@pytest.mark.parametrize("sequence", [0, 10_000_000, -1])
def test_carnet_number_refuses_sequences_out_of_range(sequence):
    with pytest.raises(ValueError):
        carnet_number("FR", 2026, sequence)


def test_check_digit_detects_every_single_digit_substitution():
    for seq in SEQUENCES:
        for country, year in (("FR", 2026), ("CH", 2031)):
            number = carnet_number(country, year, seq)
            assert is_valid_carnet_number(number)
            for pos in range(2, 12):
                for d in "0123456789":
                    if d != number[pos]:
                        wrong = number[:pos] + d + number[pos + 1 :]
                        assert not is_valid_carnet_number(wrong), (number, wrong)


def test_check_digit_detects_adjacent_transpositions_except_luhns_09_90_blind_spot():
    """Luhn catches every adjacent transposition of two digits except 0<->9; test exactly that."""
    missed: set[frozenset[str]] = set()
    detected = 0
    for seq in SEQUENCES:
        number = carnet_number("FR", 2026, seq)
        for pos in range(2, 11):
            a, b = number[pos], number[pos + 1]
            if a == b:
                continue
            swapped = number[:pos] + b + a + number[pos + 2 :]
            if is_valid_carnet_number(swapped):
                missed.add(frozenset((a, b)))
            else:
                detected += 1
    assert detected > 1000
    assert missed <= {frozenset("09")}


def test_luhn_blind_spot_is_real_for_09():
    # Documented limitation: 09 <-> 90 keeps the Luhn sum. The number above the 0 doubles it (0 -> 0, 9 -> 9).
    body = "FR260000090"
    swapped = "FR260000009"
    assert check_digit(body) == check_digit(swapped)


def test_is_valid_carnet_number_refuses_bad_shapes():
    good = carnet_number("FR", 2026, 42)
    assert not is_valid_carnet_number(good[:-1])
    assert not is_valid_carnet_number(good + "0")
    assert not is_valid_carnet_number("F1" + good[2:])
    assert not is_valid_carnet_number(good[:5] + "X" + good[6:])


# --- the issued carnet, built without re-validation ----------------------------------------------


def test_r1_r3_issued_sealed_is_exactly_the_validated_carnet():
    """issued_sealed skips pydantic's re-validation (bulk issuance): what it builds must be what
    validation would give, field for field and byte for byte on the wire (R1 number, R3 list)."""
    from contracts.messages import CarnetIssued
    from issuer.domain import issued_sealed
    from tests.support.messages import sealed_request

    req = sealed_request("REQ-9")
    carnet = issued_sealed(req, carnet_number("FR", 2026, 17))
    validated = CarnetIssued.model_validate(carnet.model_dump())
    assert carnet == validated
    assert carnet.model_dump_json() == validated.model_dump_json()
    assert CarnetIssued.model_validate_json(carnet.model_dump_json()) == carnet
    assert [i.item_number for i in carnet.items] == [i.item_number for i in req.items]
    assert carnet.document == req.document and carnet.general_list_digest == req.general_list_digest
