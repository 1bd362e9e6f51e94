"""contracts.deadlines, crossings: R12 (entry needs a valid carnet), R13 (final date), R15 (maximum stay),
R16 (digital date).

All dates and instants are injected; no test reads the wall clock.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from contracts.deadlines import (
    DeadlineError,
    r12_entry_allowed,
    r13_final_date,
    r15_max_stay_last_day,
    r16_digital_required,
)
from contracts.kinds import DeclarationKind
from tests.support.dates import AUCKLAND, NEW_YORK, ONE_US, PARIS, D, local, utc

# ---------------------------------------------------------------------------------------------
# R12, R13, R15, R16
# ---------------------------------------------------------------------------------------------


ENTRY_KINDS = ["importation", "transit_entry"]
OTHER_KINDS = ["exportation", "reimportation", "reexportation", "transit_discharge"]


@pytest.mark.parametrize("kind", ENTRY_KINDS)
def test_r12_entry_needs_a_valid_carnet(kind):
    expiry = D("2027-01-14")
    assert r12_entry_allowed(kind, expiry, local("2027-01-14T23:59:59.999999", AUCKLAND), AUCKLAND)
    assert not r12_entry_allowed(kind, expiry, local("2027-01-15T00:00:00", AUCKLAND), AUCKLAND)
    assert not r12_entry_allowed(kind, expiry, local("2028-06-01T12:00:00", AUCKLAND), AUCKLAND)


@pytest.mark.parametrize("kind", OTHER_KINDS)
def test_r12_other_kinds_allowed_after_expiry(kind):
    expiry = D("2027-01-14")
    assert r12_entry_allowed(kind, expiry, local("2027-01-14T12:00:00", NEW_YORK), NEW_YORK)
    assert r12_entry_allowed(kind, expiry, local("2027-01-15T00:00:00", NEW_YORK), NEW_YORK)
    assert r12_entry_allowed(kind, expiry, local("2030-01-01T00:00:00", NEW_YORK), NEW_YORK)


def test_r12_reimportation_home_after_expiry_but_not_importation_abroad():
    expiry, at = D("2026-03-07"), utc("2026-03-08T05:00:00")  # 00:00 EST on 8 Mar: just expired
    assert r12_entry_allowed(DeclarationKind.REIMPORTATION, expiry, at, NEW_YORK)
    assert not r12_entry_allowed(DeclarationKind.IMPORTATION, expiry, at, NEW_YORK)
    assert r12_entry_allowed(DeclarationKind.IMPORTATION, expiry, at - ONE_US, NEW_YORK)


def test_r12_accepts_every_declaration_kind_and_rejects_unknown():
    at = utc("2026-01-01T00:00:00")
    for kind in DeclarationKind:
        assert r12_entry_allowed(kind, D("2026-12-31"), at, PARIS)
    with pytest.raises(DeadlineError, match="unknown declaration kind"):
        r12_entry_allowed("smuggling", D("2026-12-31"), at, PARIS)
    with pytest.raises(DeadlineError, match="aware"):
        r12_entry_allowed("reimportation", D("2026-12-31"), datetime(2026, 1, 1), PARIS)


def test_r13_final_date_defaults_to_expiry():
    assert r13_final_date(D("2027-01-14"), None) == D("2027-01-14")


def test_r13_final_date_restriction_up_to_expiry():
    expiry = D("2027-01-14")
    assert r13_final_date(expiry, D("2026-06-30")) == D("2026-06-30")
    assert r13_final_date(expiry, expiry) == expiry  # the last allowed day


def test_r13_final_date_after_expiry_is_refused_not_clamped():
    with pytest.raises(DeadlineError, match="later than the expiry date 2027-01-14"):
        r13_final_date(D("2027-01-14"), D("2027-01-15"))  # the day after


@pytest.mark.parametrize(
    ("entry", "expiry", "months", "days", "expected"),
    [
        ("2026-01-15", "2027-01-14", 6, 0, "2026-07-14"),
        ("2026-01-15", "2027-01-14", 0, 90, "2026-04-14"),
        ("2026-08-31", "2027-08-30", 6, 0, "2027-02-28"),  # no 31 Feb: end of February
        ("2026-12-01", "2027-01-14", 3, 0, "2027-01-14"),  # capped by the expiry date
        ("2026-12-01", "2027-02-28", 3, 0, "2027-02-28"),  # stay end == expiry
    ],
)
def test_r15_max_stay_last_day(entry, expiry, months, days, expected):
    assert r15_max_stay_last_day(D(entry), D(expiry), months=months, days=days) == D(expected)
    assert r13_final_date(D(expiry), D(expected)) == D(expected)  # always a legal R13 restriction


def test_r16_digital_required_from_the_digital_date():
    digital = D("2026-07-01")
    assert not r16_digital_required(None, D("2030-01-01"))
    assert not r16_digital_required(digital, D("2026-06-30"))
    assert r16_digital_required(digital, D("2026-07-01"))
    assert r16_digital_required(digital, D("2026-07-02"))
