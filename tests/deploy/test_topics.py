"""deploy.topics: every topic created replicated before the services create them with one replica, and an
under-replicated topic reported, not ignored (issue 8 item 5: three brokers, replication 3, min.insync 2)."""

from __future__ import annotations

import pytest

from contracts.topics import TOPICS, all_topic_partitions, issuance_requests, issuance_responses
from deploy import topics
from runtime.settings import Settings


def test_plan_is_the_catalogue_with_dead_letters_and_nga_requests_and_responses():
    specs = {s.name: s for s in topics.plan(3, 2, ["FR", "CH"])}
    expected = (
        dict(all_topic_partitions())
        | {issuance_responses(n).name: 6 for n in ("FR", "CH")}
        | {issuance_requests(n).name: 6 for n in ("FR", "CH")}
        | {issuance_requests(n).dead_letter: 1 for n in ("FR", "CH")}
    )
    assert {n: s.partitions for n, s in specs.items()} == expected
    assert "ata.issuance.requests.fr.v1" in specs and "ata.issuance.responses.ch.v1" in specs
    assert {t.name + ".dlq" for t in TOPICS if t.consumers} <= set(specs)
    assert all(s.replication_factor == 3 and s.configs["min.insync.replicas"] == "2" for s in specs.values())
    # the configs the services give the topics on Apache Kafka (runtime.broker_kind): one size limit, a week
    # of retention, a month for dead letters
    assert {s.configs["max.message.bytes"] for s in specs.values()} == {str(Settings().kafka_max_message_bytes)}
    assert {s.configs["retention.ms"] for n, s in specs.items() if not n.endswith(".dlq")} == {str(7 * 86_400_000)}
    assert {s.configs["retention.ms"] for n, s in specs.items() if n.endswith(".dlq")} == {str(30 * 86_400_000)}


@pytest.mark.parametrize(("replication", "min_insync"), [(0, 1), (3, 4), (3, 0)])
def test_plan_refuses_impossible_replication(replication, min_insync):
    with pytest.raises(ValueError):
        topics.plan(replication, min_insync)


def test_compare_reports_missing_under_replicated_and_shrunk_topics():
    spec = topics.plan(3, 2)
    described = {s.name: (s.partitions, 3) for s in spec}
    assert topics.compare(spec, described) == []
    name = "ata.transactions.v1"
    described[name] = (4, 1)
    del described["ata.declarations.v1"]
    assert topics.compare(spec, described) == [
        topics.Mismatch("ata.declarations.v1", "missing"),
        topics.Mismatch(name, "1 replica(s), wanted 3"),
        topics.Mismatch(name, "4 partition(s), the catalogue says 6"),
    ]
    described[name] = (12, 3)  # an operator added partitions: fine
    described["ata.declarations.v1"] = (6, 3)
    assert topics.compare(spec, described) == []


@pytest.mark.integration
async def test_on_a_broker_it_creates_then_reports_what_a_service_created_with_one_replica(kafka_bootstrap):
    # The embedded broker has one node: replication 1 is all it can do, and is what runtime.broker creates.
    assert await topics.ensure(kafka_bootstrap, topics.plan(1, 1, ["ZZ"])) == []
    wrong = await topics.ensure(kafka_bootstrap, topics.plan(3, 2, ["ZZ"]))
    assert {m.topic for m in wrong} == {s.name for s in topics.plan(3, 2, ["ZZ"])}
    assert {m.problem for m in wrong} == {"1 replica(s), wanted 3"}
