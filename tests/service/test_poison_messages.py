"""Issue 10 item 2: every consumer of every service, given what is not a contract (malformed JSON, an unknown
message type, an unknown schema version, a type that belongs on another topic, missing envelope headers, a payload
over the size limit, a payload that does not match its schema), dead-letters it with the original bytes and the
reason (a payload too large to travel whole: a reference with its digest, runtime.dead_letters), in order,
without retrying it and without reaching a handler, so the partition keeps moving (on a real
broker: tests/integration/test_runtime_on_real_servers.py)."""

from __future__ import annotations

import hashlib
import importlib
import json
from typing import Any

import pytest

from contracts.envelope import Envelope
from runtime import asyncapi
from runtime.consumer import MAX_MESSAGE_BYTES
from tests.service.conftest import dead_letters

#: Per-NGA topics as FR's.
PAIRS = [
    (service, asyncapi.for_nga(topic, "FR")) for service in asyncapi.SERVICES for topic in asyncapi.consumed(service)
]
KEY = b"FR2600000010"


def headers(type_: str, version: int = 1) -> dict[str, str]:
    return Envelope(type=type_, schema_version=version, producer="test", subject=KEY.decode()).to_headers()


def foreign_type(topic: Any) -> str:
    """A registered message type that this topic does not carry."""
    from contracts.catalogue import MESSAGE_TYPES

    return next(t for (t, _), model in sorted(MESSAGE_TYPES.items()) if model not in topic.messages)


@pytest.mark.parametrize(("service", "topic"), PAIRS, ids=[f"{s}:{t.name}" for s, t in PAIRS])
async def test_poison_messages_are_dead_lettered_with_their_reason_and_the_partition_keeps_moving(
    service, topic, settings, clock, running
):
    built = importlib.import_module(f"{service}.app").build(settings, clock=clock)
    dead = dead_letters(built, topic.dead_letter)
    accepted = topic.messages[0].TYPE
    poison = [
        ("malformed_json", b'{"carnet_number": "FR26', headers(accepted)),
        ("unknown_type", b"{}", headers("NoSuchMessage")),
        ("unknown_type", b"{}", headers(accepted, version=99)),
        ("wrong_topic", b"{}", headers(foreign_type(topic))),
        ("envelope", b"{}", {"ce_type": accepted}),
        ("too_large", b"{" + b" " * MAX_MESSAGE_BYTES + b"}", headers(accepted)),
        ("schema", b'{"unexpected": true}', headers(accepted)),
    ]
    async with running(built) as broker:
        for _, body, h in poison:
            await broker.publish(body, topic.name, key=KEY, headers=h)
        async with built.pool.acquire() as conn:
            claimed = await conn.fetchval("SELECT count(*) FROM inbox")
    kinds = [h["dlq_kind"] for _, h in dead]
    assert kinds == [kind for kind, _, _ in poison]
    whole = [(body, h) for body, h in dead if h["dlq_kind"] != "too_large"]
    assert [body for body, _ in whole] == [body for kind, body, _ in poison if kind != "too_large"]  # for replay
    [(reference, h)] = [(json.loads(body), h) for body, h in dead if h["dlq_kind"] == "too_large"]
    too_large = next(body for kind, body, _ in poison if kind == "too_large")
    assert h["dlq_payload"] == "omitted" and reference["topic"] == topic.name and reference["size"] == len(too_large)
    assert reference["sha256"] == hashlib.sha256(too_large).hexdigest() and reference["key"] == KEY.decode()
    assert all(h["dlq_reason"] and h["dlq_consumer"] == service for _, h in dead)
    assert claimed == 0  # nothing poison reached a handler
    for kind in {k for k, _, _ in poison}:
        assert built.registry.get_sample_value("ata_dead_letters_total", {"topic": topic.name, "reason": kind}) >= 1
    assert (
        built.registry.get_sample_value(
            "ata_dead_letter_references_total", {"topic": topic.name, "outcome": "reference"}
        )
        == 1
    )
