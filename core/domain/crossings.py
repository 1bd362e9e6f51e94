"""The ledger's rules for declarations and item locations. Pure: no I/O imports.

Skeleton scope: R3 (items exist), R8 (numbering per kind), R10 (activation), R11 (an item
crosses only from where it is), R12 (no entry abroad on an expired carnet), R13 (final dates).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.deadlines import r12_entry_allowed, r13_final_date
from contracts.kinds import DeclarationKind as K
from contracts.messages import Reason

HOME, EXPORTED, ABROAD, IN_TRANSIT, ACCOUNTED = "home", "exported", "abroad", "in_transit", "accounted"

#: R11: where an item must be for each kind of crossing, and where it is afterwards.
FROM = {
    K.EXPORTATION: HOME,
    K.REIMPORTATION: EXPORTED,
    K.IMPORTATION: EXPORTED,
    K.REEXPORTATION: ABROAD,
    K.TRANSIT_ENTRY: EXPORTED,
    K.TRANSIT_DISCHARGE: IN_TRANSIT,
}
TO = {
    K.EXPORTATION: EXPORTED,
    K.REIMPORTATION: HOME,
    K.IMPORTATION: ABROAD,
    K.REEXPORTATION: EXPORTED,
    K.TRANSIT_ENTRY: IN_TRANSIT,
    K.TRANSIT_DISCHARGE: EXPORTED,
}
HOME_KINDS = {K.EXPORTATION, K.REIMPORTATION}
ENTRY_KINDS = {K.IMPORTATION, K.TRANSIT_ENTRY}

#: At declaration time the office is not known yet: judge validity where the day ends last, so
#: a carnet still valid somewhere is not refused early; the commit re-checks in the office's zone.
LATEST_ZONE = ZoneInfo("Etc/GMT+12")


@dataclass(frozen=True)
class Item:
    number: int
    location: str = HOME
    country: str | None = None
    final_date: date | None = None


@dataclass(frozen=True)
class Carnet:
    number: str
    home_country: str
    countries: tuple[str, ...]
    expiry_date: date
    holder_id: str
    representative_ids: tuple[str, ...] = ()
    active: bool = False
    items: dict[int, Item] = field(default_factory=dict)

    def may_declare(self, party_id: str) -> bool:
        return party_id == self.holder_id or party_id in self.representative_ids


def check_declaration(carnet: Carnet, kind: K, country: str, items: Iterable[int], at: datetime,
                      tz: ZoneInfo = LATEST_ZONE) -> list[Reason]:
    """Every reason this crossing cannot happen now; empty when it can."""
    wanted = sorted(set(items))
    reasons: list[Reason] = []
    unknown = [n for n in wanted if n not in carnet.items]
    if unknown:
        reasons.append(Reason(rule="R3", field="items", message=f"items not on the general list: {unknown}"))
    if kind in HOME_KINDS and country != carnet.home_country:
        reasons.append(Reason(rule="R11", field="country",
                              message=f"{kind.value} happens in the home country {carnet.home_country}, not {country}"))
    if kind not in HOME_KINDS:
        if country == carnet.home_country:
            reasons.append(Reason(rule="R11", field="country", message=f"{kind.value} happens abroad, not in the home country"))
        elif country not in carnet.countries:
            reasons.append(Reason(rule="R1", field="country", message=f"the carnet is not valid for {country}"))
    if kind in ENTRY_KINDS:
        if not carnet.active:
            reasons.append(Reason(rule="R10", message="the carnet has not been activated by a first exportation at home"))
        if not r12_entry_allowed(kind.value, carnet.expiry_date, at, tz):
            reasons.append(Reason(rule="R12", message=f"the carnet expired on {carnet.expiry_date.isoformat()}: no entry abroad"))
    needed = FROM[kind]
    for n in wanted:
        item = carnet.items.get(n)
        if item is None:
            continue
        if item.location != needed:
            where = item.location + (f" in {item.country}" if item.country else "")
            reasons.append(Reason(rule="R11", item_number=n, message=f"item {n} is {where}; {kind.value} needs it {needed}"))
        elif needed in (ABROAD, IN_TRANSIT) and item.country != country:
            reasons.append(Reason(rule="R11", item_number=n, message=f"item {n} is in {item.country}, not {country}"))
    return reasons


def check_final_date(carnet: Carnet, final_date: date | None) -> list[Reason]:
    """R13: customs may shorten the stay, never set it past the carnet's expiry."""
    if final_date is not None and final_date > carnet.expiry_date:
        return [Reason(rule="R13", field="final_date",
                       message=f"final date {final_date.isoformat()} is after the expiry {carnet.expiry_date.isoformat()}")]
    return []


def next_sequence(used: Iterable[int]) -> int:
    """R8: sets are used in numerical sequence per kind."""
    return max(used, default=0) + 1


def apply_crossing(carnet: Carnet, kind: K, country: str, items: Iterable[int], final_date: date | None) -> Carnet:
    """The carnet after a committed crossing: exactly the listed items move (R11).

    R13: importation and transit entry get a final date, customs' restriction or the expiry.
    R10: the first exportation at home activates the carnet.
    """
    stays_abroad = TO[kind] in (ABROAD, IN_TRANSIT)
    last_day = r13_final_date(carnet.expiry_date, final_date) if stays_abroad else None
    moved = dict(carnet.items)
    for n in items:
        moved[n] = replace(moved[n], location=TO[kind], country=country if stays_abroad else None, final_date=last_day)
    return replace(carnet, items=moved, active=carnet.active or kind is K.EXPORTATION)
