"""Builders for the core's pure domain tests: carnets and items placed by hand, crossings, the policy book in use,
and a commit done as the ledger does it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    ACCOUNTED,
    HOME,
    IN_TRANSIT,
    TRANSFERRED,
    Carnet,
    CountryPolicy,
    Crossing,
    Item,
    PolicyBook,
    apply_crossing,
    check_declaration,
    check_final_date,
    final_date_for,
)

EXPIRY = date(2027, 11, 21)
DAY = timedelta(days=1)
BEFORE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # well inside the validity
LONG_AFTER = datetime(2028, 3, 1, 9, 0, tzinfo=UTC)  # months after the expiry
PARIS = ZoneInfo("Europe/Paris")  # UTC+1 in November
AUCKLAND = ZoneInfo("Pacific/Auckland")  # UTC+13 in November (NZDT)
HOME_COUNTRY = "FR"
COVERED = ("CH", "GB", "DE", "MX")
VERSION = "2026-12-02.1"
BOOK = PolicyBook(VERSION, countries={
    "CH": CountryPolicy("CH"),
    "MX": CountryPolicy("MX", split_shipments=False, max_stay_days=90, note="seed 002: no split shipments"),
})
USE = "exhibition at a trade fair"


def item(n: int, location: str = HOME, country: str | None = None, *, exported_by: int = 1, entered_by: int = 1,
         final_date: date = EXPIRY) -> Item:
    """An item placed by hand, with the references a real journey would have left on it."""
    stays = location in (ABROAD, IN_TRANSIT)
    return Item(n, location, country if stays or location == ACCOUNTED else None, final_date if stays else None,
                exported_by if location not in (HOME, TRANSFERRED) else None,
                entered_by if stays or location == ACCOUNTED else None)


def carnet(*placed: Item, n: int = 3, active: bool = True, countries: tuple[str, ...] = COVERED) -> Carnet:
    items = {i: Item(i) for i in range(1, n + 1)}
    items.update({i.number: i for i in placed})
    return Carnet(number="FR2600000010", home_country=HOME_COUNTRY, countries=countries, expiry_date=EXPIRY,
                  holder_id="hld_1", representative_ids=("rep_1",), active=active, items=items)


def cross(kind: K, country: str, items: Sequence[int], closes: int | None = None,
          intended_use: str | None = None) -> Crossing:
    if kind is K.IMPORTATION and intended_use is None:
        intended_use = USE
    return Crossing.of(kind, country, items, closes=closes, intended_use=intended_use)


def check(c: Carnet, crossing: Crossing, at: datetime = BEFORE, tz: ZoneInfo = PARIS, book: PolicyBook = BOOK):
    return check_declaration(c, crossing, at, book.for_country(crossing.country), book.label(crossing.country), tz)


def commit(c: Carnet, crossing: Crossing, sequence: int, at: datetime = BEFORE, tz: ZoneInfo = PARIS,
           restricted_to: date | None = None, book: PolicyBook = BOOK) -> Carnet:
    """What the ledger does on a customs commit: re-check, compute the final date, move the items."""
    assert check(c, crossing, at, tz, book) == []
    assert check_final_date(c, restricted_to) == []
    final = final_date_for(c, crossing.kind, restricted_to, at, tz, book.for_country(crossing.country))
    return apply_crossing(c, crossing, sequence, final)
