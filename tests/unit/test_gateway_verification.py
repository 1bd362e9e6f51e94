"""The gateway's pure decisions of issue 4: the verification checks and the per-officer sliding window."""

from datetime import timedelta

import pytest

from contracts.kinds import DeclarationKind as K
from customs_gateway.domain import (
    Blocked,
    MismatchRefused,
    Office,
    check_mismatches,
    mismatches_around_replay,
    verification,
)
from tests.support.gateway_domain import CARNET, NOW, PARIS, declared


def oks(v) -> dict:
    return {c.check: c.ok for c in v.checks}


def test_everything_matching_has_no_mismatch_and_shows_only_the_declared_items():
    v = verification(declared(items=(2,)), PARIS, NOW, replayed=False, blocked=None, carnet=CARNET, kid="a1")
    assert set(oks(v).values()) == {True} and v.mismatches == []
    assert v.carnet_view()["items"] == [{"item_number": 2, "quantity": 4, "origin_country": "FR"}]


@pytest.mark.parametrize(
    "kind, country, ok",
    [
        (K.EXPORTATION, "FR", True),
        (K.REIMPORTATION, "CH", False),
        (K.IMPORTATION, "CH", True),
        (K.IMPORTATION, "DE", False),
        (K.TRANSIT_ENTRY, "GB", True),
        (K.REEXPORTATION, "FR", False),
    ],
)
def test_countries_home_kinds_at_home_foreign_kinds_in_the_carnets_countries(kind, country, ok):
    v = verification(
        declared(kind, country), Office("X", country, "UTC"), NOW, replayed=False, blocked=None, carnet=CARNET
    )
    assert oks(v)["countries"] is ok


def test_items_off_the_list_and_another_digest_block_a_commit_with_every_mismatch_named():
    v = verification(
        declared(items=(1, 5), digest="cd" * 16),
        PARIS,
        NOW,
        replayed=True,
        blocked=Blocked("voided", "R5", None, "lost"),
        carnet=CARNET,
    )
    assert [c.check for c in v.mismatches] == ["replay", "carnet_status", "items_on_list", "digest"]
    with pytest.raises(MismatchRefused) as refused:
        check_mismatches(v)
    assert refused.value.reason == "mismatch" and [c.check for c in refused.value.mismatches] == [
        "items_on_list",
        "digest",
    ]


def test_a_carnet_not_on_file_is_shown_but_does_not_block():
    v = verification(declared(), PARIS, NOW, replayed=False, blocked=None, carnet=None)
    assert oks(v)["carnet_on_file"] is False and oks(v)["items_on_list"] is None and v.carnet_view() is None
    check_mismatches(v)


def test_a_typed_code_has_no_token_signature_nor_digest():
    v = verification(declared(from_token=False), PARIS, NOW, replayed=False, blocked=None, carnet=CARNET)
    sig = v.checks[0]
    assert (sig.check, sig.ok, sig.detail) == ("signature", True, "declared to the core; no token scanned")
    assert oks(v)["digest"] is None


def test_r18_the_audit_rows_mismatches_split_around_replay_rebuild_the_verifications_list():
    """A statement that learns of a replay while writing the audit row puts "replay" in its place (issue 9)."""
    d = declared(kind=K.IMPORTATION, country="FR", items=(1, 9), digest="cd" * 16)
    expired = verification(d, PARIS, NOW + timedelta(hours=80), replayed=False, blocked=None, carnet=CARNET)
    before, after = mismatches_around_replay(expired)
    replayed = verification(d, PARIS, NOW + timedelta(hours=80), replayed=True, blocked=None, carnet=CARNET)
    assert before == ["expiry"] and after == ["items_on_list", "digest", "countries"]
    assert [c.check for c in replayed.mismatches] == [*before, "replay", *after]
