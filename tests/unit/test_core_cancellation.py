"""Cancelling a committed crossing (issue 4, item 8): the holder's code is the consent, only customs of the
transaction's country may cancel (R18), and only while the goods are where that crossing put them (R11);
the first exportation's activation is undone with it (R10). Pure: core.domain.cancellation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import HOME, VOIDED, Carnet, LifecycleRefused
from core.domain.cancellation import Committed, cancel
from tests.support.core_domain import carnet, commit, cross, item

CODE = "0H4N8WQ2C3TZ5"


def committed(before: Carnet, after: Carnet, crossing, sequence: int = 1, code: str = CODE) -> Committed:
    """What the ledger keeps of a committed crossing (as core.usecases.commits records it)."""
    return Committed(
        kind=crossing.kind,
        country=crossing.country,
        sequence=sequence,
        cancellation_code=code,
        items_before={n: before.items[n] for n in crossing.items},
        items_after={n: after.items[n] for n in crossing.items},
        active_before=before.active,
    )


def reasons(exc: pytest.ExceptionInfo[LifecycleRefused]) -> list[tuple[str, str | None]]:
    return [(r.rule, r.code) for r in exc.value.reasons]


def test_r10_cancelling_the_first_exportation_puts_the_goods_home_and_undoes_the_activation():
    fresh = carnet(active=False)
    exportation = cross(K.EXPORTATION, "FR", [1, 2])
    used = commit(fresh, exportation, 1)
    assert used.active and used.items[1].location != HOME

    undone = cancel(used, committed(fresh, used, exportation), CODE, "FR")

    assert undone.items == fresh.items
    assert undone.active is False


def test_r10_the_carnet_stays_active_while_another_exportation_stands():
    fresh = carnet(active=False)
    first = cross(K.EXPORTATION, "FR", [1])
    after_first = commit(fresh, first, 1)
    after_second = commit(after_first, cross(K.EXPORTATION, "FR", [2]), 2)

    undone = cancel(after_second, committed(fresh, after_first, first), CODE, "FR")

    assert undone.items[1] == fresh.items[1]
    assert undone.items[2] == after_second.items[2]
    assert undone.active is True


def test_r11_cancelling_an_importation_puts_the_goods_back_as_exported_with_no_final_date():
    exported = carnet(item(1, "exported"), item(2, "exported"))
    importation = cross(K.IMPORTATION, "CH", [1, 2])
    abroad = commit(exported, importation, 1)
    assert abroad.items[1].final_date is not None

    undone = cancel(abroad, committed(exported, abroad, importation), CODE, "CH")

    assert undone.items == exported.items


def test_r11_goods_moved_on_by_a_later_crossing_are_refused_item_by_item():
    exported = carnet(item(1, "exported"), item(2, "exported"))
    importation = cross(K.IMPORTATION, "CH", [1, 2])
    abroad = commit(exported, importation, 1)
    partly_back = commit(abroad, cross(K.REEXPORTATION, "CH", [2], closes=1), 1)

    with pytest.raises(LifecycleRefused) as refused:
        cancel(partly_back, committed(exported, abroad, importation), CODE, "CH")

    assert reasons(refused) == [("R11", "goods_moved_on")]
    assert refused.value.reasons[0].item_number == 2


def test_a_wrong_cancellation_code_is_the_only_reason_given():
    """A wrong code learns nothing else: not the country, not whether the goods moved."""
    exported = carnet(item(1, "exported"))
    importation = cross(K.IMPORTATION, "CH", [1])
    abroad = commit(exported, importation, 1)
    moved_on = commit(abroad, cross(K.REEXPORTATION, "CH", [1], closes=1), 1)

    with pytest.raises(LifecycleRefused) as refused:
        cancel(moved_on, committed(exported, abroad, importation), "0H4N8WQ2C3TZ6", "US")

    assert reasons(refused) == [("cancellation", "wrong_cancellation_code")]


def test_r18_only_customs_of_the_transactions_country_may_cancel_it():
    exported = carnet(item(1, "exported"))
    importation = cross(K.IMPORTATION, "CH", [1])
    abroad = commit(exported, importation, 1)

    with pytest.raises(LifecycleRefused) as refused:
        cancel(abroad, committed(exported, abroad, importation), CODE, "FR")

    assert reasons(refused) == [("R18", "wrong_country")]


def test_a_transaction_is_cancelled_once():
    fresh = carnet(active=False)
    exportation = cross(K.EXPORTATION, "FR", [1])
    used = commit(fresh, exportation, 1)
    done = replace(committed(fresh, used, exportation), cancelled=True)

    with pytest.raises(LifecycleRefused) as refused:
        cancel(used, done, CODE, "FR")

    assert reasons(refused) == [("cancellation", "already_cancelled")]


def test_r5_a_voided_carnets_history_no_longer_changes():
    fresh = carnet(active=False)
    exportation = cross(K.EXPORTATION, "FR", [1])
    used = commit(fresh, exportation, 1)

    with pytest.raises(LifecycleRefused) as refused:
        cancel(replace(used, status=VOIDED), committed(fresh, used, exportation), CODE, "FR")

    assert reasons(refused) == [("cancellation", "carnet_voided")]
