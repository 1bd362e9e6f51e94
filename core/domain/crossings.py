"""Declarations and item locations: which crossing may happen, and what it moves. Pure.

Rules: R2 (validity), R3 (items exist), R8 (numbering and references), R9 (items listed,
intended use), R10 (activation), R11 (an item crosses only from where it is), R12 (no entry
abroad after expiry), R13 (final dates), R14 (split shipments), R15 (maximum stay), R16 (digital
date), R5/R7 (voided and closed carnets take no declaration).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.deadlines import (
    r2_is_valid_on,
    r12_entry_allowed,
    r13_final_date,
    r15_max_stay_last_day,
    r16_digital_required,
)
from contracts.kinds import DeclarationKind as K
from contracts.messages import Reason
from contracts.periods import local_date
from core.domain.policy import CountryPolicy
from core.domain.zones import day_ends_last

HOME, EXPORTED, ABROAD, IN_TRANSIT, ACCOUNTED, TRANSFERRED = (
    "home",
    "exported",
    "abroad",
    "in_transit",
    "accounted",
    "transferred",
)
VALID, VOIDED, CLOSED = "valid", "voided", "closed"

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
#: R8: the kind of declaration each closing kind names.
CLOSES = {K.REEXPORTATION: K.IMPORTATION, K.REIMPORTATION: K.EXPORTATION, K.TRANSIT_DISCHARGE: K.TRANSIT_ENTRY}
HOME_KINDS = {K.EXPORTATION, K.REIMPORTATION}
ENTRY_KINDS = {K.IMPORTATION, K.TRANSIT_ENTRY}
#: R14: the seeds name importation and re-exportation as the crossings that must be whole.
WHOLE_WHERE_SPLIT_FORBIDDEN = {K.IMPORTATION, K.REEXPORTATION}

#: Where every day ends last (UTC-12): the zone of a country code the zone table does not know.
LATEST_ZONE = ZoneInfo("Etc/GMT+12")


@dataclass(frozen=True)
class Item:
    number: int
    location: str = HOME
    country: str | None = None
    final_date: date | None = None
    exported_by: int | None = None  # R8: sequence of the exportation a re-importation must name
    entered_by: int | None = None  # R8: sequence of the importation / transit entry that put it here
    note: str | None = None  # R17 duty receipt, R6 successor


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
    status: str = VALID
    successor: str | None = None

    def may_declare(self, party_id: str) -> bool:
        return party_id == self.holder_id or party_id in self.representative_ids

    def left_home(self) -> list[Item]:
        return [i for i in self.items.values() if i.location in (EXPORTED, ABROAD, IN_TRANSIT)]


@dataclass(frozen=True)
class Crossing:
    """What a holder declares (R9): the kind, where, which items, and what it closes (R8)."""

    kind: K
    country: str
    items: tuple[int, ...]
    closes: int | None = None
    intended_use: str | None = None

    @classmethod
    def of(
        cls, kind: K, country: str, items: Iterable[int], closes: int | None = None, intended_use: str | None = None
    ) -> Crossing:
        return cls(kind, country, tuple(sorted(set(items))), closes, intended_use)


def _r(rule: str, code: str, message: str, **kw: object) -> Reason:
    return Reason(rule=rule, code=code, message=message, **kw)  # type: ignore[arg-type]


def check_declaration(
    carnet: Carnet, c: Crossing, at: datetime, policy: CountryPolicy, policy_label: str, tz: ZoneInfo | None = None
) -> list[Reason]:
    """Every reason this crossing cannot happen at `at`; empty when it can. Never raises.

    `tz` is the office's zone at commit. At declaration no office is known yet (None): the day is
    the destination country's, in its zone where the day ends last (`zones.day_ends_last`), so a
    token is refused (R12) exactly when no office of that country could still accept it.
    """
    if tz is None:
        tz = day_ends_last(c.country, at)
    if carnet.status == VOIDED:
        return [_r("R5", "carnet_voided", f"carnet {carnet.number} was voided; use {carnet.successor}")]
    if carnet.status == CLOSED:
        return [_r("R7", "carnet_closed", f"carnet {carnet.number} is closed")]
    reasons = _place(carnet, c)
    if not reasons:  # R16 speaks of a country where this crossing could happen at all
        reasons += _digital(c, local_date(at, tz), policy, policy_label)
    reasons += _timing(carnet, c, at, tz)
    if not c.items:
        reasons.append(_r("R9", "no_items", "a declaration lists the items that cross", field="items"))
    unknown = [n for n in c.items if n not in carnet.items]
    if unknown:
        reasons.append(_r("R3", "unknown_item", f"items not on the general list: {unknown}", field="items"))
    reasons += _locations(carnet, c)
    reasons += _reference(carnet, c)
    reasons += _split(carnet, c, policy, policy_label)
    if c.kind is K.IMPORTATION and not (c.intended_use or "").strip():
        reasons.append(
            _r(
                "R9",
                "intended_use_missing",
                "an importation states the intended use of the goods",
                field="intended_use",
            )
        )
    return reasons


def _place(carnet: Carnet, c: Crossing) -> list[Reason]:
    if c.kind in HOME_KINDS:
        if c.country != carnet.home_country:
            return [
                _r(
                    "R11",
                    "not_home_country",
                    f"{c.kind.value} happens in the home country {carnet.home_country}, not {c.country}",
                    field="country",
                )
            ]
        return []
    if c.country == carnet.home_country:
        return [_r("R11", "home_country", f"{c.kind.value} happens abroad, not in the home country", field="country")]
    if c.country not in carnet.countries:
        return [_r("R1", "country_not_covered", f"the carnet is not valid for {c.country}", field="country")]
    return []


def _digital(c: Crossing, day: date, policy: CountryPolicy, label: str) -> list[Reason]:
    """R16 (seed 000): the digital date is the go-live date, "the official acceptance of digital
    Carnets", from which "all Carnet declarations made in a given country ... will have to be made
    digitally". From it on (the office's local day, inclusive) a digital declaration is the rule.
    Before it, or when the country has set none, "a country may take both" (DOMAIN.md): the policy
    says whether it takes digital ones yet (``before_digital_date``: ``accept`` for a country known
    to take them, ``refuse`` otherwise). Refusing protects the holder: a token for a country that
    does not take digital carnets yet would be turned away at its border."""
    if r16_digital_required(policy.digital_date, day) or policy.before_digital_date == "accept":
        return []
    when = (
        f"its digital date is {policy.digital_date.isoformat()}"
        if policy.digital_date
        else "it has no digital date yet"
    )
    return [
        _r(
            "R16",
            "before_digital_date",
            f"{c.country} does not take digital carnet declarations yet: {when}; use the paper carnet there",
            field="country",
            policy=label,
        )
    ]


def _timing(carnet: Carnet, c: Crossing, at: datetime, tz: ZoneInfo) -> list[Reason]:
    reasons = []
    if c.kind in ENTRY_KINDS:
        if not carnet.active:
            reasons.append(
                _r("R10", "not_activated", "the carnet has not been activated by a first exportation at home")
            )
        if not r12_entry_allowed(c.kind.value, carnet.expiry_date, at, tz):
            reasons.append(
                _r("R12", "carnet_expired", f"the carnet expired on {carnet.expiry_date.isoformat()}: no entry abroad")
            )
    elif c.kind is K.EXPORTATION and not r2_is_valid_on(carnet.expiry_date, at, tz):
        # R12 speaks of entries; leaving home on an expired carnet is outside its validity (R2).
        reasons.append(_r("R2", "carnet_expired", f"the carnet expired on {carnet.expiry_date.isoformat()}"))
    return reasons


#: R11 and R27: goods may come home although their departure from abroad was never validated (seed 001:
#: the holder "may be charged a regularization fee by the foreign customs authorities even if a claim does
#: not occur"). Home customs see them back: re-importation takes them from abroad or transit too, and the
#: claims worker flags the fee for the country they were last recorded in.
REIMPORTABLE = (EXPORTED, ABROAD, IN_TRANSIT)


def _may_cross(item: Item, kind: K) -> bool:
    return item.location in REIMPORTABLE if kind is K.REIMPORTATION else item.location == FROM[kind]


def _locations(carnet: Carnet, c: Crossing) -> list[Reason]:
    needed = FROM[c.kind]
    reasons = []
    for n in c.items:
        item = carnet.items.get(n)
        if item is None:
            continue
        if not _may_cross(item, c.kind):
            where = item.location + (f" in {item.country}" if item.country else "")
            reasons.append(
                _r("R11", "item_not_there", f"item {n} is {where}; {c.kind.value} needs it {needed}", item_number=n)
            )
        elif needed in (ABROAD, IN_TRANSIT) and item.country != c.country:
            reasons.append(
                _r("R11", "item_in_other_country", f"item {n} is in {item.country}, not {c.country}", item_number=n)
            )
    return reasons


def _opener(item: Item, kind: K) -> int | None:
    return item.exported_by if kind is K.REIMPORTATION else item.entered_by


def closed_reference(carnet: Carnet, c: Crossing) -> int | None:
    """R8: the sequence this crossing closes, named or (when all items agree) inferred."""
    if c.kind not in CLOSES:
        return None
    if c.closes is not None:
        return c.closes
    openers = {_opener(carnet.items[n], c.kind) for n in c.items if n in carnet.items}
    return openers.pop() if len(openers) == 1 else None


def _reference(carnet: Carnet, c: Crossing) -> list[Reason]:
    if c.kind not in CLOSES:
        return []
    closes = closed_reference(carnet, c)
    named = CLOSES[c.kind].value
    if closes is None:
        return [
            _r(
                "R8",
                "reference_missing",
                f"the items came with different {named} declarations: name the one this {c.kind.value} closes",
                field="closes",
            )
        ]
    wrong = [
        n
        for n in c.items
        if n in carnet.items and _may_cross(carnet.items[n], c.kind) and _opener(carnet.items[n], c.kind) != closes
    ]
    if wrong:
        return [_r("R8", "reference_mismatch", f"items {wrong} did not come with {named} No. {closes}", field="closes")]
    return []


def _split(carnet: Carnet, c: Crossing, policy: CountryPolicy, label: str) -> list[Reason]:
    """R14: where split shipments are forbidden, importation covers the whole list and
    re-exportation the whole set of items that entered."""
    if policy.split_shipments or c.kind not in WHOLE_WHERE_SPLIT_FORBIDDEN:
        return []
    if c.kind is K.IMPORTATION:
        whole = sorted(n for n, i in carnet.items.items() if i.location not in (ACCOUNTED, TRANSFERRED))
    else:
        entered = closed_reference(carnet, c)
        whole = sorted(
            n
            for n, i in carnet.items.items()
            if i.location == ABROAD and i.country == c.country and i.entered_by == entered
        )
    if list(c.items) != whole:
        return [
            _r(
                "R14",
                "split_shipment_forbidden",
                f"{c.country} forbids split shipments: the {c.kind.value} must cover items {whole}",
                field="items",
                policy=label,
            )
        ]
    return []


def check_final_date(carnet: Carnet, final_date: date | None) -> list[Reason]:
    """R13: customs may shorten the stay, never set it past the carnet's expiry."""
    if final_date is not None and final_date > carnet.expiry_date:
        return [
            _r(
                "R13",
                "final_date_after_expiry",
                f"final date {final_date.isoformat()} is after the expiry {carnet.expiry_date.isoformat()}",
                field="final_date",
            )
        ]
    return []


