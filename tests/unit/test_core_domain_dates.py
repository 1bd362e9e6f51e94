"""The ledger's declaration rules as pure functions (core/domain): R12 no entry abroad on an expired carnet,
R13 final dates.

Date rules are checked on the day before, the day of and the day after each boundary, at instants chosen so
that the office's local date and the UTC date differ.

Pure: no I/O, no wall clock (every instant is a literal).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.deadlines import DeadlineError
from contracts.kinds import DeclarationKind as K
from core.domain import (
    EXPORTED,
    LATEST_ZONE,
    CountryPolicy,
    check_declaration,
    check_final_date,
    final_date_for,
)
from tests.support.core_domain import (
    AUCKLAND,
    BEFORE,
    DAY,
    EXPIRY,
    LONG_AFTER,
    PARIS,
    SPEC_TO,
    carnet,
    check,
    codes,
    commit,
    cross,
    item,
    ready_crossing,
    ready_for,
)

# --- R12: no entry abroad on an expired carnet ----------------------------------------------------

# Instants given in UTC, with the office's local day: each lies on a different UTC date.
R12_CASES = [
    # zone, instant (UTC), office-local day relative to expiry, entry allowed
    (PARIS, datetime(2027, 11, 19, 23, 30, tzinfo=UTC), "day before", True),  # 20 Nov 00:30 local
    (PARIS, datetime(2027, 11, 20, 23, 30, tzinfo=UTC), "day of", True),  # 21 Nov 00:30 local
    (PARIS, datetime(2027, 11, 21, 22, 59, 59, tzinfo=UTC), "day of", True),  # 21 Nov 23:59:59 local
    (PARIS, datetime(2027, 11, 21, 23, 0, tzinfo=UTC), "day after", False),  # 22 Nov 00:00 local
    (PARIS, datetime(2027, 11, 21, 23, 30, tzinfo=UTC), "day after", False),  # 22 Nov 00:30 local
    (AUCKLAND, datetime(2027, 11, 19, 23, 0, tzinfo=UTC), "day before", True),  # 20 Nov 12:00 local
    (AUCKLAND, datetime(2027, 11, 20, 21, 0, tzinfo=UTC), "day of", True),  # 21 Nov 10:00 local
    (AUCKLAND, datetime(2027, 11, 21, 10, 59, 59, tzinfo=UTC), "day of", True),  # 21 Nov 23:59:59 local
    (AUCKLAND, datetime(2027, 11, 21, 11, 0, tzinfo=UTC), "day after", False),  # 22 Nov 00:00 local
    (AUCKLAND, datetime(2027, 11, 21, 20, 0, tzinfo=UTC), "day after", False),  # 22 Nov 09:00 local
]
OFFSET = {"day before": -1, "day of": 0, "day after": 1}


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
@pytest.mark.parametrize(
    ("tz", "at", "day", "allowed"), R12_CASES, ids=[f"{tz.key}-{day}-{at:%d%H%M}" for tz, at, day, _ in R12_CASES]
)
def test_r12_entry_abroad_is_judged_on_the_office_local_expiry_day(kind, tz, at, day, allowed):
    assert at.astimezone(tz).date() == EXPIRY + OFFSET[day] * DAY
    c = carnet(item(1, EXPORTED))
    reasons = check(c, cross(kind, "CH", [1]), at, tz)
    assert codes(reasons) == ([] if allowed else [("R12", "carnet_expired")])


def test_r12_local_and_utc_dates_differ_at_the_chosen_instants():
    """Guards the table above: only the last instants of the expiry day fall on the same UTC date,
    and judging by the UTC date would wrongly let every "day after" entry through."""
    same_date = [(tz.key, at) for tz, at, _, _ in R12_CASES if at.astimezone(tz).date() == at.date()]
    assert same_date == [
        ("Europe/Paris", datetime(2027, 11, 21, 22, 59, 59, tzinfo=UTC)),
        ("Pacific/Auckland", datetime(2027, 11, 21, 10, 59, 59, tzinfo=UTC)),
    ]
    wrong_by_utc = [day for tz, at, day, allowed in R12_CASES if (at.date() <= EXPIRY) != allowed]
    assert wrong_by_utc == ["day after"] * 4


def test_r12_at_declaration_time_the_day_is_judged_in_the_destination_country():
    """No office yet: the destination's zone (CH, Europe/Zurich, UTC+1), not where any day ends last."""
    c = carnet(item(1, EXPORTED))
    last_instant = datetime(2027, 11, 21, 22, 59, 59, tzinfo=UTC)  # 21 Nov 23:59:59 in Zurich
    assert check_declaration(c, cross(K.IMPORTATION, "CH", [1]), last_instant, CountryPolicy("CH"), "l") == []
    refused = check_declaration(
        c, cross(K.IMPORTATION, "CH", [1]), last_instant + timedelta(seconds=1), CountryPolicy("CH"), "l"
    )
    assert codes(refused) == [("R12", "carnet_expired")]
    assert LATEST_ZONE.utcoffset(last_instant) == timedelta(hours=-12)  # where the old check still said "valid"


