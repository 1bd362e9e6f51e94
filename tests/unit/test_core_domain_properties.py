"""Property tests of the ledger's declaration rules (core/domain): random sequences of declarations and duty
receipts, checked against a reference model (tests/support/core_journeys.py): an item is never in two places,
never re-imported without an open exportation, and never imported twice without leaving in between.

Pure: no I/O, no wall clock (every instant is a literal).
"""

from __future__ import annotations

from hypothesis import HealthCheck, event, given, settings, strategies as st

from contracts.kinds import DeclarationKind as K
from tests.support.core_journeys import DrawnChoices, SeededChoices, Stats, run_journey

PROPERTY_TOTALS = Stats()


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_property_random_declarations_never_put_an_item_in_two_places(data):
    """Over random sequences: an item is never in two places, never re-imported without having been
    exported, never imported twice without leaving in between; the ledger agrees with the model."""
    stats = run_journey(DrawnChoices(data), data.draw(st.integers(1, 30), label="steps"))
    total, accepted = sum(stats.accepted.values()) + sum(stats.refused.values()), sum(stats.accepted.values())
    event(f"accepted {10 * (10 * accepted // total) if total else 'n/a'}%")
    PROPERTY_TOTALS.accepted.update(stats.accepted)
    PROPERTY_TOTALS.refused.update(stats.refused)
    PROPERTY_TOTALS.accounted += stats.accounted


def test_property_run_applied_crossings_of_every_kind():
    """The property above is only worth something if most random steps were accepted."""
    if not PROPERTY_TOTALS.accepted:  # run alone or in another worker: run it here
        test_property_random_declarations_never_put_an_item_in_two_places()
    accepted, refused = sum(PROPERTY_TOTALS.accepted.values()), sum(PROPERTY_TOTALS.refused.values())
    assert accepted > refused, (PROPERTY_TOTALS.accepted, PROPERTY_TOTALS.refused)
    assert set(PROPERTY_TOTALS.accepted) == set(K), PROPERTY_TOTALS.accepted
    assert PROPERTY_TOTALS.accounted > 0
    assert refused > 0  # refusals were exercised too


def test_property_seeded_journeys_are_mostly_accepted_and_reach_every_kind():
    """The same generator, from fixed seeds: independent of hypothesis's own statistics."""
    totals = Stats()
    for seed in range(200):
        stats = run_journey(SeededChoices(seed), 30)
        totals.accepted.update(stats.accepted)
        totals.refused.update(stats.refused)
        totals.accounted += stats.accounted
    accepted, refused = sum(totals.accepted.values()), sum(totals.refused.values())
    assert accepted / (accepted + refused) > 0.5, (totals.accepted, totals.refused)
    assert all(totals.accepted[k] >= 20 for k in K), totals.accepted
    assert totals.accounted > 0 and refused > 0
