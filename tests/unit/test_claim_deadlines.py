"""The claims deadlines (DOMAIN.md R19-R25, R27) at every boundary, one table per rule.

Each row names the event day and the last day the rule allows; every rule is then checked on the
day before, the day of and the day after that last day, and the scheduler's instant (24:00 local
time of the last day) is checked at 23:30 local in an office east (UTC+9, UTC+14) and west (UTC-5,
UTC-11) of Greenwich, where the UTC date is not the local date. No test reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from contracts.deadlines import (
    DeadlineError,
    lapses_at,
    r19_overdue_at,
    r19_reexport_deadline,
    r19_reexported_in_time,
    r19_reminders,
    r20_association_discharged,
    r20_discharged_at,
    r20_notice_in_time,
    r20_notice_limit,
    r21_evidence_deadline,
    r21_evidence_expires_at,
    r21_evidence_in_time,
    r22_payment_deadline,
    r22_payment_overdue,
    r22_payment_overdue_at,
    r23_refund_deadline,
    r23_refund_in_time,
    r23_refund_window_closes_at,
    r24_discrepancy_claim_in_time,
    r24_discrepancy_claim_limit,
)
from contracts.liability import r25_capped_claim, r25_liability_caps, r27_regularization_fee_due
from contracts.periods import local_date

D = date.fromisoformat
ONE = timedelta(days=1)
TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
NEW_YORK = ZoneInfo("America/New_York")  # UTC-5 / UTC-4
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
ZONES = [TOKYO, KIRITIMATI, NEW_YORK, PAGO_PAGO]

# (rule, event day, last day): the last day on which the act is still in time.
# Every rule gets a plain row, a month end, a 29 Feb last day, and a period starting on 29 Feb.
CASES: list[tuple[str, str, str]] = [
    # R19: the final date, extended by a seizure of 10 days (both ends counted)
    ("R19", "2027-03-31", "2027-04-10"),
    ("R19", "2027-04-20", "2027-04-30"),  # runs to a month end
    ("R19", "2028-02-19", "2028-02-29"),  # ends on a leap day
    ("R19", "2028-02-29", "2028-03-10"),  # starts on a leap day
    # R20: one year from the day after the last day of validity
    ("R20", "2027-01-14", "2028-01-14"),
    ("R20", "2026-12-31", "2027-12-31"),  # from 1 Jan: the year end
    ("R20", "2027-02-28", "2028-02-29"),  # from 1 Mar 2027: ends on the leap day
    ("R20", "2028-02-28", "2029-02-28"),  # from 29 Feb 2028: no 29 Feb 2029
    ("R20", "2028-02-29", "2029-02-28"),  # expiry on the leap day
    # R21: six months from the day after the notice
    ("R21", "2027-03-10", "2027-09-10"),
    ("R21", "2027-06-30", "2027-12-31"),  # from 1 Jul: to the year end
    ("R21", "2027-08-30", "2028-02-29"),  # from 31 Aug: no 31 Feb, end of the leap February
    ("R21", "2028-02-28", "2028-08-28"),  # from 29 Feb: the day before 29 Aug
    ("R21", "2028-02-29", "2028-08-31"),  # notice on the leap day: from 1 Mar
    # R22: fourteen days from the day after receiving the duty memo
    ("R22", "2026-05-03", "2026-05-17"),
    ("R22", "2027-01-25", "2027-02-08"),  # across a month end
    ("R22", "2028-02-15", "2028-02-29"),  # ends on the leap day
    ("R22", "2028-02-29", "2028-03-14"),  # memo received on the leap day
    # R23: three months from the day after payment
    ("R23", "2027-04-10", "2027-07-10"),
    ("R23", "2027-10-31", "2028-01-31"),  # from 1 Nov, across the year end
    ("R23", "2027-11-29", "2028-02-29"),  # from 30 Nov: no 30 Feb, end of the leap February
    ("R23", "2028-02-28", "2028-05-28"),  # from 29 Feb: the day before 29 May
    ("R23", "2028-02-29", "2028-05-31"),  # paid on the leap day: from 1 Mar
    # R24: one year from the day after the last day of validity, like R20
    ("R24", "2027-01-14", "2028-01-14"),
    ("R24", "2027-02-28", "2028-02-29"),
    ("R24", "2028-02-29", "2029-02-28"),
]

SEIZURE = 10  # days, for the R19 rows


def _r19_seizure(event: date) -> list[tuple[date, date]]:
    return [(event - timedelta(days=20), event - timedelta(days=20 - SEIZURE + 1))]


LAST_DAY: dict[str, Callable[[date], date]] = {
    "R19": lambda final: r19_reexport_deadline(final, _r19_seizure(final)),
    "R20": r20_notice_limit,
    "R21": r21_evidence_deadline,
    "R22": r22_payment_deadline,
    "R23": r23_refund_deadline,
    "R24": r24_discrepancy_claim_limit,
}
IN_TIME: dict[str, Callable[[date, date], bool]] = {
    "R19": lambda final, day: r19_reexported_in_time(final, _r19_seizure(final), day),
    "R20": r20_notice_in_time,
    "R21": r21_evidence_in_time,
    "R22": lambda memo, day: not r22_payment_overdue(memo, day),
    "R23": r23_refund_in_time,
    "R24": r24_discrepancy_claim_in_time,
}
LAPSES_AT: dict[str, Callable[..., datetime]] = {
    "R19": lambda final, tz: r19_overdue_at(final, _r19_seizure(final), tz),
    "R20": r20_discharged_at,
    "R21": r21_evidence_expires_at,
    "R22": r22_payment_overdue_at,
    "R23": r23_refund_window_closes_at,
    "R24": lambda expiry, tz: lapses_at(r24_discrepancy_claim_limit(expiry), tz),
}


def _id(case: tuple[str, str, str]) -> str:
    return f"{case[0]}-{case[1]}"


def test_every_claims_rule_has_rows():
    assert {rule for rule, _, _ in CASES} == {"R19", "R20", "R21", "R22", "R23", "R24"}
    for rule in LAST_DAY:
        rows = [(e, last) for r, e, last in CASES if r == rule]
        assert any(D(last).month == 2 and D(last).day == 29 for _, last in rows) or rule in {"R24"}, rule
        assert any(D(e) == date(2028, 2, 29) for e, _ in rows), f"{rule}: no period starting on a leap day"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_last_day(case):
    rule, event, last = case
    assert LAST_DAY[rule](D(event)) == D(last)


@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize(
    ("offset", "in_time"), [(-1, True), (0, True), (1, False)], ids=["day-before", "day-of", "day-after"]
)
def test_day_before_day_of_day_after(case, offset, in_time):
    rule, event, last = case
    assert IN_TIME[rule](D(event), D(last) + offset * ONE) is in_time


@pytest.mark.parametrize("case", CASES, ids=_id)
@pytest.mark.parametrize("tz", ZONES, ids=str)
def test_time_zone_boundary_2330_local_is_still_the_last_day(case, tz):
    """An act at 23:30 local time on the last day is in time, though in UTC+X offices it is
    another UTC date than in UTC-X ones; 00:30 local the next day is late."""
    rule, event, last = case
    due = LAPSES_AT[rule](D(event), tz)
    late_evening = datetime.combine(D(last), time(23, 30), tz)
    just_after = datetime.combine(D(last) + ONE, time(0, 30), tz)
    assert late_evening.astimezone(UTC) < due <= just_after.astimezone(UTC)
    assert local_date(late_evening, tz) == D(last)  # the rule counts the local day ...
    assert IN_TIME[rule](D(event), local_date(late_evening.astimezone(UTC), tz))
    assert not IN_TIME[rule](D(event), local_date(just_after.astimezone(UTC), tz))
    assert due == datetime.combine(D(last) + ONE, time(0), tz).astimezone(UTC)


def test_utc_date_would_be_wrong_west_and_east():
    """R19: the UTC calendar would shift the boundary by a day in both directions."""
    final = D("2027-03-31")
    west = datetime(2027, 3, 31, 23, 30, tzinfo=PAGO_PAGO)  # 2027-04-01 10:30 UTC
    east = datetime(2027, 4, 1, 0, 30, tzinfo=KIRITIMATI)  # 2027-03-31 10:30 UTC
    assert west.astimezone(UTC).date() == D("2027-04-01")
    assert r19_reexported_in_time(final, [], local_date(west, PAGO_PAGO))
    assert east.astimezone(UTC).date() == final
    assert not r19_reexported_in_time(final, [], local_date(east, KIRITIMATI))


@pytest.mark.parametrize(
    ("final", "expected"),
    [
        ("2027-03-31", [(30, "2027-03-01"), (7, "2027-03-24"), (1, "2027-03-30")]),  # across February
        ("2028-03-30", [(30, "2028-02-29"), (7, "2028-03-23"), (1, "2028-03-29")]),  # on the leap day
        ("2028-03-01", [(30, "2028-01-31"), (7, "2028-02-23"), (1, "2028-02-29")]),
    ],
)
def test_r19_reminders_30_7_1_days_before_at_local_midnight(final, expected):
    for tz in ZONES:
        got = r19_reminders(D(final), [], tz)
        assert [(n, day) for n, day, _ in got] == [(n, D(d)) for n, d in expected]
        for _, day, at in got:
            assert at.tzinfo is not None and local_date(at, tz) == day
            assert local_date(at - timedelta(seconds=1), tz) == day - ONE


def test_r19_reminders_follow_a_seizure_extension():
    got = r19_reminders(D("2027-03-31"), [(D("2027-03-01"), D("2027-03-10"))], TOKYO)
    assert [(n, day) for n, day, _ in got] == [(30, D("2027-03-11")), (7, D("2027-04-03")), (1, D("2027-04-09"))]


# --- R25: per currency, Decimal ----------------------------------------------------------------


def test_r25_caps_per_currency_never_added_together():
    caps = r25_liability_caps({"EUR": Decimal("1000.00"), "CHF": Decimal("0.05")})
    assert caps == {"CHF": Decimal("0.06"), "EUR": Decimal("1100.00")}
    assert list(caps) == ["CHF", "EUR"]


@pytest.mark.parametrize(
    ("claimed", "assessed", "expected"),
    [
        ({"EUR": "1099.99"}, {"EUR": "1000"}, {"EUR": "1099.99"}),  # the cent before the cap
        ({"EUR": "1100.00"}, {"EUR": "1000"}, {"EUR": "1100.00"}),  # the cap itself
        ({"EUR": "1100.01"}, {"EUR": "1000"}, {"EUR": "1100.00"}),  # the cent after: capped
        ({"EUR": "5000", "CHF": "10"}, {"EUR": "1000", "CHF": "100"}, {"CHF": "10.00", "EUR": "1100.00"}),
    ],
)
def test_r25_capped_claim_at_the_boundary(claimed, assessed, expected):
    got = r25_capped_claim({c: Decimal(a) for c, a in claimed.items()}, {c: Decimal(a) for c, a in assessed.items()})
    assert got == {c: Decimal(a) for c, a in expected.items()}


@pytest.mark.parametrize(
    ("claimed", "assessed", "match"),
    [
        ({"USD": Decimal("1")}, {"EUR": Decimal("1")}, "no duties assessed at importation in USD"),
        ({"eur": Decimal("1")}, {"eur": Decimal("1")}, "ISO 4217"),
        ({"EUR": Decimal("-1")}, {"EUR": Decimal("1")}, "negative"),
        ({"EUR": Decimal("NaN")}, {"EUR": Decimal("1")}, "finite"),
    ],
)
def test_r25_refuses_bad_claims(claimed, assessed, match):
    with pytest.raises(DeadlineError, match=match):
        r25_capped_claim(claimed, assessed)


# --- R20 discharge at the instant, R27 ----------------------------------------------------------


def test_r20_discharged_from_local_midnight_after_the_limit():
    expiry = D("2027-02-28")
    at = r20_discharged_at(expiry, NEW_YORK)
    assert at == datetime(2028, 3, 1, 5, 0, tzinfo=UTC)  # 00:00 EST on 1 Mar 2028
    assert not r20_association_discharged(expiry, local_date(at - timedelta(seconds=1), NEW_YORK))
    assert r20_association_discharged(expiry, local_date(at, NEW_YORK))


@pytest.mark.parametrize(
    ("validated", "left", "due"),
    [(False, True, True), (True, True, False), (False, False, False), (True, False, False)],
)
def test_r27_fee_flag_only_when_goods_left_without_a_validated_departure(validated, left, due):
    assert r27_regularization_fee_due(validated, left) is due
