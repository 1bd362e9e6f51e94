"""Sending sealed requests and collecting their answers, over Kafka or over HTTP.

Kafka: one producer for the whole run (batched by aiokafka, acks=all, no idempotence: the
embedded broker refuses it), requests keyed by request id on the NGA's own request topic
`ata.issuance.requests.<nga>.v1` (the only one its principal may write); answers
read from the NGA's own response topic by direct partition assignment (no group join).
HTTP: one keep-alive connection, batches of up to 500 per call.
Both report each answer through `on_answer(request_id, type, payload)` as it arrives.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.envelope import Envelope, parse_type
from contracts.messages import Payload
from contracts.topics import issuance_requests, issuance_responses

OnAnswer = Callable[[str, str, dict[str, Any]], None]
HTTP_BATCH = 500


class TransportError(RuntimeError):
    """The requests could not be sent or not all answers came back in time."""


def _headers(payload: Payload, nga: str) -> list[tuple[str, bytes]]:
    env = Envelope(type=payload.TYPE, schema_version=payload.VERSION, producer=f"nga-{nga}", subject=payload.request_id)  # type: ignore[attr-defined]
    return [(k, v.encode()) for k, v in env.to_headers().items()]


async def send_kafka(
    bootstrap: str, nga: str, requests: Iterable[Payload], on_answer: OnAnswer, *, timeout: float = 120.0
) -> None:
    """Publish every request and wait until each request id has its answer (or TransportError)."""
    waiting: set[str] = set()
    topic, requests_topic = issuance_responses(nga), issuance_requests(nga).name
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 << 20,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap.split(","),
        enable_idempotence=False,
        acks="all",
        linger_ms=5,
        max_batch_size=256 << 10,
    )
    await consumer.start()
    await producer.start()
    try:
        consumer.assign([TopicPartition(topic.name, p) for p in range(topic.partitions)])
        await consumer.seek_to_beginning()
        reader = asyncio.create_task(_read_answers(consumer, waiting, on_answer))
        try:
            sent = []
            for req in requests:
                waiting.add(req.request_id)  # type: ignore[attr-defined]
                sent.append(
                    await producer.send(
                        requests_topic,
                        req.model_dump_json().encode(),
                        key=req.request_id.encode(),
                        headers=_headers(req, nga),
                    )
                )  # type: ignore[attr-defined]
            await asyncio.gather(*sent)  # every request acknowledged by the broker (acks=all)
            deadline = time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                if reader.done():
                    reader.result()
                await asyncio.sleep(0.05)
            if waiting:
                raise TransportError(f"{len(waiting)} requests unanswered on {topic.name} after {timeout:.0f}s")
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    finally:
        await producer.stop()
        await consumer.stop()


async def _read_answers(consumer: AIOKafkaConsumer, waiting: set[str], on_answer: OnAnswer) -> None:
    while True:
        for records in (await consumer.getmany(timeout_ms=200, max_records=5000)).values():
            for r in records:
                rid = r.key.decode() if r.key else ""
                if rid in waiting:  # earlier runs' answers share the topic: only ours count
                    waiting.discard(rid)
                    headers = {k: v.decode() for k, v in r.headers}
                    on_answer(rid, parse_type(headers.get("ce_type", "?"))[0], json.loads(r.value))


async def send_http(
    base_url: str,
    api_key: str,
    requests: Sequence[Payload],
    on_answer: OnAnswer,
    *,
    timeout: float = 60.0,
    via: httpx.AsyncBaseTransport | None = None,
) -> None:
    """POST the requests in batches to the issuer's NGA API; each answer is reported as it comes.

    `via`: another httpx transport (tests pass the issuer's ASGI app)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(
        base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=via
    ) as http:
        for start in range(0, len(requests), HTTP_BATCH):
            batch = requests[start : start + HTTP_BATCH]
            body = "[" + ",".join(r.model_dump_json() for r in batch) + "]"
            r = await http.post(
                "/v1/issuance-requests/batch", content=body, headers={"Content-Type": "application/json"}
            )
            if r.status_code != 200:
                raise TransportError(f"the issuer answered {r.status_code}: {r.text[:500]}")
            for out in r.json():
                on_answer(out["request_id"], out["type"] or "pending", out["answer"] or {})
