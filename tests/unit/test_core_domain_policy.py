"""The ledger's declaration rules that a country policy sets (core/domain/policy.py): R14 split shipments, R15
maximum stay, R16 digital date.

Pure: no I/O, no wall clock (every instant is a literal).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    ACCOUNTED,
    EXPORTED,
    TRANSFERRED,
    CountryPolicy,
    PolicyBook,
    check_declaration,
    final_date_for,
    parse_policy_book,
)
from tests.support.core_domain import (
    AUCKLAND,
    BEFORE,
    BOOK,
    CLOSING,
    DAY,
    EXPIRY,
    PARIS,
    SPEC_FROM,
    VERSION,
    carnet,
    check,
    codes,
    commit,
    cross,
    item,
    local,
)

# --- R14: split shipments --------------------------------------------------------------------------


def test_r14_importation_must_cover_every_item_where_split_shipments_are_forbidden():
    c = carnet(item(1, EXPORTED), item(2, EXPORTED), item(3, EXPORTED))
    reasons = check(c, cross(K.IMPORTATION, "MX", [1, 2]))
    assert codes(reasons) == [("R14", "split_shipment_forbidden")]
    assert reasons[0].policy == f"country-policy {VERSION} MX"
    assert reasons[0].field == "items"
    assert "[1, 2, 3]" in reasons[0].message
    assert check(c, cross(K.IMPORTATION, "MX", [1, 2, 3])) == []


@pytest.mark.parametrize("gone", [ACCOUNTED, TRANSFERRED])
def test_r14_items_accounted_for_or_transferred_are_not_part_of_the_whole(gone):
    c = carnet(item(1, EXPORTED), item(2, EXPORTED), item(3, gone, "CH"))
    assert check(c, cross(K.IMPORTATION, "MX", [1, 2])) == []
    assert codes(check(c, cross(K.IMPORTATION, "MX", [1]))) == [("R14", "split_shipment_forbidden")]


def test_r14_an_item_left_at_home_still_belongs_to_the_whole_list():
    c = carnet(item(1, EXPORTED), item(2, EXPORTED))  # item 3 is home
    assert ("R14", "split_shipment_forbidden") in codes(check(c, cross(K.IMPORTATION, "MX", [1, 2])))


def test_r14_reexportation_must_cover_the_whole_set_that_entered_with_the_named_importation():
    c = carnet(item(1, EXPORTED), item(2, EXPORTED), item(3, EXPORTED))
    c = commit(c, cross(K.IMPORTATION, "MX", [1, 2, 3]), 1)
    reasons = check(c, cross(K.REEXPORTATION, "MX", [1, 2]))
    assert codes(reasons) == [("R14", "split_shipment_forbidden")]
    assert reasons[0].policy == f"country-policy {VERSION} MX"
    assert check(c, cross(K.REEXPORTATION, "MX", [1, 2, 3])) == []


def test_r14_the_whole_set_is_the_one_of_the_named_importation_only():
    c = carnet(
        item(1, ABROAD, "MX", entered_by=1), item(2, ABROAD, "MX", entered_by=1), item(3, ABROAD, "MX", entered_by=2)
    )
    assert check(c, cross(K.REEXPORTATION, "MX", [1, 2], closes=1)) == []
    assert check(c, cross(K.REEXPORTATION, "MX", [3])) == []
    assert codes(check(c, cross(K.REEXPORTATION, "MX", [1], closes=1))) == [("R14", "split_shipment_forbidden")]


def test_r14_split_shipments_are_allowed_where_the_policy_allows_them():
    c = carnet(item(1, EXPORTED), item(2, EXPORTED), item(3, EXPORTED))
    assert check(c, cross(K.IMPORTATION, "CH", [1])) == []
    c = commit(c, cross(K.IMPORTATION, "CH", [1, 2, 3]), 1)
    assert check(c, cross(K.REEXPORTATION, "CH", [2])) == []


@pytest.mark.parametrize("kind", [K.TRANSIT_ENTRY, K.TRANSIT_DISCHARGE])
def test_r14_transit_is_not_restricted(kind):
    c = carnet(item(1, SPEC_FROM[kind], "MX"), item(2, SPEC_FROM[kind], "MX"), item(3, SPEC_FROM[kind], "MX"))
    assert check(c, cross(kind, "MX", [1], closes=1 if kind in CLOSING else None)) == []


def test_r14_a_default_policy_is_labelled_as_the_default():
    book = PolicyBook("v9", default=CountryPolicy("ZZ", split_shipments=False))
    c = carnet(item(1, EXPORTED), item(2, EXPORTED), item(3, EXPORTED))
    reasons = check(c, cross(K.IMPORTATION, "GB", [1]), book=book)
    assert [(r.rule, r.policy) for r in reasons] == [("R14", "country-policy v9 GB (default)")]


# --- R15: maximum stay -----------------------------------------------------------------------------

MX = BOOK.for_country("MX")  # 90 days


def test_r15_the_entry_day_counts_as_the_first_day_of_the_stay():
    c = carnet(item(1, EXPORTED))
    entry = date(2027, 1, 10)
    last = final_date_for(c, K.IMPORTATION, None, local(entry, PARIS), PARIS, MX)
    assert last == date(2027, 4, 9) == entry + 89 * DAY
    one_day = CountryPolicy("MX", max_stay_days=1)
    assert final_date_for(c, K.IMPORTATION, None, local(entry, PARIS), PARIS, one_day) == entry


@pytest.mark.parametrize(
    ("last_stay_day", "expected"),
    [
        (EXPIRY - DAY, EXPIRY - DAY),  # the stay ends the day before expiry: it binds
        (EXPIRY, EXPIRY),  # the day of: both agree
        (EXPIRY + DAY, EXPIRY),  # the day after: never beyond expiry
    ],
    ids=["day-before", "day-of", "day-after"],
)
def test_r15_max_stay_shortens_the_final_date_but_never_beyond_expiry(last_stay_day, expected):
    entry = last_stay_day - 89 * DAY
    at = local(entry, AUCKLAND, 8)  # still the previous day in UTC
    assert at.astimezone(UTC).date() == entry - DAY
    c = carnet(item(1, EXPORTED), n=1)
    assert final_date_for(c, K.IMPORTATION, None, at, AUCKLAND, MX) == expected
    moved = commit(c, cross(K.IMPORTATION, "MX", [1]), 1, at, AUCKLAND, book=BOOK)
    assert moved.items[1].final_date == expected


def test_r15_the_entry_day_is_the_office_local_day():
    at = datetime(2027, 1, 10, 20, 0, tzinfo=UTC)  # 10 Jan 21:00 in Paris, 11 Jan 09:00 in Auckland
    c = carnet(item(1, EXPORTED))
    assert final_date_for(c, K.IMPORTATION, None, at, PARIS, MX) == date(2027, 4, 9)
    assert final_date_for(c, K.IMPORTATION, None, at, AUCKLAND, MX) == date(2027, 4, 10)


def test_r15_the_earlier_of_a_restriction_and_the_max_stay_wins():
    at, c = local(date(2027, 1, 10), PARIS), carnet(item(1, EXPORTED))
    assert final_date_for(c, K.IMPORTATION, date(2027, 2, 1), at, PARIS, MX) == date(2027, 2, 1)
    assert final_date_for(c, K.IMPORTATION, date(2027, 6, 1), at, PARIS, MX) == date(2027, 4, 9)


def test_r15_without_a_max_stay_the_final_date_is_the_expiry():
    at, c = local(date(2027, 1, 10), PARIS), carnet(item(1, EXPORTED))
    assert final_date_for(c, K.IMPORTATION, None, at, PARIS, CountryPolicy("CH")) == EXPIRY


def test_r15_the_max_stay_applies_to_importation_not_to_transit():
    at, c = local(date(2027, 1, 10), PARIS), carnet(item(1, EXPORTED))
    assert final_date_for(c, K.TRANSIT_ENTRY, None, at, PARIS, MX) == EXPIRY


def test_r15_policy_is_data_and_refusals_name_its_version():
    book = parse_policy_book(
        {
            "version": "2027-01-05.3",
            "default": {"split_shipments": True},
            "countries": [{"country": "MX", "split_shipments": False, "max_stay_days": 30}],
        }
    )
    c = carnet(item(1, EXPORTED), item(2, EXPORTED), item(3, EXPORTED))
    reasons = check(c, cross(K.IMPORTATION, "MX", [1]), book=book)
    assert [(r.rule, r.policy) for r in reasons] == [("R14", "country-policy 2027-01-05.3 MX")]
    at = local(date(2027, 1, 10), PARIS)
    assert final_date_for(c, K.IMPORTATION, None, at, PARIS, book.for_country("MX")) == date(2027, 2, 8)
    assert final_date_for(c, K.IMPORTATION, None, at, PARIS, book.for_country("CH")) == EXPIRY


# --- R16: digital date --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digital_date",
    [None, BEFORE.date() - DAY, BEFORE.date(), BEFORE.date() + DAY, date(2030, 1, 1)],
    ids=["none", "day-before", "day-of", "day-after", "far-future"],
)
def test_r16_a_digital_declaration_is_accepted_whatever_the_digital_date(digital_date):
    """Before the digital date a country may take both paper and digital; from it, only digital.
    The core only sees digital declarations, so the digital date never refuses one."""
    policy = CountryPolicy("CH", digital_date=digital_date)
    c = carnet(item(1, EXPORTED))
    reasons = check_declaration(c, cross(K.IMPORTATION, "CH", [1]), BEFORE, policy, "label", PARIS)
    assert reasons == []
    refused = check_declaration(c, cross(K.IMPORTATION, "CH", [1], intended_use=""), BEFORE, policy, "label", PARIS)
    assert [r.rule for r in refused] == ["R9"]  # the check did run; no R16 reason among its refusals
