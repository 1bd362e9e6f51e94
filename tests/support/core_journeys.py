"""A reference model of a carnet's items and random journeys of declarations (and duty receipts) checked
against it: the machinery of the core domain's property tests (tests/unit/test_core_domain_properties.py)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import pytest
from hypothesis import strategies as st

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    ACCOUNTED,
    EXPORTED,
    HOME,
    IN_TRANSIT,
    Carnet,
    Crossing,
    Item,
    LifecycleRefused,
    account_for,
    apply_crossing,
    check_declaration,
    close,
    discharged,
    final_date_for,
    next_sequence,
)
from tests.support.core_domain import (
    BEFORE,
    BOOK,
    CLOSING,
    DAY,
    EXPIRY,
    PARIS,
    SPEC_FROM,
    SPEC_TO,
    USE,
)

T = TypeVar("T")
P_HOME = "FR"
P_COUNTRIES = ("CH", "GB", "MX")  # MX forbids split shipments and limits the stay to 90 days
P_POOL = (P_HOME, *P_COUNTRIES, "US")  # US is not covered (R1)
P_ITEMS = (1, 2, 3, 4)
P_TIMES = (BEFORE, datetime(2027, 11, 21, 22, 59, 59, tzinfo=UTC), datetime(2027, 11, 21, 23, 0, tzinfo=UTC))
P_VALID_UNTIL = datetime(2027, 11, 21, 23, 0, tzinfo=UTC)  # 22 Nov 00:00 in Paris
ENTRIES = (K.IMPORTATION, K.TRANSIT_ENTRY)
LEAVES = (K.REEXPORTATION, K.TRANSIT_DISCHARGE)


class Choices:
    def one(self, options: Sequence[T]) -> T:
        raise NotImplementedError

    def some(self, options: Sequence[T]) -> list[T]:
        raise NotImplementedError

    def chance(self, percent: int) -> bool:
        raise NotImplementedError


_INDEX = [st.integers(0, n - 1) for n in range(1, 21)]  # built once: strategies are costly to build
_PERCENT = st.integers(0, 99)
_MASK = [st.integers(1, 2**n - 1) for n in range(1, 8)]


class DrawnChoices(Choices):
    """Each choice is one integer draw, so hypothesis shrinks towards the first option / a yes."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def one(self, options):
        options = list(options)
        return options[self.data.draw(_INDEX[len(options) - 1])]

    def some(self, options):
        options = list(options)
        mask = self.data.draw(_MASK[len(options) - 1])
        return [o for i, o in enumerate(options) if mask >> i & 1]

    def chance(self, percent):
        return self.data.draw(_PERCENT) < percent


class SeededChoices(Choices):
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def one(self, options):
        return self.rng.choice(list(options))

    def some(self, options):
        options = list(options)
        return self.rng.sample(options, self.rng.randint(1, len(options)))

    def chance(self, percent):
        return self.rng.randrange(100) < percent


