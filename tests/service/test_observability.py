"""What SREs read (issue 8): the declaration-to-decision histogram (R9, R10), the outbox backlog measured when
/metrics is scraped, and the claims deadlines close to lapsing with nobody having acted (R19-R22)."""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families

from claims_worker.app import build as build_claims
from contracts.kinds import DeclarationKind as K
from contracts.messages import DeclarationRefused
from contracts.topics import DECLARATIONS
from core.app import build as build_core
from runtime.outbox import emit
from tests.support.claims import goods_imported, local, scheduler
from tests.support.core import commit, declare, issue, with_key


def scraped(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def test_r10_declaration_to_decision_is_measured_on_the_service_clock(settings, clock, running):
    service = build_core(settings, clock=clock)
    async with running(service) as broker:
        await issue(broker)
        key = await with_key(service)
        created = await declare(service, K.EXPORTATION, "FR", [1, 2])
        clock.now += timedelta(hours=2)  # the holder drives to the border
        await commit(broker, key, clock, created)
    value = service.registry.get_sample_value
    labels = {"kind": "exportation", "decision": "committed"}
    assert value("ata_declaration_to_decision_seconds_count", labels) == 1
    assert value("ata_declaration_to_decision_seconds_sum", labels) == 7200
    assert value("ata_declaration_to_decision_seconds_bucket", {**labels, "le": "3600.0"}) == 0
    assert value("ata_declaration_to_decision_seconds_bucket", {**labels, "le": "10800.0"}) == 1


async def test_metrics_scrape_measures_the_outbox_backlog_from_the_database(settings, clock, running):
    """The relay is not running here (as when it cannot reach the broker): the scrape still sees the rows."""
    service = build_core(settings, clock=clock)
    async with running(service):
        async with service.pool.acquire() as conn, conn.transaction():
            for n in range(3):
                await emit(
                    conn,
                    DECLARATIONS.name,
                    DeclarationRefused(
                        carnet_number="FR2600000010", kind=K.EXPORTATION, country="FR", items=[n + 1], reasons=[]
                    ),
                    key="FR2600000010",
                    producer="test",
                )
            # the oldest row has waited 90 seconds by the database's clock, which created_at uses
            await conn.execute(
                "UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE id = (SELECT min(id) FROM outbox)"
            )
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service.http), base_url="http://core") as http:
            text = (await http.get("/metrics")).text
    assert scraped(text, "ata_outbox_backlog") == 3
    assert 90 <= scraped(text, "ata_outbox_oldest_age_seconds") < 600  # type: ignore[operator]
    assert scraped(text, "ata_observability_failures_total", source="outbox") == 0
    assert scraped(text, "ata_observability_refresh_seconds", source="outbox") is not None
    # not started: no Kafka clients, so no Kafka measurement was even tried
    assert scraped(text, "ata_observability_refresh_seconds", source="kafka") is None


async def test_r19_a_final_date_within_7_days_with_goods_still_abroad_is_counted(settings, clock, running):
    service = build_claims(settings, clock=clock)
    soon = lambda kind: service.registry.get_sample_value("ata_claims_deadlines_within_7d", {"kind": kind})  # noqa: E731
    async with running(service) as broker:
        await goods_imported(broker, clock)  # final date 2027-03-31 in Zurich: lapses 2027-04-01 00:00 local
        clock.now = local(date(2027, 3, 24)) - timedelta(minutes=1)
        await scheduler(service).run_once(service.pool)
        eight_days_before = soon("overdue")
        clock.now = local(date(2027, 3, 25))
        await scheduler(service).run_once(service.pool)
        seven_days_before = soon("overdue")
        clock.now = local(date(2027, 4, 1))
        await scheduler(service).run_once(service.pool)  # overdue: acted on, the claim's notice goes out
        after = soon("overdue")
    assert eight_days_before == 0
    assert seven_days_before is not None and seven_days_before >= 1
    assert after == 0
    assert soon("payment") == 0  # every kind is exported, so an alert sees zero, not a missing series
