"""R6, R12 and R16 judged in the right country's time zone, on boundary days east and west of UTC.

R6: the issuing country's zone, with the offset each timestamp carries, and the ledger's clock.
R12 at declaration: the destination country's zone where its day ends last (the commit re-checks in
the office's zone). R16: the destination's local day against its digital date.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from contracts.kinds import DeclarationKind as K
from core.domain import (
    ABROAD,
    EXPORTED,
    Carnet,
    CountryPolicy,
    Crossing,
    Item,
    LifecycleRefused,
    check_declaration,
    replacement,
)
from core.domain.zones import country_zones, day_ends_first, day_ends_last, zone_of

EXPIRY = date(2027, 11, 21)
TOKYO, NEW_YORK = ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")


def codes(reasons) -> list[tuple[str, str | None]]:
    return [(r.rule, r.code) for r in reasons]


def carnet(home: str, *items: Item, countries: tuple[str, ...] = ("JP", "US", "CH", "FR")) -> Carnet:
    listed = {i.number: i for i in items} or {1: Item(1, EXPORTED, exported_by=1)}
    return Carnet(
        number=f"{home}2600000010",
        home_country=home,
        countries=tuple(c for c in countries if c != home),
        expiry_date=EXPIRY,
        holder_id="hld_1",
        active=True,
        items=listed,
    )


def local(zone: ZoneInfo, day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=zone)


# --- the zone table ------------------------------------------------------------------------------


def test_zones_multi_zone_countries_end_their_day_last_in_the_west_and_first_in_the_east():
    at = datetime(2027, 11, 21, 12, tzinfo=UTC)
    assert day_ends_last("US", at).utcoffset(at) == timedelta(hours=-10)  # Hawaii / Aleutians in November
    assert day_ends_first("US", at).utcoffset(at) == timedelta(hours=-5)  # Eastern time
    assert day_ends_last("JP", at) == day_ends_first("JP", at) == TOKYO
    assert len(country_zones("RU")) > 5 and country_zones("XX") == ()


def test_zones_a_timestamp_names_its_office_by_its_offset_and_utc_falls_back_to_the_earliest_midnight():
    assert zone_of("US", datetime(2027, 11, 21, 20, tzinfo=timezone(timedelta(hours=-8)))).key.startswith("America/")
    assert zone_of("US", datetime(2027, 11, 21, 20, tzinfo=timezone(timedelta(hours=-8)))).utcoffset(
        datetime(2027, 11, 21)
    ) == timedelta(hours=-8)
    assert zone_of("US", datetime(2027, 11, 21, 20, tzinfo=UTC)).utcoffset(datetime(2027, 11, 21)) == timedelta(
        hours=-5
    )


# --- R6: replacement before the original expires, in the issuing country ---------------------------


def fresh(home: str) -> Carnet:
    return Carnet(
        number=f"{home}2700000036",
        home_country=home,
        countries=("CH",),
        expiry_date=date(2028, 11, 20),
        holder_id="hld_1",
        items={1: Item(1)},
    )


def r6(home: str, requested_at: datetime, approved_at: datetime, now: datetime) -> list[tuple[str, str | None]]:
    original = carnet(home, Item(1, ABROAD, "CH", date(2027, 6, 30), exported_by=1, entered_by=1))
    try:
        replacement(
            original,
            fresh(home),
            requested_at,
            approved_at,
            lambda c: CountryPolicy(c, replacement_accepted=True),
            now=now,
        )
    except LifecycleRefused as refused:
        return codes(refused.reasons)
    return []


@pytest.mark.parametrize(("home", "zone"), [("JP", TOKYO), ("US", NEW_YORK)], ids=["east-JP", "west-US"])
@pytest.mark.parametrize(
    ("day", "accepted"),
    [
        (EXPIRY - timedelta(days=1), True),
        (EXPIRY, True),
        (EXPIRY + timedelta(days=1), False),
    ],
    ids=["day-before", "day-of", "day-after"],
)
def test_r6_replacement_is_judged_on_the_issuing_countrys_local_day(home, zone, day, accepted):
    first, last = local(zone, day, 0, 0, 0), local(zone, day, 23, 59, 59)
    for at in (first, last):
        assert r6(home, at - timedelta(minutes=1) if day != EXPIRY + timedelta(days=1) else at, at, at) == (
            [] if accepted else [("R6", "replacement_too_late")]
        ), at


def test_r6_the_day_after_expiry_in_tokyo_is_late_although_it_is_still_the_expiry_day_in_utc_minus_12():
    """The defect this fixes: 22 Nov 08:00 in Tokyo is 21 Nov 11:00 at UTC-12."""
    at = local(TOKYO, EXPIRY + timedelta(days=1), 8)
    assert at.astimezone(ZoneInfo("Etc/GMT+12")).date() == EXPIRY
    assert r6("JP", at, at, at) == [("R6", "replacement_too_late")]


def test_r6_the_offset_a_timestamp_carries_is_kept_a_utc_stamp_gets_the_earliest_midnight_of_the_country():
    # 21 Nov 23:30 in Los Angeles (-08:00) is a US office's expiry day: in time.
    pacific = datetime(2027, 11, 21, 23, 30, tzinfo=timezone(timedelta(hours=-8)))
    assert r6("US", pacific, pacific, pacific) == []
    # The same instant written in UTC names no US office: judged where the US day ends first (New York, 22 Nov).
    in_utc = pacific.astimezone(UTC)
    assert r6("US", in_utc, in_utc, in_utc) == [("R6", "replacement_too_late")]


@pytest.mark.parametrize(
    ("requested", "approved", "code"),
    [
        (timedelta(minutes=-1), timedelta(minutes=6), "dated_in_future"),
        (timedelta(days=1), timedelta(days=1), "dated_in_future"),
        (timedelta(days=-31), timedelta(days=-31), "approval_too_old"),
        (timedelta(days=-400), timedelta(minutes=-1), "applied_before_issue"),
    ],
    ids=["approved-6-min-ahead", "both-tomorrow", "approved-31-days-ago", "applied-before-any-issue"],
)
def test_r6_application_and_approval_are_checked_against_the_ledgers_clock(requested, approved, code):
    now = local(TOKYO, date(2027, 10, 1), 12)
    assert r6("JP", now + requested, now + approved, now) == [("R6", code)]


def test_r6_a_clock_skew_of_five_minutes_and_an_approval_thirty_days_old_are_accepted():
    now = local(TOKYO, date(2027, 10, 1), 12)
    assert r6("JP", now - timedelta(days=30), now + timedelta(minutes=5), now) == []
    assert r6("JP", now - timedelta(days=31), now - timedelta(days=30), now) == []


def test_r6_a_timestamp_without_offset_is_refused():
    now = local(TOKYO, date(2027, 10, 1), 12)
    assert r6("JP", now.replace(tzinfo=None), now, now) == [("R6", "timestamp_without_offset")]


# --- R12 at declaration: the destination's local day -----------------------------------------------


def declare(country: str, at: datetime, policy: CountryPolicy | None = None) -> list[tuple[str, str | None]]:
    policy = policy or CountryPolicy(country)
    return codes(
        check_declaration(carnet("FR"), Crossing.of(K.IMPORTATION, country, [1], intended_use="fair"), at, policy, "l")
    )


@pytest.mark.parametrize(
    ("country", "zone"), [("JP", TOKYO), ("US", ZoneInfo("Pacific/Honolulu"))], ids=["east-JP", "west-US-Hawaii"]
)
@pytest.mark.parametrize(
    ("day", "allowed"),
    [
        (EXPIRY - timedelta(days=1), True),
        (EXPIRY, True),
        (EXPIRY + timedelta(days=1), False),
    ],
    ids=["day-before", "day-of", "day-after"],
)
def test_r12_entry_token_is_judged_on_the_destinations_local_day(country, zone, day, allowed):
    for at in (local(zone, day, 0), local(zone, day, 23, 59, 59)):
        assert declare(country, at) == ([] if allowed else [("R12", "carnet_expired")]), at


def test_r12_no_token_for_japan_on_the_day_after_expiry_there_although_utc_minus_12_is_still_on_the_expiry_day():
    at = local(TOKYO, EXPIRY + timedelta(days=1), 6)  # 21 Nov 21:00 UTC
    assert at.astimezone(ZoneInfo("Etc/GMT+12")).date() == EXPIRY
    assert declare("JP", at) == [("R12", "carnet_expired")]


def test_r12_a_us_entry_is_still_possible_on_the_expiry_day_in_hawaii_after_new_york_midnight():
    at = local(NEW_YORK, EXPIRY + timedelta(days=1), 3)  # 21 Nov 22:00 in Honolulu
    assert declare("US", at) == []


# --- R16: the digital date, on the destination's local day -----------------------------------------


@pytest.mark.parametrize(
    ("country", "zone"), [("JP", TOKYO), ("US", ZoneInfo("Pacific/Honolulu"))], ids=["east-JP", "west-US"]
)
@pytest.mark.parametrize(
    ("offset", "allowed"), [(-1, False), (0, True), (1, True)], ids=["day-before", "day-of", "day-after"]
)
def test_r16_a_country_that_waits_for_its_digital_date_takes_digital_declarations_from_that_day(
    country, zone, offset, allowed
):
    digital = date(2027, 3, 1)
    policy = CountryPolicy(country, digital_date=digital, before_digital_date="refuse")
    for at in (local(zone, digital + timedelta(days=offset), 0), local(zone, digital + timedelta(days=offset), 23, 59)):
        assert declare(country, at, policy) == ([] if allowed else [("R16", "before_digital_date")]), at


def test_r16_the_refusal_names_the_date_or_says_there_is_none():
    at = local(TOKYO, date(2027, 2, 28), 12)
    dated = CountryPolicy("JP", digital_date=date(2027, 3, 1), before_digital_date="refuse")
    (reason,) = check_declaration(
        carnet("FR"), Crossing.of(K.IMPORTATION, "JP", [1], intended_use="fair"), at, dated, "country-policy v JP"
    )
    assert (reason.rule, reason.policy) == ("R16", "country-policy v JP") and "2027-03-01" in reason.message
    (none,) = check_declaration(
        carnet("FR"),
        Crossing.of(K.IMPORTATION, "JP", [1], intended_use="fair"),
        at,
        CountryPolicy("JP", before_digital_date="refuse"),
        "l",
    )
    assert none.rule == "R16" and "no digital date" in none.message


def test_r16_a_country_that_takes_both_before_its_digital_date_accepts_digital_declarations():
    at = local(TOKYO, date(2027, 2, 28), 12)
    assert declare("JP", at, CountryPolicy("JP", digital_date=date(2027, 3, 1), before_digital_date="accept")) == []
    assert declare("JP", at, CountryPolicy("JP")) == []
