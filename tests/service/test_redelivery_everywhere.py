"""Issue 10 item 2, duplicates: every consumer, given the same message twice (same envelope, so the same message
id, as a redelivery after a crash between the effect and the offset commit), changes nothing the second time:
its tables and outbox are exactly as after the first delivery, and that first delivery took effect (applied,
its message id in the inbox), or was passed over by design (a type the consumer ignores).

Payloads are each contract's documented examples (every field of every contract carries one), so this covers
every (service, topic, message type) whose examples make a valid message; the others (sealed requests and
replacements, whose examples cannot be valid ciphertext, signed trust lists, and NEEDS_HISTORY) have their own
redelivery tests (test_issuer.py, test_core_duplicate.py, test_gateway_trust_keys.py, those NEEDS_HISTORY names)."""

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


#: Messages whose example cannot take effect on an empty database (it names a token, a carnet or a transaction
#: code the service does not know, so it is dead-lettered): a redelivery test of them would prove nothing here.
#: Each has its own, after what it needs: the test named.
NEEDS_HISTORY = {
    ("core", "CustomsCommitPosted"): "test_core_customs_commits.py::test_the_same_commit_twice_changes_nothing",
    (
        "core",
        "ItemsAccountedFor",
    ): "test_core_duty_receipts.py::test_r17_a_duty_receipt_accounts_for_an_item_abroad_in_that_country",
    (
        "customs_gateway",
        "DeclarationSubmitted",
    ): "test_gateway_lookup.py::test_redelivered_declarations_and_a_token_before_its_declaration_change_nothing_more",
}

CASES = [
    (s, asyncapi.for_nga(t, "FR"), m)
    for s in asyncapi.SERVICES
    for t in asyncapi.consumed(s)
    for m in t.messages
    if example(m) is not None and (s, m.__name__) not in NEEDS_HISTORY
]


@pytest.mark.parametrize(("service", "topic", "model"), CASES, ids=[f"{s}:{t.name}:{m.__name__}" for s, t, m in CASES])
async def test_a_redelivered_message_changes_nothing(service, topic, model, settings, clock, running):
    built = importlib.import_module(f"{service}.app").build(settings, clock=clock)
    payload = example(model)
    body, headers, envelope = wire(payload, subject="FR2600000017")
    async with running(built) as broker:
        before = await state(built, service)
        await broker.publish(body, topic.name, key=b"FR2600000017", headers=headers)
        first = await state(built, service)
        first_outcomes = outcomes(built, topic.name)
        await broker.publish(body, topic.name, key=b"FR2600000017", headers=headers)
        second = await state(built, service)
        second_outcomes = outcomes(built, topic.name)
    # The first delivery took effect: applied (not dead-lettered, not retried), and its message id is in the inbox.
    assert first_outcomes == {"applied": 1}
    assert (str(envelope.message_id) in {v for row in first["inbox"] for v in row}) and first != before
    assert second_outcomes == {"applied": 1, "duplicate": 1}
    assert second == first


def outcomes(service: Any, topic: str) -> dict[str, float]:
    """ata_messages_handled_total of `topic`, by outcome (the one message type these tests send)."""
    seen: dict[str, float] = {}
    for metric in service.registry.collect():
        for s in metric.samples:
            if s.name == "ata_messages_handled_total" and s.labels["topic"] == topic and s.value:
                seen[s.labels["outcome"]] = seen.get(s.labels["outcome"], 0) + s.value
    return seen


async def state(service: Any, package: str) -> dict[str, list[tuple]]:
    async with service.pool.acquire() as conn:
        return await snapshot(conn, SCHEMAS[package])
