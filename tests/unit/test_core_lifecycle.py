"""A carnet's life beyond crossings (core/domain/lifecycle.py): duplicate (R5), replacement (R6),
closure and discharge (R7), duty receipts (R17). Pure: no I/O, no wall clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    ACCOUNTED,
    CLOSED,
    EXPORTED,
    IN_TRANSIT,
    TRANSFERRED,
    VALID,
    VOIDED,
    Carnet,
    CountryPolicy,
    Crossing,
    Item,
    LifecycleRefused,
    account_for,
    apply_crossing,
    check_declaration,
    close,
    discharged,
    duplicate,
    replacement,
)

EXPIRY = date(2027, 11, 21)
NEW_EXPIRY = date(2028, 11, 20)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NUMBER, DUPLICATE, SUCCESSOR = "FR2600000010", "FR2600000028", "FR2700000036"
POLICIES = {"CH": CountryPolicy("CH", replacement_accepted=True), "GB": CountryPolicy("GB")}


def policy_of(country: str) -> CountryPolicy:
    return POLICIES.get(country, CountryPolicy(country))


def carnet(*placed: Item, n: int = 3, number: str = NUMBER, expiry: date = EXPIRY, status: str = VALID) -> Carnet:
    items = {i: Item(i) for i in range(1, n + 1)}
    items.update({i.number: i for i in placed})
    return Carnet(number=number, home_country="FR", countries=("CH", "GB", "DE"), expiry_date=expiry,
                  holder_id="hld_1", representative_ids=("rep_1",), active=True, items=items, status=status)


def abroad(n: int, country: str = "CH", *, final: date = date(2027, 6, 30), exported_by: int = 1,
           entered_by: int = 1) -> Item:
    return Item(n, ABROAD, country, final, exported_by=exported_by, entered_by=entered_by)


def in_transit(n: int, country: str = "CH") -> Item:
    return Item(n, IN_TRANSIT, country, date(2027, 2, 1), exported_by=1, entered_by=2)


def exported(n: int, exported_by: int = 1) -> Item:
    return Item(n, EXPORTED, exported_by=exported_by)


def accounted(n: int, country: str = "CH") -> Item:
    return Item(n, ACCOUNTED, country, exported_by=1, entered_by=1, note="receipt CH-2027-1")


def transferred(n: int) -> Item:
    return Item(n, TRANSFERRED, note=SUCCESSOR)


def fresh(n: int = 6, number: str = SUCCESSOR) -> Carnet:
    """A replacement carnet as issued: every item at home, not yet active."""
    return Carnet(number=number, home_country="FR", countries=("CH", "GB", "DE"), expiry_date=NEW_EXPIRY,
                  holder_id="hld_1", items={i: Item(i) for i in range(1, n + 1)})


def codes(reasons) -> list[tuple[str, str | None]]:
    return [(r.rule, r.code) for r in reasons]


def refusal(call, *args, **kwargs) -> list[tuple[str, str | None]]:
    with pytest.raises(LifecycleRefused) as caught:
        call(*args, **kwargs)
    return codes(caught.value.reasons)


def declare(c: Carnet, crossing: Crossing):
    return check_declaration(c, crossing, BEFORE, CountryPolicy(crossing.country), "label")


# --- R5: duplicate --------------------------------------------------------------------------------


def mixed() -> Carnet:
    return carnet(exported(1, exported_by=2), abroad(2, final=date(2027, 5, 1), entered_by=3),
                  in_transit(3, "GB"), accounted(4), n=5)


def test_r5_the_duplicate_keeps_the_expiry_and_every_item_where_it_is():
    original = mixed()
    _, copy = duplicate(original, DUPLICATE)
    assert copy.number == DUPLICATE
    assert copy.expiry_date == EXPIRY
    assert copy.items == original.items  # location, country, final date, references, notes
    assert copy.items[2] == Item(2, ABROAD, "CH", date(2027, 5, 1), exported_by=1, entered_by=3)
    assert (copy.status, copy.successor, copy.active) == (VALID, None, True)
    assert (copy.home_country, copy.countries, copy.holder_id, copy.representative_ids) == (
        original.home_country, original.countries, original.holder_id, original.representative_ids)


def test_r5_the_original_is_voided_and_names_its_duplicate():
    original = mixed()
    voided, _ = duplicate(original, DUPLICATE)
    assert (voided.number, voided.status, voided.successor) == (NUMBER, VOIDED, DUPLICATE)
    assert voided.items == original.items
    assert original.status == VALID  # the input is not mutated


@pytest.mark.parametrize("crossing", [
    Crossing.of(K.EXPORTATION, "FR", [5]),
    Crossing.of(K.REEXPORTATION, "CH", [2]),
    Crossing.of(K.REIMPORTATION, "FR", [1]),
    Crossing.of(K.TRANSIT_DISCHARGE, "GB", [3]),
], ids=lambda c: c.kind.value)
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


# --- R6: replacement --------------------------------------------------------------------------------

# R6 is judged in the issuing country (FR, Europe/Paris, UTC+1 in November), with the offset each
# timestamp carries; further cases east and west of UTC in test_rules_in_time_zones.py.
DAY_BEFORE = datetime(2027, 11, 20, 22, 0, tzinfo=UTC)  # 20 Nov 23:00 in Paris
DAY_OF_FIRST = datetime(2027, 11, 20, 23, 0, tzinfo=UTC)  # 21 Nov 00:00 in Paris
DAY_OF_LAST = datetime(2027, 11, 21, 22, 59, 59, tzinfo=UTC)  # 21 Nov 23:59:59 in Paris
DAY_AFTER = datetime(2027, 11, 21, 23, 0, tzinfo=UTC)  # 22 Nov 00:00 in Paris


def test_r6_the_boundary_instants_are_on_the_expected_days_in_the_issuing_country():
    paris = ZoneInfo("Europe/Paris")
    assert [at.astimezone(paris).date() for at in (DAY_BEFORE, DAY_OF_FIRST, DAY_OF_LAST, DAY_AFTER)] == [
        date(2027, 11, 20), EXPIRY, EXPIRY, date(2027, 11, 22)]


@pytest.mark.parametrize("at", [DAY_BEFORE, DAY_OF_FIRST, DAY_OF_LAST], ids=["day-before", "day-of", "day-of-last"])
def test_r6_replacement_applied_for_and_approved_up_to_the_expiry_day_is_accepted(at):
    _, _, taken = replacement(carnet(abroad(1)), fresh(), at - timedelta(hours=1), at, policy_of, now=at)
    assert taken == [1]


@pytest.mark.parametrize(("requested_at", "approved_at"), [
    (DAY_OF_LAST, DAY_AFTER),  # applied for in time, approved the day after
    (DAY_AFTER, DAY_AFTER + timedelta(days=3)),  # applied for too late
], ids=["approved-day-after", "both-late"])
def test_r6_replacement_applied_for_or_approved_after_the_expiry_day_is_refused(requested_at, approved_at):
    assert refusal(replacement, carnet(abroad(1)), fresh(), requested_at, approved_at, policy_of,
                   now=approved_at) == [("R6", "replacement_too_late")]


def test_r6_an_approval_stamped_before_the_application_is_refused():
    assert refusal(replacement, carnet(abroad(1)), fresh(), DAY_AFTER, DAY_OF_LAST, policy_of,
                   now=DAY_AFTER) == [("R6", "approved_before_applied"), ("R6", "replacement_too_late")]


def test_r6_replacement_takes_over_only_goods_abroad_in_countries_that_accept_it():
    original = carnet(abroad(1, final=date(2027, 3, 31), exported_by=1, entered_by=2), in_transit(2, "CH"),
                      abroad(3, "GB"), exported(4), accounted(5), n=6)
    kept, new, taken = replacement(original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert taken == [1, 2]
    for n in (1, 2):  # the original is closed for them
        assert kept.items[n] == Item(n, TRANSFERRED, None, None, exported_by=original.items[n].exported_by,
                                     entered_by=original.items[n].entered_by, note=SUCCESSOR)
    assert {n: kept.items[n] for n in (3, 4, 5, 6)} == {n: original.items[n] for n in (3, 4, 5, 6)}
    assert (kept.status, kept.successor, kept.expiry_date) == (VALID, SUCCESSOR, EXPIRY)
    # the replacement holds them where they are, until its own expiry
    assert new.items[1] == Item(1, ABROAD, "CH", NEW_EXPIRY, exported_by=1, entered_by=2)
    assert new.items[2] == Item(2, IN_TRANSIT, "CH", NEW_EXPIRY, exported_by=1, entered_by=2)
    # goods still out under the original are held by it; the rest start at home on the replacement
    assert {n: new.items[n] for n in (3, 4)} == {n: Item(n, TRANSFERRED, note=NUMBER) for n in (3, 4)}
    assert {n: new.items[n] for n in (5, 6)} == {n: Item(n) for n in (5, 6)}
    assert (new.number, new.expiry_date, new.active, new.status) == (SUCCESSOR, NEW_EXPIRY, True, VALID)


def test_r6_the_original_can_close_once_the_remaining_goods_are_home():
    original = carnet(abroad(1), abroad(2, "GB"))
    kept, _, _ = replacement(original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert refusal(close, kept, "hld_1") == [("R7", "goods_still_abroad")]
    kept = account_for(kept, [2], "GB", "receipt GB-1")
    _, closing = close(kept, "hld_1")
    assert closing.transferred == [1] and closing.accounted == [2] and closing.home == [3]
    assert SUCCESSOR in closing.reason


def test_r6_goods_missing_from_the_replacement_list_are_not_taken_over():
    kept, new, taken = replacement(carnet(abroad(1), abroad(2)), fresh(n=1), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert taken == [1]
    assert kept.items[2].location == ABROAD and 2 not in new.items


def test_r6_goods_in_a_country_the_replacement_does_not_cover_are_not_taken_over():
    policies = {**POLICIES, "DE": CountryPolicy("DE", replacement_accepted=True)}
    narrow = replace(fresh(), countries=("CH",))
    kept, new, taken = replacement(carnet(abroad(1), abroad(2, "DE")), narrow, BEFORE, BEFORE, policies.__getitem__, now=BEFORE)
    assert taken == [1]
    assert kept.items[2] == carnet(abroad(2, "DE")).items[2]
    assert new.items[2] == Item(2, TRANSFERRED, note=NUMBER)  # still out under the original


@pytest.mark.parametrize("original", [
    carnet(abroad(1, "GB"), in_transit(2, "GB")),  # abroad, but where replacements are not accepted
    carnet(exported(1), accounted(2)),  # nothing abroad
    carnet(),  # everything at home
], ids=["refusing-country", "nothing-abroad", "all-home"])
def test_r6_replacement_is_refused_when_nothing_qualifies(original):
    with pytest.raises(LifecycleRefused) as caught:
        replacement(original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert codes(caught.value.reasons) == [("R6", "nothing_to_replace")]
    if original.items[1].country == "GB":
        assert "GB" in caught.value.reasons[0].message


@pytest.mark.parametrize(("status", "code"), [(VOIDED, "carnet_voided"), (CLOSED, "carnet_closed")])
def test_r6_a_voided_or_closed_carnet_cannot_be_replaced(status, code):
    original = carnet(abroad(1), status=status)
    assert refusal(replacement, original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE) == [("R6", code)]


# --- R7: closure and discharge --------------------------------------------------------------------


@pytest.mark.parametrize("out", [exported(2), abroad(2), in_transit(2)], ids=lambda i: i.location)
def test_r7_closing_is_refused_while_an_item_is_out(out):
    c = carnet(out, accounted(1))
    assert not discharged(c)
    with pytest.raises(LifecycleRefused) as caught:
        close(c, "hld_1")
    assert codes(caught.value.reasons) == [("R7", "goods_still_abroad")]
    assert "[2]" in caught.value.reasons[0].message


def test_r7_a_carnet_whose_items_are_home_accounted_or_transferred_closes():
    c = replace(carnet(accounted(2), transferred(4), accounted(5, "GB"), n=5), successor=SUCCESSOR)
    assert discharged(c)
    closed, closing = close(c, "hld_1")
    assert closed.status == CLOSED
    assert (closing.home, closing.accounted, closing.transferred) == ([1, 3], [2, 5], [4])
    assert closing.reason == (f"closed by hld_1: 2 item(s) home, 2 accounted for by duty receipt, "
                              f"1 taken over by {SUCCESSOR}")
    assert closed.items == c.items


def test_r7_a_carnet_never_used_closes_with_everything_home():
    _, closing = close(carnet(n=2), "hld_1")
    assert closing.home == [1, 2] and closing.accounted == [] and closing.transferred == []
    assert "2 item(s) home, 0 accounted" in closing.reason


@pytest.mark.parametrize("crossing", [
    Crossing.of(K.EXPORTATION, "FR", [1]),
    Crossing.of(K.IMPORTATION, "CH", [1], intended_use="fair"),
], ids=lambda c: c.kind.value)
def test_r7_a_closed_carnet_takes_no_declaration(crossing):
    c = carnet(exported(1)) if crossing.kind is K.IMPORTATION else carnet()
    assert declare(c, crossing) == []
    closed = replace(c, status=CLOSED)
    assert codes(declare(closed, crossing)) == [("R7", "carnet_closed")]


@pytest.mark.parametrize(("status", "code"), [(VOIDED, "carnet_voided"), (CLOSED, "carnet_closed")])
def test_r7_a_voided_or_closed_carnet_cannot_be_closed_again(status, code):
    assert refusal(close, carnet(status=status), "hld_1") == [("R7", code)]


# --- R17: duty receipts ---------------------------------------------------------------------------


def test_r17_a_duty_receipt_accounts_for_goods_abroad_in_that_country():
    c = carnet(abroad(1), in_transit(2), abroad(3, "GB"))
    after = account_for(c, [2, 1, 1], "CH", "receipt CH-2027-7")
    for n in (1, 2):
        assert after.items[n].location == ACCOUNTED
        assert after.items[n].note == "receipt CH-2027-7"
        assert after.items[n].final_date is None
        assert after.items[n].country == "CH"
    assert after.items[3] == c.items[3]


@pytest.mark.parametrize("items", [[3], [1, 3], [4], [5], [6], [9]],
                         ids=["other-country", "one-of-two-elsewhere", "exported", "home", "accounted", "unknown"])
def test_r17_goods_elsewhere_cannot_be_accounted_for_there(items):
    c = carnet(abroad(1), abroad(3, "GB"), exported(4), accounted(6), n=6)
    with pytest.raises(LifecycleRefused) as caught:
        account_for(c, items, "CH", "receipt CH-1")
    assert codes(caught.value.reasons) == [("R17", "item_not_abroad_there")]
    assert c.items[1].location == ABROAD  # nothing moved


def test_r17_accounted_goods_no_longer_block_closure():
    c = carnet(abroad(1), abroad(2, "GB"))
    assert refusal(close, c, "hld_1") == [("R7", "goods_still_abroad")]
    c = account_for(c, [1], "CH", "receipt CH-1")
    assert refusal(close, c, "hld_1") == [("R7", "goods_still_abroad")]
    c = account_for(c, [2], "GB", "receipt GB-1")
    closed, closing = close(c, "hld_1")
    assert closing.accounted == [1, 2] and closed.status == CLOSED


def test_r17_accounted_goods_take_no_further_crossing():
    c = account_for(carnet(abroad(1)), [1], "CH", "receipt CH-1")
    reasons = declare(c, Crossing.of(K.REEXPORTATION, "CH", [1], closes=1))
    assert codes(reasons) == [("R11", "item_not_there")]


@pytest.mark.parametrize(("status", "code"), [(VOIDED, "carnet_voided"), (CLOSED, "carnet_closed")])
def test_r17_a_voided_or_closed_carnet_takes_no_duty_receipt(status, code):
    c = carnet(abroad(1), status=status)
    assert refusal(account_for, c, [1], "CH", "receipt") == [("R17", code)]


def test_r6_goods_still_out_under_the_original_cannot_be_exported_again_on_the_replacement():
    """Item 2 stays abroad in GB (no replacements there): on the replacement it is held by the original."""
    original = carnet(abroad(1, "CH"), abroad(2, "GB"))
    _, taken_over, moved = replacement(original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert moved == [1]
    assert taken_over.items[2].location == TRANSFERRED and taken_over.items[2].note == NUMBER
    reasons = check_declaration(taken_over, Crossing.of(K.EXPORTATION, "FR", [2]), BEFORE, policy_of("FR"), "test")
    assert [r.code for r in reasons] == ["item_not_there"]


def test_r17_a_duty_receipt_names_at_least_one_item():
    with pytest.raises(LifecycleRefused) as refused:
        account_for(carnet(abroad(1)), [], "CH", "CH-RCPT-1")
    assert refused.value.reasons[0].code == "no_items"
