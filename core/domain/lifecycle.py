"""A carnet's life beyond crossings: duplicate (R5), replacement (R6), duty receipts (R17),
closure and discharge (R7). Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from contracts.deadlines import r6_replacement_in_time
from contracts.messages import Reason
from core.domain.crossings import (
    ABROAD, ACCOUNTED, CLOSED, EXPORTED, HOME, IN_TRANSIT, LATEST_ZONE, TRANSFERRED, VALID, VOIDED, Carnet, _r,
)
from core.domain.policy import CountryPolicy


class LifecycleRefused(ValueError):
    def __init__(self, reasons: list[Reason]) -> None:
        super().__init__("; ".join(r.message for r in reasons))
        self.reasons = reasons


def _usable(carnet: Carnet, rule: str) -> None:
    if carnet.status == VOIDED:
        raise LifecycleRefused([_r(rule, "carnet_voided", f"carnet {carnet.number} was already voided")])
    if carnet.status == CLOSED:
        raise LifecycleRefused([_r(rule, "carnet_closed", f"carnet {carnet.number} is closed")])


def duplicate(original: Carnet, number: str) -> tuple[Carnet, Carnet]:
    """R5: the duplicate keeps the expiry and the record of goods abroad; the original is voided."""
    _usable(original, "R5")
    copy = replace(original, number=number, status=VALID, successor=None)
    return replace(original, status=VOIDED, successor=number), copy


def replacement(original: Carnet, new: Carnet, requested_at: datetime, approved_at: datetime,
                policy_of: Callable[[str], CountryPolicy]) -> tuple[Carnet, Carnet, list[int]]:
    """R6: before the original expires, the replacement takes over the goods still abroad in
    countries that accept replacements; the original is closed for them.

    Returns (original, replacement, items taken over). The replacement's goods taken over stay
    where they are, with the replacement's expiry as their new final date (customs may restrict
    it again at their next commit).
    """
    _usable(original, "R6")
    # Approval in time is judged where the day ends last: the NGA's office is not on the message.
    late = [when for when in (requested_at, approved_at)
            if not r6_replacement_in_time(original.expiry_date, when, LATEST_ZONE)]
    if late:
        raise LifecycleRefused([_r("R6", "replacement_too_late",
                                   f"a replacement must be applied for and approved before {original.number} "
                                   f"expires on {original.expiry_date.isoformat()}")])
    abroad = [i for i in original.items.values() if i.location in (ABROAD, IN_TRANSIT)]
    # The goods must be able to leave under the replacement: its countries must cover where they are.
    taken = [i for i in abroad if policy_of(i.country or "").replacement_accepted and i.number in new.items
             and i.country in new.countries]
    if not taken:
        refusing = sorted({i.country or "?" for i in abroad})
        raise LifecycleRefused([_r("R6", "nothing_to_replace",
                                   "no goods abroad in a country that accepts replacement carnets"
                                   + (f" (goods are in {', '.join(refusing)})" if refusing else ""))])
    items = dict(new.items)
    for i in taken:
        items[i.number] = replace(i, final_date=new.expiry_date)
    # Goods still out under the original stay with it: the replacement must not export them again.
    for i in original.left_home():
        if i.number in items and i not in taken:
            items[i.number] = replace(items[i.number], location=TRANSFERRED, note=original.number)
    moved = dict(original.items)
    for i in taken:
        moved[i.number] = replace(i, location=TRANSFERRED, country=None, final_date=None, note=new.number)
    return (replace(original, items=moved, successor=new.number),
            replace(new, items=items, active=True), [i.number for i in taken])


def account_for(carnet: Carnet, numbers: Iterable[int], country: str, receipt: str) -> Carnet:
    """R17: goods lost, stolen, destroyed or not re-exported abroad are settled by a duty receipt."""
    _usable(carnet, "R17")
    wanted = sorted(set(numbers))
    if not wanted:
        raise LifecycleRefused([_r("R17", "no_items", "a duty receipt names the items it accounts for")])
    wrong = [n for n in wanted if n not in carnet.items or carnet.items[n].location not in (ABROAD, IN_TRANSIT)
             or carnet.items[n].country != country]
    if wrong:
        raise LifecycleRefused([_r("R17", "item_not_abroad_there",
                                   f"items {wrong} are not in {country}: a duty receipt there cannot account for them")])
    items = dict(carnet.items)
    for n in wanted:
        items[n] = replace(items[n], location=ACCOUNTED, final_date=None, note=receipt)
    return replace(carnet, items=items)


@dataclass(frozen=True)
class Closing:
    reason: str
    home: list[int]
    accounted: list[int]
    transferred: list[int]


def discharged(carnet: Carnet) -> bool:
    """R7: every item that left is back home or properly accounted for."""
    return not any(i.location in (EXPORTED, ABROAD, IN_TRANSIT) for i in carnet.items.values())


def close(carnet: Carnet, by: str) -> tuple[Carnet, Closing]:
    """R7: at the end of use the carnet returns to its issuer; only a discharged carnet closes."""
    _usable(carnet, "R7")
    if not discharged(carnet):
        out = sorted(i.number for i in carnet.left_home())
        raise LifecycleRefused([_r("R7", "goods_still_abroad", f"items {out} have not come back or been accounted for")])
    where = Counter(i.location for i in carnet.items.values())
    by_location = {loc: sorted(i.number for i in carnet.items.values() if i.location == loc)
                   for loc in (HOME, ACCOUNTED, TRANSFERRED)}
    reason = (f"closed by {by}: {where[HOME]} item(s) home, {where[ACCOUNTED]} accounted for by duty receipt, "
              f"{where[TRANSFERRED]} taken over by {carnet.successor or 'a replacement'}")
    return replace(carnet, status=CLOSED), Closing(reason, by_location[HOME], by_location[ACCOUNTED],
                                                   by_location[TRANSFERRED])
