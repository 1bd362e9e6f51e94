"""deploy/kafka_settings.py (the one source of the broker settings) and the launcher's refusals, without a broker."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from contracts.topics import TOPICS
from deploy import kafka_acls, kafka_settings
from deploy.kafka_settings import NodeAddress, node_properties, render, replication, scram_listener
from deploy.local import kafka_jars
from deploy.local.brokers import chosen
from tests.support import servers

POM = Path(__file__).parents[2] / "deploy" / "kafka" / "pom.xml"


def test_the_pom_fetches_the_version_the_settings_and_compose_name():
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    assert version is not None and version.text == kafka_settings.KAFKA_VERSION


def test_a_three_node_cluster_replicates_three_ways_with_two_in_sync():
    cluster = [NodeAddress(i, "127.0.0.1", 9000 + i, 9100 + i) for i in (1, 2, 3)]
    props = node_properties(cluster[1], cluster, "/data")
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    assert (props["default.replication.factor"], props["min.insync.replicas"]) == ("3", "2")
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["auto.create.topics.enable"] == "false"
    assert replication(3) == (3, 2) and replication(1) == (1, 1)
    with pytest.raises(ValueError):
        replication(2)


def test_one_node_cannot_promise_replicas_it_does_not_have():
    node = NodeAddress(1, "127.0.0.1", 9001, 9101)
    props = node_properties(node, [node], "/data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.min.isr"] == "1"


def test_render_refuses_a_value_that_would_inject_a_second_property():
    assert render({"b": "2", "a": "1"}) == "a=1\nb=2\n"
    with pytest.raises(ValueError):
        render({"log.dirs": "/data\nauthorizer.class.name=none"})


def test_the_broker_setting_is_one_of_three(monkeypatch):
    monkeypatch.delenv("ATA_BROKER", raising=False)
    assert chosen() == "embedded"
    assert chosen("kafka-cluster") == "kafka-cluster"
    for bad in ("Kafka", "tansu", "kafka;rm", "x" * 5000):
        with pytest.raises(ValueError, match="choose one of"):
            chosen(bad)


def test_no_java_means_a_skip_naming_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(kafka_jars.shutil, "which", lambda tool: None if tool == "mvn" else "/usr/bin/" + tool)
    monkeypatch.setenv("ATA_KAFKA_JARS", str(tmp_path))  # nothing cached: Maven is needed
    assert kafka_jars.missing_tools(fetch=True) == (
        "Apache Kafka needs mvn: apt-get install -y openjdk-17-jre-headless maven"
    )
    assert kafka_jars.missing_tools(fetch=False) is None
    with pytest.raises(kafka_jars.KafkaUnavailable, match=re.escape(kafka_jars.INSTALL_HINT)):
        kafka_jars.fetch_jars()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="openjdk-17-jre-headless"):
        servers.apache_kafka_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="openjdk-17-jre-headless"):
        servers.apache_kafka_or_skip()


def test_scram_passwords_cannot_break_out_of_the_jaas_line():
    ok = "a" * 16
    assert (
        'password="' + ok + '";'
        in scram_listener(ok, ok)["listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config"]
    )
    for bad in ('x" user_admin="y', "short", "a" * 129, "a" * 15 + ";", "a" * 16 + "\n"):
        with pytest.raises(ValueError):
            scram_listener(bad, ok)


def test_acl_plan_gives_an_nga_its_two_topics_and_a_service_its_catalogue_share():
    """The entries the ACL test applies are the deployed KafkaUsers' rules (deploy/kafka_users.py), one each."""
    acls = kafka_acls.plan(["FR"])
    fr = {(a.resource, a.name, a.operation) for a in acls if a.principal == "User:nga-fr"}
    assert fr == {
        ("TOPIC", "ata.issuance.requests.fr.v1", "WRITE"),
        ("TOPIC", "ata.issuance.requests.fr.v1", "DESCRIBE"),
        ("TOPIC", "ata.issuance.responses.fr.v1", "READ"),
        ("TOPIC", "ata.issuance.responses.fr.v1", "DESCRIBE"),
        ("GROUP", "nga-fr.", "READ"),
        ("GROUP", "nga-fr.", "DESCRIBE"),
    }
    gateway = [a for a in acls if a.principal == "User:ata-customs-gateway"]
    writes = {a.name for a in gateway if a.operation == "WRITE" and not a.name.endswith(".dlq")}
    assert writes == {t.name for t in TOPICS if "customs_gateway" in t.producers}
    assert {a.name for a in gateway if a.resource == "GROUP"} == {"customs_gateway"}
    assert all(a.pattern == "LITERAL" for a in gateway)  # prefixes are the NGAs' consumer groups alone
    assert not any(a.operation == "CREATE" for a in acls)  # the operator creates the topics
