"""runtime.dead_letters: a record of any size, bytes or headers reaches `<topic>.dlq` within two publish
attempts, whole when it fits, otherwise as a reference (reason, source topic, partition, offset, size,
SHA-256, first bytes; never the payload); only a failure of the surroundings is raised (then retried)."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from typing import Any

import pytest
from aiokafka.errors import InvalidTopicError, KafkaTimeoutError, MessageSizeTooLargeError
from hypothesis import HealthCheck, given, settings, strategies as st

from runtime.dead_letters import HEAD_BYTES, REFERENCE_MARGIN, TEXT_LIMIT, Origin, dead_letter, record_size

LIMIT = 100_000
ORIGIN = Origin("ata.issuance.requests.v1", 3, 41, "ata.issuance.requests.v1/3@41")
CARNET = b"FR2600000010"
HEADERS = {
    "ce_id": "7b0c1f4e-0000-4000-8000-000000000001",
    "ce_type": "IssuanceRequested",
    "ce_source": "nga-FR",
    "ce_time": "2026-12-02T08:00:00Z",
    "ce_subject": CARNET.decode(),
}


class Kafka:
    """Stands in for the producer: refuses what is over `limit` as aiokafka does, or raises `fail` first."""

    def __init__(self, limit: int = LIMIT, fail: list[Exception] | None = None) -> None:
        self.limit = limit
        self.fail = list(fail or [])
        self.attempts = 0
        self.sent: list[tuple[bytes, str, bytes | None, dict[str, str]]] = []

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str]) -> None:
        self.attempts += 1
        if self.fail:
            raise self.fail.pop(0)
        if record_size(key, body, headers) > self.limit:
            raise MessageSizeTooLargeError("too large")
        self.sent.append((body, topic, key, headers))


async def send(
    kafka: Kafka, body: bytes, headers: dict[str, Any] | None = None, key: bytes | None = CARNET, kind: str = "schema"
) -> str:
    return await dead_letter(
        kafka,
        "t.dlq",
        ORIGIN,
        body,
        HEADERS if headers is None else headers,
        key,
        kind=kind,
        reason="payload does not match",
        consumer="issuer",
        limit=LIMIT,
    )


async def test_a_record_that_fits_goes_whole_with_its_reason():
    kafka = Kafka()
    assert await send(kafka, b'{"x": 1}') == "whole"
    [(body, topic, key, headers)] = kafka.sent
    assert (body, topic, key) == (b'{"x": 1}', "t.dlq", CARNET)
    assert headers == {
        **HEADERS,
        "dlq_reason": "payload does not match",
        "dlq_kind": "schema",
        "dlq_source": ORIGIN.where,
        "dlq_consumer": "issuer",
    }


def reference_of(kafka: Kafka) -> tuple[dict[str, Any], bytes | None, dict[str, str]]:
    [(body, topic, key, headers)] = kafka.sent
    assert topic == "t.dlq" and headers["dlq_payload"] == "omitted"
    assert record_size(key, body, headers) < REFERENCE_MARGIN  # always small whatever the record was
    return json.loads(body), key, headers


async def test_a_body_over_the_room_goes_as_a_reference_without_payload():
    body = b"\x00poison" + bytes(range(256)) * 800  # ~200 KB: over the limit, binary
    kafka = Kafka()
    assert await send(kafka, body, kind="too_large") == "reference"
    assert kafka.attempts == 1  # known too large: not even tried whole
    doc, key, headers = reference_of(kafka)
    assert doc["topic"] == ORIGIN.topic and (doc["partition"], doc["offset"]) == (3, 41)
    assert doc["size"] == len(body) and doc["sha256"] == hashlib.sha256(body).hexdigest()
    assert base64.b64decode(doc["head"]) == body[:HEAD_BYTES]
    assert doc["reason"] == "payload does not match" and doc["kind"] == "too_large"
    assert key == CARNET and doc["key"] == CARNET.decode()
    assert headers["ce_id"] == HEADERS["ce_id"] and headers["dlq_kind"] == "too_large"


async def test_a_record_just_under_the_limit_whose_dead_letter_would_not_fit_goes_as_a_reference():
    body = b"x" * (LIMIT - REFERENCE_MARGIN // 2)  # it arrived, but with the dlq_* headers it may not leave whole
    kafka = Kafka()
    assert await send(kafka, body) == "reference"
    assert reference_of(kafka)[0]["size"] == len(body)


@pytest.mark.parametrize(
    "headers",
    [
        {**HEADERS, "x-bloat": "y" * LIMIT},  # one huge header
        {**HEADERS, **{f"h{i}": "z" * 100 for i in range(2000)}},  # very many headers
        {"ce_id": "\n" * 60_000, "ce_subject": "\x00" * 60_000},  # control characters, huge envelope values
    ],
)
async def test_huge_or_hostile_headers_go_as_a_bounded_reference(headers):
    kafka = Kafka()
    assert await send(kafka, b"{}", headers=headers) == "reference"
    doc, _, out = reference_of(kafka)
    assert doc["headers"] == len(headers) and doc["size"] == 2
    assert all(len(v) <= 2000 for v in out.values()) and set(out) <= {
        *HEADERS,
        "ce_correlationid",
        "dlq_reason",
        "dlq_kind",
        "dlq_source",
        "dlq_consumer",
        "dlq_payload",
    }


async def test_a_huge_key_is_not_carried():
    kafka = Kafka()
    assert await send(kafka, b"x" * LIMIT, key=b"k" * 10_000) == "reference"
    doc, key, _ = reference_of(kafka)
    assert key is None and doc["key_size"] == 10_000 and len(doc["key"]) == TEXT_LIMIT


@pytest.mark.parametrize("refusal", [MessageSizeTooLargeError("broker says too large"), InvalidTopicError("bad")])
async def test_a_whole_dead_letter_kafka_refuses_goes_as_a_reference_on_the_second_attempt(refusal):
    kafka = Kafka(fail=[refusal])
    assert await send(kafka, b'{"x": 1}') == "reference"
    assert kafka.attempts == 2
    doc, _, _ = reference_of(kafka)
    assert (
        type(refusal).__name__ in doc["payload_omitted_because"]
        and doc["sha256"] == hashlib.sha256(b'{"x": 1}').hexdigest()
    )


async def test_a_reference_kafka_refuses_too_is_given_up_not_retried_for_ever(caplog):
    kafka = Kafka(fail=[MessageSizeTooLargeError("no"), InvalidTopicError("no")])
    with caplog.at_level(logging.CRITICAL, "runtime.dead_letters"):
        assert await send(kafka, b'{"x": 1}') == "refused"
    assert kafka.attempts == 2 and not kafka.sent
    assert CARNET.decode() in caplog.text and HEADERS["ce_id"] in caplog.text


@pytest.mark.parametrize("outage", [KafkaTimeoutError(), OSError("connection refused")])
async def test_the_broker_away_is_raised_so_the_batch_is_retried(outage):
    with pytest.raises(type(outage)):
        await send(Kafka(fail=[outage]), b'{"x": 1}')


async def test_the_log_line_names_carnet_and_message_id_and_cannot_be_forged(caplog):
    with caplog.at_level(logging.ERROR, "runtime.dead_letters"):
        await send(Kafka(), b"{}", headers={**HEADERS, "ce_id": "id\nFAKE LINE"}, key=b"FR26\r\n0001")
    line = caplog.records[0].getMessage()
    assert "message id id\\nFAKE LINE" in line and "carnet FR26\\r\\n0001" in line and "\n" not in line


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(st.binary(max_size=2000), st.integers(0, 3 * LIMIT).map(lambda n: b"b" * n)),
    key=st.one_of(st.none(), st.binary(max_size=600)),
    headers=st.dictionaries(
        st.text(max_size=30), st.one_of(st.text(max_size=300), st.binary(max_size=50_000)), max_size=40
    ),
)
async def test_any_record_reaches_the_dead_letter_topic_within_two_attempts(body, key, headers):
    kafka = Kafka()
    outcome = await send(kafka, body, headers=headers, key=key)
    assert outcome in ("whole", "reference") and len(kafka.sent) == 1 and kafka.attempts <= 2
