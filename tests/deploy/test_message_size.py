"""One record-size limit everywhere: what the producers send, what the consumers fetch, what deploy/ gives
Apache Kafka's brokers and topics (ATA_KAFKA_MAX_MESSAGE_BYTES). A producer that sends more than the topic
accepts wedges its outbox; a consumer that fetches less than a topic holds skips records without a dead letter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy import topics
from runtime.broker import build_broker, fetch_options
from runtime.settings import MAX_MESSAGE_BYTES, Settings
from tests.deploy.kustomize import containers, render

DEPLOY = Path(__file__).parents[2] / "deploy"
SETTING = "ATA_KAFKA_MAX_MESSAGE_BYTES"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_the_setting_defaults_to_the_one_limit():
    assert Settings().kafka_max_message_bytes == MAX_MESSAGE_BYTES == 1_048_576


@pytest.mark.parametrize("limit", [MAX_MESSAGE_BYTES, 200_000, 4 * MAX_MESSAGE_BYTES])
def test_the_producer_refuses_and_the_consumer_fetches_exactly_the_limit(limit):
    kwargs = build_broker("127.0.0.1:9", "sizes", max_message_bytes=limit)._connection_kwargs
    assert kwargs["max_request_size"] == limit
    assert kwargs["max_batch_size"] <= limit  # a batch of small records is never refused as a whole
    fetch = fetch_options(limit)
    assert fetch["max_partition_fetch_bytes"] >= limit  # the largest record batch is always fetchable
    assert fetch["fetch_max_bytes"] >= fetch["max_partition_fetch_bytes"]


def test_a_service_consumes_and_produces_with_its_settings(tmp_path):
    from issuer.app import build

    service = build(Settings(kafka_max_message_bytes=300_000, data_dir=tmp_path))
    assert service.broker._connection_kwargs["max_request_size"] == 300_000
    assert service._subscriber._connection_args["max_partition_fetch_bytes"] >= 300_000
    assert service.consumer_options()["max_partition_fetch_bytes"] >= 300_000  # the started service's loop


def test_compose_gives_brokers_topics_and_services_the_same_limit(compose):
    services = compose["services"]
    brokers = {name: s for name, s in services.items() if s.get("image", "").startswith("apache/kafka:")}
    assert len(brokers) == 3
    assert {s["environment"]["KAFKA_MESSAGE_MAX_BYTES"] for s in brokers.values()} == {str(MAX_MESSAGE_BYTES)}
    ours = {name: s for name, s in services.items() if s.get("image", "").startswith("ata-carnets:")}
    assert "topics" in ours and len(ours) == 6
    for name, spec in ours.items():
        assert spec["environment"].get(SETTING) == str(MAX_MESSAGE_BYTES), name


@pytest.mark.parametrize(("overlay", "least"), [("example", 5), ("plain-kafka", 10)])
def test_kubernetes_gives_every_container_the_same_limit(overlay: str, least: int):
    """Strimzi's overlay runs the five services; the plain-Kafka one adds a deploy.topics init container to each."""
    objects = render(DEPLOY / "k8s" / "overlays" / overlay)
    config = {o["metadata"]["name"]: o["data"] for o in objects if o["kind"] == "ConfigMap"}
    assert config["ata-config"][SETTING] == str(MAX_MESSAGE_BYTES)
    every = containers(objects)  # init containers included
    assert len(every) >= least
    topics = [o for o in objects if o["kind"] == "KafkaTopic"]
    assert all(int(t["spec"]["config"]["max.message.bytes"]) == MAX_MESSAGE_BYTES for t in topics)
    for c in every:  # the services and their deploy.topics init containers read it from the ConfigMap
        assert {"configMapRef": {"name": "ata-config"}} in c.get("envFrom", []), c["name"]
        assert SETTING not in {e["name"] for e in c.get("env", [])}, c["name"]


def test_deploy_topics_gives_every_topic_the_settings_limit(monkeypatch):
    created: list[topics.TopicSpec] = []

    async def ensure(bootstrap: str, specs: list[topics.TopicSpec], **client: Any) -> list[topics.Mismatch]:
        created.extend(specs)
        return []

    monkeypatch.setattr(topics, "ensure", ensure)
    monkeypatch.setenv(SETTING, "2000000")
    assert topics.main(["--without-nga-responses"]) == 0
    assert created and {s.configs["max.message.bytes"] for s in created} == {"2000000"}
    assert {s.configs["max.message.bytes"] for s in topics.plan(3, 2)} == {str(MAX_MESSAGE_BYTES)}
