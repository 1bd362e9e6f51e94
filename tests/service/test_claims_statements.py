"""Claims worker: a recorded crossing is the inbox claim and two statements (the writes with R19's plan inputs
as they leave them, then the plan), and the plan stays the one R19 gives from a fresh read of the watch list:
re-planned deadlines keep one row per key, those no longer planned go, and those acted on stay as they were."""

from __future__ import annotations

from datetime import date
from typing import Any

from claims_worker import domain, watch_repository as watch_repo
from claims_worker.app import build
from contracts.kinds import DeclarationKind as K
from tests.support.claims import NUMBER, publish_recorded as publish
from tests.support.messages import transaction_recorded

FINAL = date(2027, 3, 31)
LATER = date(2027, 5, 31)


def crossing(kind: K, locations: list[tuple[int, str, str | None, Any]], clock: Any) -> Any:
    return transaction_recorded(
        NUMBER, kind, "CH", locations, clock.now, office_id="CH-GVA-AIR", office_timezone="Europe/Zurich"
    )


async def pending(service: Any) -> dict[str, dict[str, Any]]:
    async with service.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT dedupe_key, kind, due_at, items, last_day, state, attempts FROM deadlines WHERE carnet_number = $1"
            " AND kind IN ('reminder', 'overdue') ORDER BY dedupe_key",
            NUMBER,
        )
    return {r["dedupe_key"]: dict(r) for r in rows}


async def fresh_plan(service: Any) -> dict[str, tuple[str, Any, list[int], date]]:
    """R19's plan from a read of the watch list after the fact (what the handler planned before this change)."""
    async with service.pool.acquire() as conn:
        claimed, watching, seized = await watch_repo.plan_inputs(conn, NUMBER)
    watched = [w for w in watching if (w.country, w.item_number) not in claimed]
    return {p.key: (p.kind, p.due_at, list(p.items), p.last_day) for p in domain.plan(watched, seized)}


def statements(service: Any) -> tuple[float, float]:
    get = service.registry.get_sample_value
    return get("ata_db_statements_total") or 0.0, get("ata_db_transactions_total") or 0.0


async def test_r19_a_crossing_costs_two_statements_and_plans_as_a_fresh_read_would(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(broker, crossing(K.IMPORTATION, [(1, "abroad", "CH", FINAL), (2, "abroad", "CH", FINAL)], clock))
        before = statements(service)
        await publish(broker, crossing(K.IMPORTATION, [(3, "abroad", "CH", LATER)], clock))
        after = statements(service)
        two_groups = await pending(service)
        planned_two = await fresh_plan(service)
        # Item 4 leaves home for France's border: watched, but nothing for R19 to chase; the plan stays, unwritten.
        start = statements(service)
        await publish(broker, crossing(K.EXPORTATION, [(4, "exported", None, None)], clock))
        unchanged = statements(service)[0] - start[0]
        async with service.pool.acquire() as conn:
            ids = await conn.fetch("SELECT deadline_id FROM deadlines ORDER BY deadline_id")
            await conn.execute("UPDATE deadlines SET attempts = 1, last_error = 'x' WHERE deadline_id = $1", ids[0][0])
        start = statements(service)
        await publish(broker, crossing(K.EXPORTATION, [(5, "exported", None, None)], clock))
        reset_cost = statements(service)[0] - start[0]
        reset = await pending(service)
        # Item 1 leaves: the FINAL group's keys are planned again for item 2 alone (their rows taken over).
        await publish(broker, crossing(K.REEXPORTATION, [(1, "exported", None, None)], clock))
        one_left = await pending(service)
        planned_one = await fresh_plan(service)
    assert (after[0] - before[0], after[1] - before[1]) == (5, 1)  # BEGIN, inbox, writes, plan, COMMIT
    assert unchanged == 4  # the same plan again: no plan statement
    assert reset_cost == 5  # a pending one had failed an attempt: the plan resets it, as it always did
    assert {k: (r["kind"], r["due_at"], r["items"], r["last_day"], r["attempts"]) for k, r in reset.items()} == {
        k: (*v, 0) for k, v in planned_two.items()
    }
    assert {k: (r["kind"], r["due_at"], r["items"], r["last_day"]) for k, r in two_groups.items()} == planned_two
    assert {r["last_day"] for r in two_groups.values()} == {FINAL, LATER}
    assert {k: (r["kind"], r["due_at"], r["items"], r["last_day"]) for k, r in one_left.items()} == planned_one
    assert {tuple(r["items"]) for r in one_left.values()} == {(2,), (3,)}
    assert one_left.keys() == two_groups.keys()


async def test_r19_a_deadline_acted_on_is_never_planned_again_and_one_no_longer_planned_goes(settings, clock, running):
    service = build(settings, clock=clock)
    async with running(service) as broker:
        await publish(broker, crossing(K.IMPORTATION, [(1, "abroad", "CH", FINAL), (2, "abroad", "CH", LATER)], clock))
        first = await pending(service)
        acted = next(k for k, r in first.items() if r["last_day"] == FINAL and r["kind"] == "reminder")
        async with service.pool.acquire() as conn:
            await conn.execute(
                "UPDATE deadlines SET state = 'acted', outcome = 'reminded' WHERE carnet_number = $1 AND dedupe_key = $2",
                NUMBER,
                acted,
            )
        # Item 2 goes home: LATER's deadlines are no longer planned; FINAL's are planned again, the acted one too.
        await publish(broker, crossing(K.REEXPORTATION, [(2, "exported", None, None)], clock))
        then = await pending(service)
    assert {k for k, r in then.items() if r["state"] == "pending"} == {
        k for k, r in first.items() if r["last_day"] == FINAL and k != acted
    }
    assert then[acted]["state"] == "acted" and then[acted]["items"] == first[acted]["items"]
    assert {k for k, r in first.items() if r["last_day"] == LATER}.isdisjoint(then)
