"""No message can stall a partition, on the real broker: a record larger than the record-size limit (produced by
a client allowed larger requests), one carrying an envelope header twice, one with a header without a value and
one with a header that is not UTF-8 are dead-lettered (the first as a reference: digest, no payload), and the
request behind them on the same
partition is answered (runtime.dead_letters)."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import parse_type
from contracts.topics import ISSUANCE_REQUESTS, issuance_responses
from issuer.app import build as build_issuer
from runtime.settings import MAX_MESSAGE_BYTES, Settings
from runtime.topic_reader import read_until
from tests.support.messages import sealed_request, wire

pytestmark = pytest.mark.integration

#: Past the producers' limit (ATA_KAFKA_MAX_MESSAGE_BYTES): only a client configured for more sends it.
OVERSIZED = 2 * MAX_MESSAGE_BYTES


async def test_an_oversized_record_is_dead_lettered_as_a_reference_and_the_partition_moves_on(
    database_url, kafka_bootstrap, tmp_path
):
    service = build_issuer(
        Settings(database_url=database_url, kafka_bootstrap_servers=kafka_bootstrap, data_dir=tmp_path)
    )
    request_id = f"IT-{uuid.uuid4().hex[:10]}"
    key = request_id.encode()  # one key: every record below lands on the same partition, in this order
    body, headers, env = wire(sealed_request(request_id, nga="BE", issuing_association="BE-CCI-BXL"))
    wire_headers = [(k, v.encode()) for k, v in headers.items()]
    oversized = b'{"representative_ids": ["' + b"x" * OVERSIZED + b'"]}'
    ids = {name: str(uuid.uuid4()) for name in ("oversized", "twice", "not_text", "not_utf8", "second")}

    def with_id(name: str) -> list[tuple[str, bytes | None]]:
        return [(k, ids[name].encode() if k == "ce_id" else v) for k, v in wire_headers]

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=False, acks="all", max_request_size=4 * OVERSIZED
    )
    await service.start()
    await producer.start()
    try:
        await producer.send_and_wait(ISSUANCE_REQUESTS.name, oversized, key=key, headers=with_id("oversized"))
        await producer.send_and_wait(
            ISSUANCE_REQUESTS.name, body, key=key, headers=with_id("twice") + [("ce_id", ids["second"].encode())]
        )
        await producer.send_and_wait(
            ISSUANCE_REQUESTS.name,
            body,
            key=key,
            headers=[(k, None if k == "ce_time" else v) for k, v in with_id("not_text")],
        )
        await producer.send_and_wait(
            ISSUANCE_REQUESTS.name,
            body,
            key=key,
            headers=[(k, b"\xff\xfe" if k == "ce_time" else v) for k, v in with_id("not_utf8")],
        )
        await producer.send_and_wait(ISSUANCE_REQUESTS.name, body, key=key, headers=wire_headers)

        answers = issuance_responses("BE")
        [answer] = await read_until(
            kafka_bootstrap,
            answers.name,
            answers.partitions,
            lambda r: json.loads(r.value).get("request_id") == request_id,
            timeout=60,
        )
        dead = await read_until(
            kafka_bootstrap,
            ISSUANCE_REQUESTS.dead_letter,
            1,
            lambda r: r.headers.get("ce_id") in set(ids.values()),
            count=4,
            timeout=60,
        )
    finally:
        await producer.stop()
        await service.stop()

    assert parse_type(answer.headers["ce_type"])[0] == "CarnetIssued" and answer.headers["ce_causationid"] == str(
        env.message_id
    )
    by_id = {r.headers["ce_id"]: r for r in dead}
    reference = by_id[ids["oversized"]]
    assert reference.headers["dlq_kind"] == "too_large" and reference.headers["dlq_payload"] == "omitted"
    document = json.loads(reference.value)
    assert document["topic"] == ISSUANCE_REQUESTS.name and document["size"] == len(oversized)
    assert document["sha256"] == hashlib.sha256(oversized).hexdigest() and document["key"] == request_id
    assert isinstance(document["partition"], int) and isinstance(document["offset"], int)
    assert len(reference.value) < 4096
    twice = by_id[ids["second"]]  # the dead letter carries the headers as read: the last value of each name
    assert twice.headers["dlq_kind"] == "envelope" and twice.headers["dlq_reason"] == "envelope headers repeated: ce_id"
    assert by_id[ids["not_text"]].headers["dlq_kind"] == by_id[ids["not_utf8"]].headers["dlq_kind"] == "envelope"
    assert (
        service.registry.get_sample_value(
            "ata_dead_letter_references_total", {"topic": ISSUANCE_REQUESTS.name, "outcome": "reference"}
        )
        == 1
    )
