"""Country policy in the core (R15): seeded from the file, replaced from the operator's topic, kept across
restarts; a version names one document. Real PostgreSQL, handler called as the runtime calls it.

The service under test is a plain `Service` with the core's name, schema and migrations: the store does not
depend on how core/app.py wires it (that file changes in parallel; its wiring is a separate step)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import core
from contracts.envelope import Envelope
from contracts.messages import CountryPolicyEntry, CountryPolicyUpdated
from contracts.topics import COUNTRY_POLICY
from core.policy_store import POLICY_FILE, PolicyStore
from runtime.consumer import Inbound
from runtime.service import Service
from tests.service.conftest import dead_letters
from tests.support.messages import wire

FILE_VERSION = "2026-12-02.1"
ZZ = CountryPolicyEntry(country="ZZ", split_shipments=True, replacement_accepted=False)


def update(version: str, *entries: CountryPolicyEntry, published_by: str = "ops-jane") -> CountryPolicyUpdated:
    return CountryPolicyUpdated(version=version, countries=list(entries), default=ZZ, published_by=published_by)


def mx(split: bool) -> CountryPolicyEntry:
    return CountryPolicyEntry(country="MX", split_shipments=split, replacement_accepted=False, note="test")


def build(settings: Any, clock: Any = None) -> Service:
    """The core's database side (schema "core", core/migrations); `running()` opens it on the test database."""
    return Service("core", settings, Path(core.__file__).parent / "migrations", **({"clock": clock} if clock else {}))


def store_of(service: Service) -> PolicyStore:
    return PolicyStore(service.registry)


async def load(service: Service, store: PolicyStore, path: Path = POLICY_FILE) -> Any:
    async with service.pool.acquire() as conn:
        return await store.load(conn, path)


async def deliver(service: Service, store: PolicyStore, payload: CountryPolicyUpdated) -> None:
    """As runtime.consumer does: one transaction per message (the inbox claim is left out here)."""
    _, _, envelope = wire(payload, producer="operator", subject=payload.version)
    async with service.pool.acquire() as conn, conn.transaction():
        await store.policy_updated(conn, Inbound(envelope, payload, COUNTRY_POLICY.name, payload.version))


async def recorded(service: Service) -> list[dict[str, Any]]:
    async with service.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT version, document, source, published_by FROM country_policies ORDER BY applied_at"
        )
    return [{**dict(r), "document": json.loads(r["document"])} for r in rows]


def version_gauge(service: Service, version: str) -> float | None:
    return service.registry.get_sample_value("ata_country_policy_version_info", {"version": version})


def updates(service: Service, outcome: str) -> float:
    return service.registry.get_sample_value("ata_country_policy_updates_total", {"outcome": outcome}) or 0.0


def policy_file(tmp_path: Path, version: str, **mx_overrides: Any) -> Path:
    document = json.loads(POLICY_FILE.read_text())
    document["version"] = version
    for entry in document["countries"]:
        if entry["country"] == "MX":
            entry.update(mx_overrides)
    path = tmp_path / f"policy-{version}.json"
    path.write_text(json.dumps(document))
    return path


async def test_r15_the_file_is_loaded_and_recorded_once(settings: Any, clock: Any, running: Any) -> None:
    service = build(settings, clock)
    async with running(service):
        store = store_of(service)
        book = await load(service, store)
        assert store.book is book and book.version == FILE_VERSION
        assert book.for_country("MX").split_shipments is False  # R14
        assert version_gauge(service, FILE_VERSION) == 1
        await load(service, store)  # a second start records nothing new
        rows = await recorded(service)
    assert [(r["version"], r["source"], r["published_by"]) for r in rows] == [(FILE_VERSION, "file", None)]
    assert {c["country"] for c in rows[0]["document"]["countries"]} >= {"MX", "BH", "QA", "AE", "CH", "GB"}


async def test_r15_an_update_from_the_topic_replaces_the_book_and_is_persisted(
    settings: Any, clock: Any, running: Any
) -> None:
    service = build(settings, clock)
    async with running(service):
        store = store_of(service)
        await load(service, store)
        japan = CountryPolicyEntry(country="JP", split_shipments=False, replacement_accepted=False)
        await deliver(service, store, update("2026-11-23.1", mx(True), japan))
        assert store.book.version == "2026-11-23.1"
        assert store.book.for_country("MX").split_shipments is True
        assert store.book.for_country("JP").split_shipments is False
        assert store.book.for_country("BH").split_shipments is True  # not listed any more: the default
        assert store.book.label("JP") == "country-policy 2026-11-23.1 JP"
        assert version_gauge(service, "2026-11-23.1") == 1
        assert version_gauge(service, FILE_VERSION) is None  # only the version in force is exported
        assert updates(service, "applied") == 1
        rows = await recorded(service)
    assert [(r["version"], r["source"], r["published_by"]) for r in rows] == [
        (FILE_VERSION, "file", None),
        ("2026-11-23.1", "topic", "ops-jane"),
    ]
    assert [c["country"] for c in rows[1]["document"]["countries"]] == ["JP", "MX"]  # canonical: sorted
    assert "published_by" not in rows[1]["document"]


