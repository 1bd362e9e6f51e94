"""Core ledger service, split shipments (R14) from the country policy. End to end through the real handlers, a real
PostgreSQL and the shipped country policy (core/policies/country_policy.json)."""

from __future__ import annotations

from contracts.kinds import DeclarationKind as K
from core.app import build
from tests.service.conftest import outbox
from tests.support.core import EXPIRY, cross, declare, issue, locations, refused, with_key

POLICY_VERSION = "2026-12-02.1"


# --- R14: split shipments through the service -----------------------------------------------------------


async def test_r14_split_importation_into_mexico_is_refused_and_names_the_policy(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        assert service.state["policy"].book.version == POLICY_VERSION
        await issue(broker, countries=["CH", "MX"])
        key = await with_key(service)
        await cross(service, broker, key, clock, K.EXPORTATION, "FR", [1, 2, 3])
        split = await refused(service, K.IMPORTATION, "MX", [1, 2])
        queued = await outbox(service)
        whole = await cross(service, broker, key, clock, K.IMPORTATION, "MX", [1, 2, 3])
        split_out = await refused(service, K.REEXPORTATION, "MX", [1])
        whole_out = await declare(service, K.REEXPORTATION, "MX", [1, 2, 3])
        items = await locations(service)
    assert split.status == 422
    assert [(r.rule, r.code, r.policy) for r in split.reasons] == [
        ("R14", "split_shipment_forbidden", f"country-policy {POLICY_VERSION} MX")
    ]
    published = [m["payload"] for m in queued if m["type"] == "DeclarationRefused"]
    assert [(r["rule"], r["policy"]) for r in published[-1]["reasons"]] == [
        ("R14", f"country-policy {POLICY_VERSION} MX")
    ]
    assert whole.sequence == 1
    assert items == {n: ("abroad", "MX", EXPIRY) for n in (1, 2, 3)}
    assert [(r.rule, r.code) for r in split_out.reasons] == [("R14", "split_shipment_forbidden")]
    assert whole_out.sequence == 1
