"""Duty receipts (R17, core/domain/lifecycle.py): goods abroad in that country are accounted for there. Pure: no I/O, no
wall clock."""

from __future__ import annotations

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import ABROAD, ACCOUNTED, CLOSED, VOIDED, Crossing, LifecycleRefused, account_for, close
from tests.support.core_lifecycle import abroad, accounted, carnet, codes, declare, exported, in_transit, refusal

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


@pytest.mark.parametrize(
    "items",
    [[3], [1, 3], [4], [5], [6], [9]],
    ids=["other-country", "one-of-two-elsewhere", "exported", "home", "accounted", "unknown"],
)
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


def test_r17_a_duty_receipt_names_at_least_one_item():
    with pytest.raises(LifecycleRefused) as refused:
        account_for(carnet(abroad(1)), [], "CH", "CH-RCPT-1")
    assert refused.value.reasons[0].code == "no_items"
