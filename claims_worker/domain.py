"""What the claims worker keeps watching after each transaction. Pure: no I/O imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from contracts.deadlines import r20_notice_limit
from contracts.messages import TransactionRecorded


@dataclass(frozen=True)
class Watch:
    item_number: int
    location: str
    country: str | None
    final_date: date | None
    notice_limit: date


def watches(t: TransactionRecorded) -> tuple[list[Watch], list[int]]:
    """(items to watch, items back home or accounted for) after a committed transaction.

    R20: customs must notify the guaranteeing association within one year after the last day of
    validity, so every watched item carries that limit from the start.
    """
    if t.decision != "committed":
        return [], []
    watch, done = [], []
    for loc in t.item_locations:
        if loc.location in ("home", "accounted"):
            done.append(loc.item_number)
        else:
            watch.append(Watch(loc.item_number, loc.location, loc.country, loc.final_date, r20_notice_limit(t.carnet_expiry)))
    return watch, done
