"""Builders for the core's pure domain tests: carnets and items placed by hand, crossings, the policy book in use,
and a commit done as the ledger does it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    ACCOUNTED,
    EXPORTED,
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
BOOK = PolicyBook(
    VERSION,
    countries={
        "CH": CountryPolicy("CH"),
        "MX": CountryPolicy("MX", split_shipments=False, max_stay_days=90, note="seed 002: no split shipments"),
    },
)
USE = "exhibition at a trade fair"


def item(
    n: int,
    location: str = HOME,
    country: str | None = None,
    *,
    exported_by: int = 1,
    entered_by: int = 1,
    final_date: date = EXPIRY,
) -> Item:
    """An item placed by hand, with the references a real journey would have left on it."""
    stays = location in (ABROAD, IN_TRANSIT)
    return Item(
        n,
        location,
        country if stays or location == ACCOUNTED else None,
        final_date if stays else None,
        exported_by if location not in (HOME, TRANSFERRED) else None,
        entered_by if stays or location == ACCOUNTED else None,
    )


def carnet(*placed: Item, n: int = 3, active: bool = True, countries: tuple[str, ...] = COVERED) -> Carnet:
    items = {i: Item(i) for i in range(1, n + 1)}
    items.update({i.number: i for i in placed})
    return Carnet(
        number="FR2600000010",
        home_country=HOME_COUNTRY,
        countries=countries,
        expiry_date=EXPIRY,
        holder_id="hld_1",
        representative_ids=("rep_1",),
        active=active,
        items=items,
    )


def cross(
    kind: K, country: str, items: Sequence[int], closes: int | None = None, intended_use: str | None = None
) -> Crossing:
    if kind is K.IMPORTATION and intended_use is None:
        intended_use = USE
    return Crossing.of(kind, country, items, closes=closes, intended_use=intended_use)


def check(c: Carnet, crossing: Crossing, at: datetime = BEFORE, tz: ZoneInfo = PARIS, book: PolicyBook = BOOK):
    return check_declaration(c, crossing, at, book.for_country(crossing.country), book.label(crossing.country), tz)


def commit(
    c: Carnet,
    crossing: Crossing,
    sequence: int,
    at: datetime = BEFORE,
    tz: ZoneInfo = PARIS,
    restricted_to: date | None = None,
    book: PolicyBook = BOOK,
) -> Carnet:
    """What the ledger does on a customs commit: re-check, compute the final date, move the items."""
    assert check(c, crossing, at, tz, book) == []
    assert check_final_date(c, restricted_to) == []
    final = final_date_for(c, crossing.kind, restricted_to, at, tz, book.for_country(crossing.country))
    return apply_crossing(c, crossing, sequence, final)


def codes(reasons) -> list[tuple[str, str | None]]:
    return [(r.rule, r.code) for r in reasons]


def local(day: date, tz: ZoneInfo, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


# Where each kind happens, and an item placed where that kind needs it (with closing references = 1).
WHERE = {
    K.EXPORTATION: "FR",
    K.REIMPORTATION: "FR",
    K.IMPORTATION: "CH",
    K.REEXPORTATION: "CH",
    K.TRANSIT_ENTRY: "CH",
    K.TRANSIT_DISCHARGE: "CH",
}
SPEC_FROM = {
    K.EXPORTATION: HOME,
    K.REIMPORTATION: EXPORTED,
    K.IMPORTATION: EXPORTED,
    K.REEXPORTATION: ABROAD,
    K.TRANSIT_ENTRY: EXPORTED,
    K.TRANSIT_DISCHARGE: IN_TRANSIT,
}
SPEC_TO = {
    K.EXPORTATION: EXPORTED,
    K.REIMPORTATION: HOME,
    K.IMPORTATION: ABROAD,
    K.REEXPORTATION: EXPORTED,
    K.TRANSIT_ENTRY: IN_TRANSIT,
    K.TRANSIT_DISCHARGE: EXPORTED,
}
CLOSING = (K.REIMPORTATION, K.REEXPORTATION, K.TRANSIT_DISCHARGE)


def ready_for(kind: K, n: int = 1) -> Item:
    location = SPEC_FROM[kind]
    return item(n, location, "CH" if location in (ABROAD, IN_TRANSIT) else None)


def ready_crossing(kind: K, items: Sequence[int] = (1,)) -> Crossing:
    return cross(kind, WHERE[kind], items, closes=1 if kind in CLOSING else None)