@dataclass
class Model:
    """Where each item is, derived only from the history of accepted events (not from Item fields)."""

    history: dict[int, list[tuple[str, str, int]]] = field(default_factory=lambda: {n: [] for n in P_ITEMS})

    def location(self, n: int) -> str:
        events = self.history[n]
        if not events:
            return HOME
        return ACCOUNTED if events[-1][0] == "account" else SPEC_TO[K(events[-1][0])]

    def country(self, n: int) -> str | None:
        events = self.history[n]
        return events[-1][1] if self.location(n) in (ABROAD, IN_TRANSIT, ACCOUNTED) else None

    def open_exportation(self, n: int) -> int | None:
        home_events = [(k, seq) for k, _, seq in self.history[n] if k in (K.EXPORTATION, K.REIMPORTATION)]
        return home_events[-1][1] if home_events and home_events[-1][0] == K.EXPORTATION else None

    def open_entry(self, n: int) -> tuple[str, int] | None:
        foreign = [(k, seq) for k, _, seq in self.history[n] if k in (*ENTRIES, *LEAVES)]
        return foreign[-1] if foreign and foreign[-1][0] in ENTRIES else None

    def opener(self, n: int, kind: K) -> int | None:
        if kind is K.REIMPORTATION:
            return self.open_exportation(n)
        entry = self.open_entry(n)
        return entry[1] if entry else None

    def active(self) -> bool:
        return any(k == K.EXPORTATION for events in self.history.values() for k, _, _ in events)

    def accepts(self, c: Crossing, at: datetime) -> bool:
        """The rules R1, R2, R8-R12, R14 restated on the history: must agree with check_declaration."""
        kind = c.kind
        if kind in (K.EXPORTATION, K.REIMPORTATION):
            if c.country != P_HOME:
                return False
        elif c.country not in P_COUNTRIES:
            return False
        if kind in ENTRIES and (not self.active() or at >= P_VALID_UNTIL):
            return False
        if kind is K.EXPORTATION and at >= P_VALID_UNTIL:
            return False
        if kind is K.IMPORTATION and not c.intended_use:
            return False
        for n in c.items:
            # R27: goods come home from abroad or transit too, when their departure was never validated.
            allowed = (EXPORTED, ABROAD, IN_TRANSIT) if kind is K.REIMPORTATION else (SPEC_FROM[kind],)
            if self.location(n) not in allowed:
                return False
            if SPEC_FROM[kind] in (ABROAD, IN_TRANSIT) and self.country(n) != c.country:
                return False
        ref = None
        if kind in CLOSING:
            openers = {self.opener(n, kind) for n in c.items}
            ref = c.closes if c.closes is not None else (openers.pop() if len(openers) == 1 else None)
            if ref is None or any(self.opener(n, kind) != ref for n in c.items):
                return False
        if c.country == "MX" and kind is K.IMPORTATION:
            return set(c.items) == {n for n in P_ITEMS if self.location(n) != ACCOUNTED}
        if c.country == "MX" and kind is K.REEXPORTATION:
            return set(c.items) == {
                n
                for n in P_ITEMS
                if self.location(n) == ABROAD and self.country(n) == "MX" and self.opener(n, kind) == ref
            }
        return True


@dataclass
class Stats:
    accepted: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)
    accounted: int = 0


def _draw_crossing(ch: Choices, c: Carnet, model: Model) -> Crossing:
    possible = [k for k in K if any(model.location(n) == SPEC_FROM[k] for n in P_ITEMS)]
    kind = ch.one(possible) if possible and ch.chance(90) else ch.one(list(K))
    needed = SPEC_FROM[kind]
    there = [n for n in P_ITEMS if model.location(n) == needed]
    if kind in (K.EXPORTATION, K.REIMPORTATION):
        country = P_HOME if ch.chance(95) else ch.one(P_POOL)
    elif kind in LEAVES and there and ch.chance(95):
        country = model.country(ch.one(there)) or ch.one(P_POOL)
    else:
        country = ch.one(P_COUNTRIES) if ch.chance(90) else ch.one(P_POOL)
    if kind in LEAVES:
        there = [n for n in there if model.country(n) == country]
    if there and ch.chance(90):
        if kind in CLOSING and ch.chance(70):  # one reference: the items of one opener
            ref = model.opener(ch.one(there), kind)
            there = [n for n in there if model.opener(n, kind) == ref]
        if country == "MX" and kind is K.IMPORTATION and ch.chance(80):
            items = [n for n in P_ITEMS if model.location(n) != ACCOUNTED]
        else:
            items = there if ch.chance(50) else ch.some(there)
    else:
        items = ch.some(P_ITEMS)
    closes = None
    if kind in CLOSING and not ch.chance(75):
        closes = model.opener(items[0], kind) if ch.chance(60) else ch.one((1, 2, 3))
    use = USE if ch.chance(95) else None
    return Crossing.of(kind, country, items, closes=closes, intended_use=use)


