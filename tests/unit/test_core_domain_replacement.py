"""A carnet's replacement (R6, core/domain/lifecycle.py): the expiry-day boundary in the issuing country, what
is taken over. Pure: no I/O, no wall clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    CLOSED,
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
    check_declaration,
    close,
    replacement,
)
from tests.support.core_lifecycle import (
    BEFORE,
    EXPIRY,
    NUMBER,
    SUCCESSOR,
    abroad,
    accounted,
    carnet,
    codes,
    exported,
    in_transit,
    refusal,
)

NEW_EXPIRY = date(2028, 11, 20)
POLICIES = {"CH": CountryPolicy("CH", replacement_accepted=True), "GB": CountryPolicy("GB")}


def policy_of(country: str) -> CountryPolicy:
    return POLICIES.get(country, CountryPolicy(country))


def fresh(n: int = 6, number: str = SUCCESSOR) -> Carnet:
    """A replacement carnet as issued: every item at home, not yet active."""
    return Carnet(
        number=number,
        home_country="FR",
        countries=("CH", "GB", "DE"),
        expiry_date=NEW_EXPIRY,
        holder_id="hld_1",
        items={i: Item(i) for i in range(1, n + 1)},
    )


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
        date(2027, 11, 20),
        EXPIRY,
        EXPIRY,
        date(2027, 11, 22),
    ]


@pytest.mark.parametrize("at", [DAY_BEFORE, DAY_OF_FIRST, DAY_OF_LAST], ids=["day-before", "day-of", "day-of-last"])
def test_r6_replacement_applied_for_and_approved_up_to_the_expiry_day_is_accepted(at):
    _, _, taken = replacement(carnet(abroad(1)), fresh(), at - timedelta(hours=1), at, policy_of, now=at)
    assert taken == [1]


@pytest.mark.parametrize(
    ("requested_at", "approved_at"),
    [
        (DAY_OF_LAST, DAY_AFTER),  # applied for in time, approved the day after
        (DAY_AFTER, DAY_AFTER + timedelta(days=3)),  # applied for too late
    ],
    ids=["approved-day-after", "both-late"],
)
def test_r6_replacement_applied_for_or_approved_after_the_expiry_day_is_refused(requested_at, approved_at):
    assert refusal(replacement, carnet(abroad(1)), fresh(), requested_at, approved_at, policy_of, now=approved_at) == [
        ("R6", "replacement_too_late")
    ]


def test_r6_an_approval_stamped_before_the_application_is_refused():
    assert refusal(replacement, carnet(abroad(1)), fresh(), DAY_AFTER, DAY_OF_LAST, policy_of, now=DAY_AFTER) == [
        ("R6", "approved_before_applied"),
        ("R6", "replacement_too_late"),
    ]


def test_r6_replacement_takes_over_only_goods_abroad_in_countries_that_accept_it():
    original = carnet(
        abroad(1, final=date(2027, 3, 31), exported_by=1, entered_by=2),
        in_transit(2, "CH"),
        abroad(3, "GB"),
        exported(4),
        accounted(5),
        n=6,
    )
    kept, new, taken = replacement(original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert taken == [1, 2]
    for n in (1, 2):  # the original is closed for them
        assert kept.items[n] == Item(
            n,
            TRANSFERRED,
            None,
            None,
            exported_by=original.items[n].exported_by,
            entered_by=original.items[n].entered_by,
            note=SUCCESSOR,
        )
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
    kept, new, taken = replacement(
        carnet(abroad(1), abroad(2, "DE")), narrow, BEFORE, BEFORE, policies.__getitem__, now=BEFORE
    )
    assert taken == [1]
    assert kept.items[2] == carnet(abroad(2, "DE")).items[2]
    assert new.items[2] == Item(2, TRANSFERRED, note=NUMBER)  # still out under the original


@pytest.mark.parametrize(
    "original",
    [
        carnet(abroad(1, "GB"), in_transit(2, "GB")),  # abroad, but where replacements are not accepted
        carnet(exported(1), accounted(2)),  # nothing abroad
        carnet(),  # everything at home
    ],
    ids=["refusing-country", "nothing-abroad", "all-home"],
)
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


def test_r6_goods_still_out_under_the_original_cannot_be_exported_again_on_the_replacement():
    """Item 2 stays abroad in GB (no replacements there): on the replacement it is held by the original."""
    original = carnet(abroad(1, "CH"), abroad(2, "GB"))
    _, taken_over, moved = replacement(original, fresh(), BEFORE, BEFORE, policy_of, now=BEFORE)
    assert moved == [1]
    assert taken_over.items[2].location == TRANSFERRED and taken_over.items[2].note == NUMBER
    reasons = check_declaration(taken_over, Crossing.of(K.EXPORTATION, "FR", [2]), BEFORE, policy_of("FR"), "test")
    assert [r.code for r in reasons] == ["item_not_there"]
