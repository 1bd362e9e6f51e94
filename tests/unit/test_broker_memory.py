"""The single-machine broker's memory, served for Prometheus by the process that runs the stack
(deploy/local/broker_memory.py), and the scrape job `make observe` adds for it."""

import os

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.broker_memory import BrokerMemory, resident_bytes, serve
from deploy.local.prometheus import local_config


def test_the_resident_memory_of_a_running_process_tree_and_none_for_a_stopped_broker():
    assert resident_bytes(os.getpid()) > 1_000_000
    assert resident_bytes(None) is None


def test_the_limit_is_reported_even_while_the_broker_is_down():
    registry = CollectorRegistry()
    registry.register(BrokerMemory("embedded", lambda: None, limit_bytes=10))
    assert registry.get_sample_value("ata_broker_resident_bytes", {"broker": "embedded"}) is None
    assert registry.get_sample_value("ata_broker_memory_limit_bytes", {"broker": "embedded"}) == 10


def test_served_on_loopback_for_prometheus_to_scrape():
    with serve("kafka", os.getpid) as target:
        assert target.startswith("127.0.0.1:")
        text = httpx.get(f"http://{target}/metrics", timeout=5).text
    values = {(s.name, s.labels["broker"]): s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert values[("ata_broker_resident_bytes", "kafka")] > 1_000_000
    assert values[("ata_broker_memory_limit_bytes", "kafka")] >= values[("ata_broker_resident_bytes", "kafka")]


def test_make_observe_scrapes_the_broker_memory_as_a_job_of_its_own():
    config = local_config({"core": "http://127.0.0.1:8102"}, extra_targets={"broker": "127.0.0.1:40001"})
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["broker"]["static_configs"] == [{"targets": ["127.0.0.1:40001"]}]
    assert jobs["core"]["static_configs"] == [{"targets": ["127.0.0.1:8102"]}]


def test_make_up_and_observe_serve_the_stack_s_own_broker_and_nothing_for_an_external_one():
    from types import SimpleNamespace

    from deploy.local.__main__ import broker_memory

    with broker_memory(SimpleNamespace(kafka=None, broker="kafka")) as exporter:
        assert exporter == {}
    with broker_memory(SimpleNamespace(kafka=SimpleNamespace(pid=os.getpid()), broker="embedded")) as exporter:
        text = httpx.get(f"http://{exporter['broker']}/metrics", timeout=5).text
    assert 'ata_broker_resident_bytes{broker="embedded"}' in text