async def test_r15_the_topic_version_survives_a_restart_and_a_new_file_version_wins(
    settings: Any, clock: Any, running: Any, tmp_path: Path
) -> None:
    first = build(settings, clock)
    async with running(first):
        store = store_of(first)
        await load(first, store)
        await deliver(first, store, update("2026-11-23.1", mx(True)))

    restarted = build(settings, clock)
    async with running(restarted):
        store = store_of(restarted)
        book = await load(restarted, store)
        assert book.version == "2026-11-23.1"  # the newest applied wins over the file it was seeded from
        assert book.for_country("MX").split_shipments is True
        assert version_gauge(restarted, "2026-11-23.1") == 1
        assert len(await recorded(restarted)) == 2

    deployed = build(settings, clock)
    async with running(deployed):
        store = store_of(deployed)
        book = await load(deployed, store, policy_file(tmp_path, "2026-12-01.1"))
        assert book.version == "2026-12-01.1"  # a file version never recorded is the newest applied
        assert book.for_country("MX").split_shipments is False
        assert [r["version"] for r in await recorded(deployed)] == [FILE_VERSION, "2026-11-23.1", "2026-12-01.1"]


async def test_r15_a_version_names_one_document(settings: Any, clock: Any, running: Any) -> None:
    service = build(settings, clock)
    async with running(service):
        store = store_of(service)
        await load(service, store)
        await deliver(service, store, update("2026-11-23.1", mx(True)))
        await deliver(service, store, update("2026-11-23.1", mx(False)))  # same version, other document
        assert store.book.for_country("MX").split_shipments is True
        assert updates(service, "conflict") == 1
        await deliver(service, store, update(FILE_VERSION, mx(True)))  # the file's version, other document
        assert updates(service, "conflict") == 2
        assert store.book.version == "2026-11-23.1"
        await deliver(service, store, update("2026-11-23.1", mx(True), published_by="ops-joe"))  # re-published as is
        assert updates(service, "unchanged") == 1
        assert updates(service, "applied") == 1
        rows = await recorded(service)
    assert [(r["version"], r["published_by"]) for r in rows] == [(FILE_VERSION, None), ("2026-11-23.1", "ops-jane")]
    assert rows[1]["document"]["countries"][0]["split_shipments"] is True


async def test_r15_an_invalid_document_is_refused_and_the_book_stays(settings: Any, clock: Any, running: Any) -> None:
    service = build(settings, clock)
    async with running(service):
        store = store_of(service)
        await load(service, store)
        await deliver(service, store, update("2026-11-23.1", mx(True), mx(False)))  # MX listed twice
        assert store.book.version == FILE_VERSION
        assert updates(service, "invalid") == 1
        assert [r["version"] for r in await recorded(service)] == [FILE_VERSION]


async def test_r15_a_file_edited_without_a_new_version_does_not_change_the_recorded_document(
    settings: Any, clock: Any, running: Any, tmp_path: Path
) -> None:
    service = build(settings, clock)
    async with running(service):
        store = store_of(service)
        await load(service, store)
        book = await load(service, store, policy_file(tmp_path, FILE_VERSION, split_shipments=True))
        assert book.for_country("MX").split_shipments is False
        assert updates(service, "file_conflict") == 1


async def test_r15_through_the_consumer_an_update_applies_and_a_bad_date_is_dead_lettered(
    settings: Any, running: Any
) -> None:
    # A core-like service with only the policy consumer, as core/app.py will register it.
    service = build(settings)
    store = store_of(service)
    service.consume({COUNTRY_POLICY: store.policy_updated})
    dlq = dead_letters(service, COUNTRY_POLICY.dead_letter)
    async with running(service) as broker:
        await load(service, store)
        body, headers, _ = wire(update("2026-11-23.1", mx(True)), producer="operator", subject="2026-11-23.1")
        await broker.publish(body, COUNTRY_POLICY.name, key=b"2026-11-23.1", headers=headers)
        assert store.book.version == "2026-11-23.1"
        await broker.publish(body, COUNTRY_POLICY.name, key=b"2026-11-23.1", headers=headers)  # redelivered: inbox
        assert updates(service, "unchanged") == 0

        twice, headers, _ = wire(update("2026-11-24.1", mx(True), mx(False)), producer="operator")
        await broker.publish(twice, COUNTRY_POLICY.name, key=b"2026-11-24.1", headers=headers)
        assert updates(service, "invalid") == 1 and not dlq  # refused and consumed, not dead-lettered

        bad = json.loads(body)
        bad["version"], bad["countries"][0]["digital_date"] = "2026-11-25.1", "2027-13-01"
        envelope = Envelope(type=CountryPolicyUpdated.TYPE, producer="operator")
        await broker.publish(
            json.dumps(bad).encode(), COUNTRY_POLICY.name, key=b"2026-11-25.1", headers=envelope.to_headers()
        )
        assert store.book.version == "2026-11-23.1"
    assert len(dlq) == 1 and dlq[0][1]["dlq_kind"] == "schema"


async def test_r15_every_core_instance_follows_an_update_another_instance_consumed(
    settings: Any, clock: Any, running: Any
) -> None:
    """Only one instance consumes the admin message; the others learn it through NOTIFY, also after a
    database outage that ended their listening connection (the loop listens again, runtime/background.py)."""
    from prometheus_client import CollectorRegistry

    from runtime.background import LoopMetrics
    from tests.support.outage import FlakyPool, eventually, only_a_notify_wakes, quicken, ride_out_outage

    service = build(settings, clock)
    async with running(service):
        consumer, follower = store_of(service), PolicyStore(CollectorRegistry())
        await load(service, consumer)
        await load(service, follower)
        pool = FlakyPool(service.pool)
        loop = quicken(follower.follower(lambda: pool, LoopMetrics(CollectorRegistry())))  # type: ignore[arg-type, return-value]
        loop.start()
        try:
            await ride_out_outage(loop, pool, settings.database_url)
            await only_a_notify_wakes(loop)
            await deliver(service, consumer, update("2026-11-24.1", mx(True)))
            await eventually(lambda: follower.book.version == "2026-11-24.1")
        finally:
            await loop.stop()
    assert follower.book.for_country("MX").split_shipments is True
