"""Issue 10 item 2, duplicates: every consumer, given the same message twice (same envelope, so the same message
id, as a redelivery after a crash between the effect and the offset commit), changes nothing the second time:
its tables and outbox are exactly as after the first delivery.

Payloads are each contract's documented examples (every field of every contract carries one), so this covers
every (service, topic, message type) whose examples make a valid message; the others (sealed requests and
replacements, whose examples cannot be valid ciphertext, and signed trust lists) have their own redelivery tests
(test_issuer.py, test_core_lifecycle.py, test_customs_gateway.py)."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from contracts.messages import Payload
from runtime import asyncapi
from tests.support.databases import SCHEMAS, snapshot
from tests.support.messages import wire


def example(model: type[Payload]) -> Payload | None:
    try:
        return model.model_validate({n: f.examples[0] for n, f in model.model_fields.items() if f.examples})
    except ValueError:
        return None


CASES = [(s, t, m) for s in asyncapi.SERVICES for t in asyncapi.consumed(s) for m in t.messages
         if example(m) is not None]


@pytest.mark.parametrize(("service", "topic", "model"), CASES,
                         ids=[f"{s}:{t.name}:{m.__name__}" for s, t, m in CASES])
async def test_a_redelivered_message_changes_nothing(service, topic, model, settings, clock, running):
    built = importlib.import_module(f"{service}.app").build(settings, clock=clock)
    payload = example(model)
    body, headers, _ = wire(payload, subject="FR2600000017")
    async with running(built) as broker:
        await broker.publish(body, topic.name, key=b"FR2600000017", headers=headers)
        first = await state(built, service)
        await broker.publish(body, topic.name, key=b"FR2600000017", headers=headers)
        second = await state(built, service)
    assert second == first


async def state(service: Any, package: str) -> dict[str, list[tuple]]:
    async with service.pool.acquire() as conn:
        return await snapshot(conn, SCHEMAS[package])
