"""Batch consumption as the service tests drive it: a dead-letter sink standing in for the broker, a bare service
with one `applied` table, records on the wire, and the issuer's bulk handler behind a batch consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from contracts.topics import ISSUANCE_REQUESTS, Topic
from runtime.batch_consumer import BatchConsumer
from runtime.consumer import Consumer, Record, WithBulk
from runtime.metrics import RuntimeMetrics
from runtime.service import Service
from tests.support.messages import issuance_request, wire
from tests.support.outbox import bare_service


class DeadLetterSink:
    """Stands in for the broker's publish: records what the consumer dead-letters."""

    def __init__(self) -> None:
        self.published: list[tuple[bytes, str, dict[str, str]]] = []

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str]) -> None:
        self.published.append((body, topic, headers))


@pytest.fixture
async def service(settings: Any, tmp_path: Path) -> AsyncIterator[Service]:
    async with bare_service(
        "batchtest", settings, tmp_path, "CREATE TABLE applied (request_id text PRIMARY KEY);", emptied="applied, inbox"
    ) as svc:
        yield svc


def records(*request_ids: str, garbage_at: int | None = None) -> list[Record]:
    out = []
    for i, rid in enumerate(request_ids):
        body, headers, _ = wire(issuance_request(rid), producer="nga-FR", subject=rid)
        if i == garbage_at:
            body = b"{not json"
        out.append(Record(ISSUANCE_REQUESTS.name, body, headers, rid.encode(), f"{ISSUANCE_REQUESTS.name}/0@{i}"))
    return out


async def applied(service: Service) -> list[str]:
    async with service.pool.acquire() as conn:
        return [r["request_id"] for r in await conn.fetch("SELECT request_id FROM applied ORDER BY request_id")]


def consumer_of(
    service: Service, sink: DeadLetterSink, topic: Topic = ISSUANCE_REQUESTS
) -> tuple[BatchConsumer, RuntimeMetrics]:
    """The issuer's registered request handler for `topic`, with dead letters going to `sink`."""
    metrics = RuntimeMetrics(CollectorRegistry(), service.name)
    handler = service._consumers[topic.name].handler
    assert isinstance(handler, WithBulk)
    consumer = Consumer(
        service=service.name,
        topic=topic,
        handler=handler,
        pool_getter=lambda: service.pool,
        broker=sink,
        metrics=metrics,
    )
    return BatchConsumer(service.name, {topic.name: consumer}, lambda: service.pool, metrics, retry_delay_s=0), metrics


def record(
    payload: Any,
    offset: int,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    topic: Topic = ISSUANCE_REQUESTS,
) -> Record:
    raw, h, _ = wire(payload, producer="nga-FR", subject=payload.request_id)
    return Record(topic.name, body or raw, headers or h, payload.request_id.encode(), f"{topic.name}/0@{offset}")
