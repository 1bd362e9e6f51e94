"""A carnet's closure and discharge (R7, core/domain/lifecycle.py): only once every item is home, accounted
for or transferred. Pure: no I/O, no wall clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import CLOSED, TRANSFERRED, VOIDED, Crossing, Item, LifecycleRefused, close, discharged
from tests.support.core_lifecycle import (
    SUCCESSOR,
    abroad,
    accounted,
    carnet,
    codes,
    declare,
    exported,
    in_transit,
    refusal,
)


def transferred(n: int) -> Item:
    return Item(n, TRANSFERRED, note=SUCCESSOR)


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
    assert closing.reason == (
        f"closed by hld_1: 2 item(s) home, 2 accounted for by duty receipt, 1 taken over by {SUCCESSOR}"
    )
    assert closed.items == c.items


def test_r7_a_carnet_never_used_closes_with_everything_home():
    _, closing = close(carnet(n=2), "hld_1")
    assert closing.home == [1, 2] and closing.accounted == [] and closing.transferred == []
    assert "2 item(s) home, 0 accounted" in closing.reason


@pytest.mark.parametrize(
    "crossing",
    [
        Crossing.of(K.EXPORTATION, "FR", [1]),
        Crossing.of(K.IMPORTATION, "CH", [1], intended_use="fair"),
    ],
    ids=lambda c: c.kind.value,
)
def test_r7_a_closed_carnet_takes_no_declaration(crossing):
    c = carnet(exported(1)) if crossing.kind is K.IMPORTATION else carnet()
    assert declare(c, crossing) == []
    closed = replace(c, status=CLOSED)
    assert codes(declare(closed, crossing)) == [("R7", "carnet_closed")]


@pytest.mark.parametrize(("status", "code"), [(VOIDED, "carnet_voided"), (CLOSED, "carnet_closed")])
def test_r7_a_voided_or_closed_carnet_cannot_be_closed_again(status, code):
    assert refusal(close, carnet(status=status), "hld_1") == [("R7", code)]