@pytest.mark.parametrize("kind", [K.REIMPORTATION, K.REEXPORTATION, K.TRANSIT_DISCHARGE])
@pytest.mark.parametrize(
    "at", [datetime(2027, 11, 21, 23, 30, tzinfo=UTC), LONG_AFTER], ids=["day-after", "months-after"]
)
def test_r12_leaving_abroad_and_coming_home_are_allowed_after_expiry(kind, at):
    c = carnet(ready_for(kind))
    assert check(c, ready_crossing(kind), at, PARIS) == []
    assert commit(c, ready_crossing(kind), 1, at, PARIS).items[1].location == SPEC_TO[kind]


@pytest.mark.parametrize(
    ("at", "allowed"),
    [
        (datetime(2027, 11, 19, 23, 30, tzinfo=UTC), True),  # day before (20 Nov 00:30 Paris)
        (datetime(2027, 11, 21, 22, 30, tzinfo=UTC), True),  # day of (21 Nov 23:30 Paris)
        (datetime(2027, 11, 21, 23, 30, tzinfo=UTC), False),  # day after (22 Nov 00:30 Paris)
    ],
)
def test_r12_exportation_after_expiry_is_refused_under_r2(at, allowed):
    reasons = check(carnet(), cross(K.EXPORTATION, "FR", [1]), at, PARIS)
    assert codes(reasons) == ([] if allowed else [("R2", "carnet_expired")])


# --- R13: final dates ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r13_final_date_defaults_to_expiry_and_a_restriction_is_kept(kind):
    c = carnet(item(1, EXPORTED))
    policy = CountryPolicy("CH")
    assert final_date_for(c, kind, None, BEFORE, PARIS, policy) == EXPIRY
    assert final_date_for(c, kind, date(2027, 3, 31), BEFORE, PARIS, policy) == date(2027, 3, 31)
    after = commit(c, cross(kind, "CH", [1]), 1, restricted_to=date(2027, 3, 31))
    assert after.items[1].final_date == date(2027, 3, 31)
    assert commit(c, cross(kind, "CH", [1]), 1).items[1].final_date == EXPIRY


@pytest.mark.parametrize(
    ("restricted_to", "allowed"),
    [
        (EXPIRY - DAY, True),
        (EXPIRY, True),
        (EXPIRY + DAY, False),
    ],
    ids=["day-before", "day-of", "day-after"],
)
@pytest.mark.parametrize("kind", [K.IMPORTATION, K.TRANSIT_ENTRY])
def test_r13_a_final_date_after_expiry_is_refused(kind, restricted_to, allowed):
    c = carnet(item(1, EXPORTED))
    reasons = check_final_date(c, restricted_to)
    if allowed:
        assert reasons == []
        assert final_date_for(c, kind, restricted_to, BEFORE, PARIS, CountryPolicy("CH")) == restricted_to
    else:
        assert codes(reasons) == [("R13", "final_date_after_expiry")]
        assert reasons[0].field == "final_date"
        with pytest.raises(DeadlineError):  # never clamped silently
            final_date_for(c, kind, restricted_to, BEFORE, PARIS, CountryPolicy("CH"))


def test_r13_no_restriction_is_always_acceptable():
    assert check_final_date(carnet(), None) == []


@pytest.mark.parametrize("kind", [K.EXPORTATION, K.REIMPORTATION, K.REEXPORTATION, K.TRANSIT_DISCHARGE])
def test_r13_only_entries_get_a_final_date(kind):
    c = carnet(ready_for(kind))
    assert final_date_for(c, kind, None, BEFORE, PARIS, CountryPolicy("CH")) is None
    assert commit(c, ready_crossing(kind), 1).items[1].final_date is None
