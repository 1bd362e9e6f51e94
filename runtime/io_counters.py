"""What a service asks of PostgreSQL and Kafka, counted: statements, transactions and Kafka requests by kind.

The benchmark divides these counters' growth over an open-loop run by the crossings completed in it
(`statements_per_crossing`, `transactions_per_crossing`, `kafka_requests_per_crossing`, bench/README.md).

- **Statements**: asyncpg's public query logger on every pooled connection sees each round trip the
  connection makes (simple and extended protocol, `executemany`, BEGIN/COMMIT/SAVEPOINT, LISTEN), as
  PostgreSQL's statement log would. Prepared statements run through `PreparedStatement` objects would
  not be seen; the services run none.
- **Transactions**: what PostgreSQL counts in `pg_stat_database.xact_commit + xact_rollback`: each
  BEGIN ... COMMIT/ROLLBACK block once, and each statement run outside such a block once (PostgreSQL
  runs it as a transaction of its own). Told from the statement's first word, per connection, in order.
- **Kafka requests**: every request an aiokafka client in this process sends (produce, fetch, offset
  commit, heartbeat, metadata, other), by wrapping `AIOKafkaClient.send` (runtime/kafka_internals.py), the one method through which
  aiokafka's consumers, producers and group coordinators send. The tally is per process (a service is
  one process); FastStream's TestKafkaBroker sends nothing and counts nothing.

The cost is one dict or counter increment per statement or request, plus asyncpg's LoggedQuery record
and one loop callback per statement (a few microseconds; under 1 % of a crossing's CPU).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import Any

import asyncpg
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from runtime.kafka_internals import wrap_client_send

#: Kafka protocol API keys -> the kind reported (every other key is `other`).
KAFKA_KINDS = {0: "produce", 1: "fetch", 3: "metadata", 8: "offset_commit", 12: "heartbeat"}

_OPENS = ("BEGIN", "START")
_CLOSES = ("COMMIT", "END", "ROLLBACK", "ABORT")


def statement_kind(query: str) -> str:
    """`open`, `close` or `statement`: how a statement moves its connection's transaction (ROLLBACK TO a
    savepoint closes nothing)."""
    words = query.lstrip().split(None, 2)
    first = words[0].upper().rstrip(";") if words else ""
    if first in _OPENS:
        return "open"
    if first in _CLOSES and not (first == "ROLLBACK" and len(words) > 1 and words[1].upper() == "TO"):
        return "close"
    return "statement"


class DatabaseCounters:
    """`ata_db_statements_total` and `ata_db_transactions_total`; `attach(conn)` as a pool's `init`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.statements = Counter(
            "ata_db_statements_total",
            "SQL statements sent to PostgreSQL (every round trip on the service's pool, BEGIN and COMMIT included).",
            registry=registry,
        )
        self.transactions = Counter(
            "ata_db_transactions_total",
            "PostgreSQL transactions: BEGIN blocks plus statements run outside one (each its own transaction).",
            registry=registry,
        )

    async def attach(self, conn: asyncpg.Connection) -> None:
        in_block = False

        def logged(record: Any) -> None:
            nonlocal in_block
            self.statements.inc()
            kind = statement_kind(record.query)
            if kind == "open":
                in_block = True
                self.transactions.inc()
            elif kind == "close":
                in_block = False
            elif not in_block:
                self.transactions.inc()

        conn.add_query_logger(logged)


#: Kafka requests sent by this process, by kind; read by every KafkaRequests collector.
_sent: Tally[str] = Tally()


class KafkaRequests(Collector):
    """`ata_kafka_requests_total{kind}` from this process's tally."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "ata_kafka_requests_total",
            "Requests this process's Kafka clients sent to the "
            "broker, by kind (produce, fetch, offset_commit, heartbeat, metadata, other).",
            labels=["kind"],
        )
        for kind in ("produce", "fetch", "offset_commit", "heartbeat", "metadata", "other"):
            family.add_metric([kind], _sent[kind])
        yield family


def count_kafka_requests(registry: CollectorRegistry) -> bool:
    """Count every aiokafka request from now on (once per process) and report them on `registry`. False if
    aiokafka's client has no `send` we know (nothing wrapped; the metric stays at zero)."""
    registry.register(KafkaRequests())
    return wrap_client_send(_tally)


def _tally(request: Any) -> None:
    _sent[KAFKA_KINDS.get(getattr(request, "API_KEY", -1), "other")] += 1
