"""The gateway's one decision on a commit or refusal (customs_gateway.domain.decide_commit), rule by rule."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from contracts.kinds import DeclarationKind as K
from customs_gateway.domain import Blocked, CommitRefused, MismatchRefused, decide_commit
from tests.support.gateway_domain import CARNET, GENEVA, NOW, PARIS, declared

EXPIRY = date(2027, 11, 21)


def decide(
    d=None, office=PARIS, at=NOW, decision="committed", final_date=None, blocked=None, transferred=None, carnet=CARNET
):
    return decide_commit(
        d or declared(),
        office,
        at,
        decision=decision,
        final_date=final_date,
        blocked=blocked,
        transferred=transferred,
        carnet=carnet,
        kid="a1",
    )


def refusal(**kw) -> CommitRefused:
    with pytest.raises(CommitRefused) as caught:
        decide(**kw)
    return caught.value


def test_a_declaration_that_passes_every_check_answers_its_verification():
    v = decide()
    assert v.mismatches == [] and v.carnet == CARNET
    assert [c.check for c in v.checks] == [
        "signature",
        "expiry",
        "territory",
        "replay",
        "carnet_status",
        "carnet_on_file",
        "items_on_list",
        "digest",
        "countries",
    ]


@pytest.mark.parametrize(("status", "rule"), [("voided", "R5"), ("closed", "R7")])
def test_r5_r7_a_voided_or_closed_carnet_is_refused_whatever_the_decision(status, rule):
    for decision in ("committed", "refused"):
        exc = refusal(blocked=Blocked(status, rule, None, "test"), decision=decision)
        assert exc.reason == status


def test_r6_items_a_replacement_took_over_are_refused_and_the_other_items_pass():
    assert refusal(transferred={2: "FR2700000036"}).reason == "replaced"
    assert decide(d=declared(items=(1,)), transferred={2: "FR2700000036"}).mismatches == []


def test_r18_only_customs_of_the_declared_country_decide():
    exc = refusal(office=GENEVA)
    assert (exc.reason, exc.status) == ("wrong_country", 403)


def test_a_typed_codes_expired_token_needs_a_new_declaration_but_a_scanned_one_was_refused_before():
    typed = replace(declared(from_token=False), expires_at=NOW - timedelta(minutes=1))
    assert refusal(d=typed).reason == "expired"


@pytest.mark.parametrize(
    ("d", "failed"),
    [
        (declared(items=(1, 9)), ["items_on_list"]),  # R3: only items of the general list
        (declared(digest="cd" * 16), ["digest"]),  # R3: the token was made against another list
        (declared(K.IMPORTATION, "US"), ["countries"]),  # R1: a country the carnet does not cover
    ],
)
def test_r1_r3_a_mismatch_with_the_carnet_on_file_is_refused_with_the_failed_checks(d, failed):
    office = PARIS if d.country == "FR" else replace(PARIS, country=d.country)
    with pytest.raises(MismatchRefused) as caught:
        decide(d=d, office=office)
    assert [c.check for c in caught.value.mismatches] == failed


def test_a_carnet_not_on_file_is_not_a_reason_to_refuse():
    v = decide(carnet=None)
    assert [c.check for c in v.mismatches] == ["carnet_on_file"]


def test_r12_no_entry_abroad_on_an_expired_carnet_but_customs_may_still_refuse_it():
    after_expiry = datetime(2027, 11, 22, 12, 0, tzinfo=UTC)
    entry = declared(K.IMPORTATION, "CH")
    entry = replace(entry, expires_at=after_expiry + timedelta(hours=1))
    assert refusal(d=entry, office=GENEVA, at=after_expiry).reason == "R12"
    assert decide(d=entry, office=GENEVA, at=after_expiry, decision="refused").mismatches == []


def test_r13_a_final_date_never_later_than_the_expiry():
    entry = declared(K.IMPORTATION, "CH")
    assert refusal(d=entry, office=GENEVA, final_date=EXPIRY + timedelta(days=1)).reason == "R13"
    assert decide(d=entry, office=GENEVA, final_date=EXPIRY).mismatches == []
    assert decide(d=entry, office=GENEVA, final_date=EXPIRY + timedelta(days=1), decision="refused").mismatches == []
