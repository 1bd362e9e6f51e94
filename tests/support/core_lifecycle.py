"""What the lifecycle unit tests share (core/domain/lifecycle.py): carnets and items placed where a test
needs them, and the codes of a refusal. Pure: no I/O, no wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from core.domain import (
    ABROAD,
    ACCOUNTED,
    EXPORTED,
    IN_TRANSIT,
    VALID,
    Carnet,
    CountryPolicy,
    Crossing,
    Item,
    LifecycleRefused,
    check_declaration,
)

EXPIRY = date(2027, 11, 21)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
NUMBER, DUPLICATE, SUCCESSOR = "FR2600000010", "FR2600000028", "FR2700000036"


def carnet(*placed: Item, n: int = 3, number: str = NUMBER, expiry: date = EXPIRY, status: str = VALID) -> Carnet:
    items = {i: Item(i) for i in range(1, n + 1)}
    items.update({i.number: i for i in placed})
    return Carnet(
        number=number,
        home_country="FR",
        countries=("CH", "GB", "DE"),
        expiry_date=expiry,
        holder_id="hld_1",
        representative_ids=("rep_1",),
        active=True,
        items=items,
        status=status,
    )


def abroad(
    n: int, country: str = "CH", *, final: date = date(2027, 6, 30), exported_by: int = 1, entered_by: int = 1
) -> Item:
    return Item(n, ABROAD, country, final, exported_by=exported_by, entered_by=entered_by)


def in_transit(n: int, country: str = "CH") -> Item:
    return Item(n, IN_TRANSIT, country, date(2027, 2, 1), exported_by=1, entered_by=2)


def exported(n: int, exported_by: int = 1) -> Item:
    return Item(n, EXPORTED, exported_by=exported_by)


def accounted(n: int, country: str = "CH") -> Item:
    return Item(n, ACCOUNTED, country, exported_by=1, entered_by=1, note="receipt CH-2027-1")


def codes(reasons) -> list[tuple[str, str | None]]:
    return [(r.rule, r.code) for r in reasons]


def refusal(call, *args, **kwargs) -> list[tuple[str, str | None]]:
    with pytest.raises(LifecycleRefused) as caught:
        call(*args, **kwargs)
    return codes(caught.value.reasons)


def declare(c: Carnet, crossing: Crossing):
    return check_declaration(c, crossing, BEFORE, CountryPolicy(crossing.country), "label")