def next_sequence(used: Iterable[int]) -> int:
    """R8: sets are used in numerical sequence per kind."""
    return max(used, default=0) + 1


def final_date_for(
    carnet: Carnet, kind: K, restricted_to: date | None, at: datetime, tz: ZoneInfo, policy: CountryPolicy
) -> date | None:
    """R13 and R15: the last day to leave, for an entry; None for other kinds."""
    if kind not in ENTRY_KINDS:
        return None
    last = r13_final_date(carnet.expiry_date, restricted_to)
    if kind is K.IMPORTATION and policy.max_stay_days:
        last = min(last, r15_max_stay_last_day(local_date(at, tz), carnet.expiry_date, days=policy.max_stay_days))
    return last


def apply_crossing(carnet: Carnet, c: Crossing, sequence: int, final_date: date | None) -> Carnet:
    """The carnet after a committed crossing: exactly the listed items move (R11).

    `final_date` comes from `final_date_for`; R10: the first exportation activates the carnet.
    """
    moved = dict(carnet.items)
    for n in c.items:
        item = moved[n]
        to = TO[c.kind]
        if c.kind is K.EXPORTATION:
            item = replace(item, exported_by=sequence)
        elif c.kind is K.REIMPORTATION:  # from abroad too (R27): nothing of the foreign entry remains
            item = replace(item, exported_by=None, entered_by=None)
        if c.kind in ENTRY_KINDS:
            item = replace(item, entered_by=sequence)
        elif c.kind in CLOSES and c.kind is not K.REIMPORTATION:
            item = replace(item, entered_by=None)
        stays = to in (ABROAD, IN_TRANSIT)
        moved[n] = replace(
            item, location=to, country=c.country if stays else None, final_date=final_date if stays else None
        )
    return replace(carnet, items=moved, active=carnet.active or c.kind is K.EXPORTATION)