def _check_invariants(c: Carnet, model: Model) -> None:
    for n in P_ITEMS:
        it = c.items[n]
        assert it.location == model.location(n), (n, it, model.history[n])
        assert it.country == model.country(n), (n, it, model.history[n])
        if it.location in (ABROAD, IN_TRANSIT):
            assert it.country in P_COUNTRIES and it.final_date is not None and it.final_date <= EXPIRY
        if it.location in (HOME, EXPORTED):
            assert it.country is None and it.final_date is None
        # exported_by is set exactly while the item is out of the home country, and names its exportation
        assert (it.exported_by is not None) == (it.location != HOME)
        assert it.exported_by == model.open_exportation(n)
        if it.location in (ABROAD, IN_TRANSIT):
            assert it.entered_by == model.opener(n, K.REEXPORTATION)
        elif it.location != ACCOUNTED:
            assert it.entered_by is None
    assert c.active == model.active()


def run_journey(ch: Choices, steps: int) -> Stats:
    stats = Stats()
    model = Model()
    c = Carnet(
        number="FR2600000010",
        home_country=P_HOME,
        countries=P_COUNTRIES,
        expiry_date=EXPIRY,
        holder_id="hld_1",
        items={n: Item(n) for n in P_ITEMS},
    )
    used: dict[K, list[int]] = {k: [] for k in K}
    for _ in range(steps):
        roll = ch.one(range(20))  # one draw: mostly a crossing now, sometimes near expiry, rarely a receipt
        at = P_TIMES[roll - 17] if roll >= 17 else BEFORE
        out = [n for n in P_ITEMS if model.location(n) in (ABROAD, IN_TRANSIT)]
        if out and roll == 15:  # R17: a duty receipt
            country = model.country(ch.one(out)) if ch.chance(80) else ch.one(P_POOL)
            numbers = ch.some([n for n in out if model.country(n) == country] or P_ITEMS)
            expected = all(model.location(n) in (ABROAD, IN_TRANSIT) and model.country(n) == country for n in numbers)
            try:
                c = account_for(c, numbers, country, f"receipt-{stats.accounted}")
            except LifecycleRefused:
                assert not expected
                continue
            assert expected
            for n in numbers:
                model.history[n].append(("account", country, 0))
                assert c.items[n].note == f"receipt-{stats.accounted}"
            stats.accounted += 1
            _check_invariants(c, model)
            continue
        crossing = _draw_crossing(ch, c, model)
        policy = BOOK.for_country(crossing.country)
        reasons = check_declaration(c, crossing, at, policy, BOOK.label(crossing.country), PARIS)
        assert (reasons == []) == model.accepts(crossing, at), (crossing, at, reasons, model.history)
        if reasons:
            stats.refused[crossing.kind] += 1
            continue
        kind = crossing.kind
        for n in crossing.items:
            history = model.history[n]
            if kind is K.REIMPORTATION:  # never re-imported without an exportation not yet closed
                home_events = [k for k, _, _ in history if k in (K.EXPORTATION, K.REIMPORTATION)]
                assert home_events and home_events[-1] == K.EXPORTATION
            if kind in ENTRIES:  # never entered twice without leaving (or coming home, R27) in between
                foreign = [k for k, _, _ in history if k in (*ENTRIES, *LEAVES, K.REIMPORTATION)]
                assert not foreign or foreign[-1] not in ENTRIES
                assert any(k == K.EXPORTATION for k, _, _ in history)
        seq = next_sequence(used[kind])
        used[kind].append(seq)
        final = final_date_for(c, kind, None, at, PARIS, policy)
        before = c
        c = apply_crossing(c, crossing, seq, final)
        for n in P_ITEMS:
            if n in crossing.items:
                model.history[n].append((kind, crossing.country, seq))
            else:
                assert c.items[n] == before.items[n]  # only the listed items move
        if kind in ENTRIES:
            assert all(c.items[n].final_date == final for n in crossing.items)
            if kind is K.IMPORTATION and crossing.country == "MX":
                assert final <= at.astimezone(PARIS).date() + 89 * DAY
        stats.accepted[kind] += 1
        _check_invariants(c, model)
    # R7: the carnet closes exactly when nothing is still out
    still_out = [n for n in P_ITEMS if model.location(n) in (EXPORTED, ABROAD, IN_TRANSIT)]
    assert discharged(c) == (not still_out)
    if still_out:
        with pytest.raises(LifecycleRefused):
            close(c, "hld_1")
    else:
        assert close(c, "hld_1")[1].accounted == [n for n in P_ITEMS if model.location(n) == ACCOUNTED]
    return stats
