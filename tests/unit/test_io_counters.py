"""Statements, transactions and Kafka requests counted by each service (runtime/io_counters.py)."""

import asyncio
from types import SimpleNamespace

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.commit import OffsetCommitRequest
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.protocol.produce import ProduceRequest
from prometheus_client import CollectorRegistry

from runtime.io_counters import DatabaseCounters, count_kafka_requests, statement_kind


class FakeConnection:
    def __init__(self) -> None:
        self.loggers = []

    def add_query_logger(self, callback) -> None:
        self.loggers.append(callback)

    def ran(self, query: str) -> None:
        for log in self.loggers:
            log(SimpleNamespace(query=query))


def test_statement_kind_tells_what_opens_and_closes_a_transaction_block():
    assert statement_kind("BEGIN ISOLATION LEVEL READ COMMITTED;") == "open"
    assert statement_kind("  begin;") == "open" and statement_kind("START TRANSACTION") == "open"
    assert statement_kind("COMMIT;") == "close" and statement_kind("ROLLBACK") == "close"
    assert statement_kind("ROLLBACK TO SAVEPOINT s1") == "statement"
    assert statement_kind("SAVEPOINT s1") == "statement" and statement_kind("") == "statement"
    assert statement_kind("SELECT begin FROM t") == "statement"


def test_transactions_count_blocks_once_and_lone_statements_each():
    registry = CollectorRegistry()
    counters = DatabaseCounters(registry)
    a, b = FakeConnection(), FakeConnection()
    asyncio.run(counters.attach(a))
    asyncio.run(counters.attach(b))
    for q in ("BEGIN;", "SELECT 1", "SAVEPOINT s", "ROLLBACK TO SAVEPOINT s", "INSERT INTO t VALUES (1)", "COMMIT;"):
        a.ran(q)
    b.ran("SELECT 1")  # its own transaction, while `a` is inside a block does not matter
    b.ran("LISTEN x")
    assert registry.get_sample_value("ata_db_statements_total") == 8
    assert registry.get_sample_value("ata_db_transactions_total") == 3


def test_kafka_requests_are_counted_by_kind_before_they_are_sent():
    registry = CollectorRegistry()
    assert count_kafka_requests(registry)
    assert count_kafka_requests(CollectorRegistry())  # a second service in the process: wrapped once
    fetches = registry.get_sample_value("ata_kafka_requests_total", {"kind": "fetch"})
    produces = registry.get_sample_value("ata_kafka_requests_total", {"kind": "produce"})
    # The kinds are told by the protocol's API keys, which aiokafka's request classes carry.
    assert (FetchRequest.API_KEY, ProduceRequest.API_KEY, OffsetCommitRequest.API_KEY) == (1, 0, 8)
    client = AIOKafkaClient.__new__(AIOKafkaClient)
    for request in (SimpleNamespace(API_KEY=1), SimpleNamespace(API_KEY=0)):
        AIOKafkaClient.send(client, 0, request).close()  # counted when called; never awaited, nothing sent
    assert registry.get_sample_value("ata_kafka_requests_total", {"kind": "fetch"}) == fetches + 1
    assert registry.get_sample_value("ata_kafka_requests_total", {"kind": "produce"}) == produces + 1
