"""What the claims worker keeps watching after each transaction. Pure: no I/O imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.deadlines import r20_notice_limit
from contracts.messages import ItemLocationsChanged, TransactionCancelled, TransactionRecorded

#: Locations that end the watch on a carnet: the goods are home, settled, or under another carnet.
RELEASED = ("home", "accounted", "transferred")


@dataclass(frozen=True)
class Watch:
    item_number: int
    location: str
    country: str | None
    final_date: date | None
    notice_limit: date


def watches(t: TransactionRecorded | TransactionCancelled) -> tuple[list[Watch], list[int]]:
    """(items to watch, items back home or accounted for) after a committed or cancelled transaction.

    A cancellation puts the items back where they were: a cancelled re-exportation makes goods
    abroad again, watched as before; a cancelled exportation brings them home.

    R20: customs must notify the guaranteeing association within one year after the last day of
    validity, so every watched item carries that limit from the start.
    """
    if isinstance(t, TransactionRecorded) and t.decision != "committed":
        return [], []
    watch, done = [], []
    for loc in t.item_locations:
        if loc.location in RELEASED:
            done.append(loc.item_number)
        else:
            watch.append(Watch(loc.item_number, loc.location, loc.country, loc.final_date, r20_notice_limit(t.carnet_expiry)))
    return watch, done


@dataclass(frozen=True)
class Move:
    item_number: int
    successor: str
    final_date: date | None
    notice_limit: date


def changes(c: ItemLocationsChanged) -> tuple[list[Move], list[int]]:
    """(watches that follow the goods to a successor carnet, items released) after a non-crossing event.

    R5/R6: a duplicate or replacement takes the goods over, so their watch moves with the successor's
    expiry and notice limit (R20); R17: a duty receipt settles them.
    """
    if c.successor is None or c.successor_expiry is None:
        return [], [i.item_number for i in c.items if i.location in RELEASED]
    limit = r20_notice_limit(c.successor_expiry)
    return [Move(i.item_number, c.successor, i.final_date, limit) for i in c.items if i.location not in RELEASED], \
        [i.item_number for i in c.items if i.location in RELEASED]
