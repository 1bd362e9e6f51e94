"""What the claims worker keeps watching after each transaction. Pure: no I/O imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from contracts.deadlines import r19_overdue_at, r19_reexport_deadline, r19_reminders, r20_notice_limit
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
            watch.append(
                Watch(loc.item_number, loc.location, loc.country, loc.final_date, r20_notice_limit(t.carnet_expiry))
            )
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
    return [Move(i.item_number, c.successor, i.final_date, limit) for i in c.items if i.location not in RELEASED], [
        i.item_number for i in c.items if i.location in RELEASED
    ]


# --- the deadlines the watch list implies (R19 and the holder's reminders) -------------------

#: Locations with a final date to leave (R13): abroad after an importation, in transit after a transit entry.
CHASED = ("abroad", "in_transit")
REMINDER_DAYS = (30, 7, 1)


@dataclass(frozen=True)
class Watched:
    item_number: int
    location: str
    country: str | None
    final_date: date | None
    office_timezone: str
    carnet_expiry: date
    watched_since: datetime


@dataclass(frozen=True)
class Seizure:
    items: tuple[int, ...]
    country: str
    start: date
    end: date | None  # None: still seized
    personal_lawsuit: bool


@dataclass(frozen=True)
class Planned:
    kind: str  # "reminder" | "overdue"
    key: str  # unique per carnet: a deadline acted on is never planned again
    due_at: datetime
    country: str
    items: tuple[int, ...]
    office_timezone: str
    carnet_expiry: date
    last_day: date  # R19: the seizure-extended final date
    days_before: int | None = None


def plan(watched: list[Watched], seizures: list[Seizure]) -> list[Planned]:
    """The reminders and overdue checks of one carnet's goods abroad, grouped per country, office
    time zone and R19 deadline (items imported together become one claim).

    R19: seizures of an item in its country extend its final date, except for a personal lawsuit;
    while a seizure that began in time is still running the deadline is unknown, so nothing is
    planned for that item until customs end it. A reminder due before the goods were watched there
    is left out (goods imported 5 days before their final date get only the 1-day reminder).
    """
    groups: dict[tuple[str, str, date], list[Watched]] = {}
    for w in watched:
        if w.location not in CHASED or w.final_date is None or w.country is None:
            continue
        mine = [s for s in seizures if w.item_number in s.items and s.country == w.country and not s.personal_lawsuit]
        ended = [(s.start, s.end) for s in mine if s.end is not None]
        deadline = r19_reexport_deadline(w.final_date, ended)
        if any(s.end is None and s.start <= deadline for s in mine):
            continue  # R19: suspended while seized
        groups.setdefault((w.country, w.office_timezone, deadline), []).append(w)
    out = []
    for (country, tz_name, deadline), members in sorted(groups.items()):
        tz = ZoneInfo(tz_name)
        items = tuple(sorted(w.item_number for w in members))
        expiry, since = members[0].carnet_expiry, min(w.watched_since for w in members)
        base = dict(country=country, items=items, office_timezone=tz_name, carnet_expiry=expiry, last_day=deadline)
        for n, _, at in r19_reminders(deadline, [], tz, REMINDER_DAYS):
            if at >= since:
                out.append(
                    Planned("reminder", f"reminder:{country}:{deadline.isoformat()}:{n}", at, days_before=n, **base)
                )
        # `deadline` is already seizure-extended: no seizure to add again.
        out.append(
            Planned("overdue", f"overdue:{country}:{deadline.isoformat()}", r19_overdue_at(deadline, [], tz), **base)
        )
    return out
