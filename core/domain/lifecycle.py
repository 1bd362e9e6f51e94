"""A carnet's life beyond crossings: duplicate (R5), replacement (R6), duty receipts (R17),
closure and discharge (R7). Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contracts.deadlines import r6_replacement_in_time
from contracts.messages import Reason
from contracts.periods import add_months
from core.domain.crossings import (
    ABROAD,
    ACCOUNTED,
    CLOSED,
    EXPORTED,
    HOME,
    IN_TRANSIT,
    TRANSFERRED,
    VALID,
    VOIDED,
    Carnet,
    _r,
)
from core.domain.policy import CountryPolicy
from core.domain.zones import zone_of

#: R6: how far ahead of the ledger's clock an NGA's timestamp may be (clocks drift, they do not leap).
R6_CLOCK_SKEW = timedelta(minutes=5)
#: R6: an approval older than this when the ledger receives it is refused: a replacement is asked
#: for to keep goods abroad legally, and a month-old approval arriving now is a replay or a fault.
R6_MAX_AGE = timedelta(days=30)
#: R6 refusals that point at the NGA's clock or a replay rather than at a late application: operators act on them.
R6_CLOCK_CODES = frozenset(
    {
        "dated_in_future",
        "approval_too_old",
        "applied_before_issue",
        "approved_before_applied",
        "timestamp_without_offset",
    }
)


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


def _r6_timing(original: Carnet, requested_at: datetime, approved_at: datetime, now: datetime) -> list[Reason]:
    """R6 (seed 002): a replacement "must be applied for and approved prior to the expiration date".

    Judged in the ISSUING country (the original's home country, whose NGA approves), with the offset
    each timestamp carries: the local day is the day of the country's office whose offset the
    timestamp has, or the country's earliest-ending day when no zone of the country has that offset
    (``zones.zone_of``): a timestamp never buys time the issuing country does not have. The expiry
    day itself is in time up to 24:00 local (R2). Both times are compared with the ledger's clock:
    none may be later than ``now`` (plus ``R6_CLOCK_SKEW``), the approval may not be older than
    ``R6_MAX_AGE``, the application may not precede the original's earliest possible issue day (its
    expiry minus 12 months, R2), and approval cannot precede application.
    """
    times = {"requested_at": requested_at, "approved_at": approved_at}
    naive = [name for name, at in times.items() if at.tzinfo is None or at.utcoffset() is None]
    if naive:
        return [_r("R6", "timestamp_without_offset", f"{', '.join(naive)} must carry a UTC offset", field=naive[0])]
    expiry = original.expiry_date.isoformat()
    reasons = []
    future = [name for name, at in times.items() if at > now + R6_CLOCK_SKEW]
    if future:
        reasons.append(
            _r(
                "R6",
                "dated_in_future",
                f"{', '.join(future)} is later than the ledger's clock {now.isoformat()}",
                field=future[0],
            )
        )
    if approved_at < requested_at:
        reasons.append(
            _r(
                "R6",
                "approved_before_applied",
                "a replacement is approved after it is applied for",
                field="approved_at",
            )
        )
    earliest = add_months(original.expiry_date, -12)
    if requested_at.astimezone(zone_of(original.home_country, requested_at)).date() < earliest:
        reasons.append(
            _r(
                "R6",
                "applied_before_issue",
                f"applied for before {original.number} could have been issued (expiry {expiry} less 12 months)",
                field="requested_at",
            )
        )
    elif approved_at < now - R6_MAX_AGE:
        reasons.append(
            _r(
                "R6",
                "approval_too_old",
                f"approved more than {R6_MAX_AGE.days} days before the ledger received it ({now.isoformat()})",
                field="approved_at",
            )
        )
    late = [
        name
        for name, at in times.items()
        if not r6_replacement_in_time(original.expiry_date, at, zone_of(original.home_country, at))
    ]
    if late:
        reasons.append(
            _r(
                "R6",
                "replacement_too_late",
                f"a replacement must be applied for and approved before {original.number} expires on "
                f"{expiry} (24:00 in {original.home_country}); late: {', '.join(late)}",
            )
        )
    return reasons


def replacement(
    original: Carnet,
    new: Carnet,
    requested_at: datetime,
    approved_at: datetime,
    policy_of: Callable[[str], CountryPolicy],
    *,
    now: datetime,
) -> tuple[Carnet, Carnet, list[int]]:
    """R6: before the original expires, the replacement takes over the goods still abroad in
    countries that accept replacements; the original is closed for them. ``now`` is the ledger's
    clock (``_r6_timing``).

    Returns (original, replacement, items taken over). The replacement's goods taken over stay
    where they are, with the replacement's expiry as their new final date (customs may restrict
    it again at their next commit).
    """
    _usable(original, "R6")
    refused = _r6_timing(original, requested_at, approved_at, now)
    if refused:
        raise LifecycleRefused(refused)
    abroad = [i for i in original.items.values() if i.location in (ABROAD, IN_TRANSIT)]
    # The goods must be able to leave under the replacement: its countries must cover where they are.
    taken = [
        i
        for i in abroad
        if policy_of(i.country or "").replacement_accepted and i.number in new.items and i.country in new.countries
    ]
    if not taken:
        refusing = sorted({i.country or "?" for i in abroad})
        raise LifecycleRefused(
            [
                _r(
                    "R6",
                    "nothing_to_replace",
                    "no goods abroad in a country that accepts replacement carnets"
                    + (f" (goods are in {', '.join(refusing)})" if refusing else ""),
                )
            ]
        )
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
    return (
        replace(original, items=moved, successor=new.number),
        replace(new, items=items, active=True),
        [i.number for i in taken],
    )


def account_for(carnet: Carnet, numbers: Iterable[int], country: str, receipt: str) -> Carnet:
    """R17: goods lost, stolen, destroyed or not re-exported abroad are settled by a duty receipt."""
    _usable(carnet, "R17")
    wanted = sorted(set(numbers))
    if not wanted:
        raise LifecycleRefused([_r("R17", "no_items", "a duty receipt names the items it accounts for")])
    wrong = [
        n
        for n in wanted
        if n not in carnet.items
        or carnet.items[n].location not in (ABROAD, IN_TRANSIT)
        or carnet.items[n].country != country
    ]
    if wrong:
        raise LifecycleRefused(
            [
                _r(
                    "R17",
                    "item_not_abroad_there",
                    f"items {wrong} are not in {country}: a duty receipt there cannot account for them",
                )
            ]
        )
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
        raise LifecycleRefused(
            [_r("R7", "goods_still_abroad", f"items {out} have not come back or been accounted for")]
        )
    where = Counter(i.location for i in carnet.items.values())
    by_location = {
        loc: sorted(i.number for i in carnet.items.values() if i.location == loc)
        for loc in (HOME, ACCOUNTED, TRANSFERRED)
    }
    reason = (
        f"closed by {by}: {where[HOME]} item(s) home, {where[ACCOUNTED]} accounted for by duty receipt, "
        f"{where[TRANSFERRED]} taken over by {carnet.successor or 'a replacement'}"
    )
    return replace(carnet, status=CLOSED), Closing(
        reason, by_location[HOME], by_location[ACCOUNTED], by_location[TRANSFERRED]
    )
