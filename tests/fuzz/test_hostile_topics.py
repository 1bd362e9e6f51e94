"""Adversarial suite, topic half: every consumed topic of every service gets the hostile catalogue in every field
of every message type it carries, whole hostile bodies and hostile envelopes. Each record must end as a dead
letter with its reason or be handled (applied, or refused with a refusal message): the consumer never stops,
and a record with text no contract admits (NUL, escape, lone surrogate) never reaches a handler: the contract stops
it. A contract-valid record a handler cannot use may still fail it until it is dead-lettered as `handler_failed`
after its attempts; the figures count those.

The service runs with its real handlers on a real PostgreSQL under FastStream's TestKafkaBroker; the real broker's
side (a record of any size does not stall its partition) is tests/integration/test_hostile_records.py.
Figures go to var/fuzz/topics-<service>.json for docs/reliability.md.
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from contracts.envelope import Envelope
from runtime import asyncapi
from tests.fuzz import hostile
from tests.fuzz.schema_examples import example
from tests.service.conftest import dead_letters

#: Per-NGA topics as FR's.
PAIRS = [
    (service, asyncapi.for_nga(topic, "FR")) for service in asyncapi.SERVICES for topic in asyncapi.consumed(service)
]
KEY = "FR2600000010"
#: Per field: the fixed catalogue without the hypothesis draws, which the HTTP half already spends.
VALUES = [*hostile.HOSTILE_STRINGS, *hostile.HOSTILE_NUMBERS, *hostile.WRONG_TYPES]


def valid_payload(model: Any) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    doc = {"components": {"schemas": schema.get("$defs", {})}}
    return example(doc, schema, depth=0)


def envelope_attacks(model: Any) -> list[tuple[str, dict[str, str]]]:
    good = Envelope(type=model.TYPE, schema_version=1, producer="fuzz", subject=KEY).to_headers()
    return [
        ("no_ce_id", {k: v for k, v in good.items() if k != "ce_id"}),
        ("ce_id_huge", {**good, "ce_id": "i" * 100_000}),
        ("ce_type_nul", {**good, "ce_type": model.TYPE + "\x00"}),
        ("ce_time_garbage", {**good, "ce_time": "yesterday"}),
        ("ce_specversion_wrong", {**good, "ce_specversion": "0.1"}),
        ("subject_control", {**good, "ce_subject": "FR26\x1b00010"}),
        ("version_huge", {**good, "ce_schemaversion": str(2**70)}),
    ]


def _forbidden(label: str) -> bool:
    return any(bad in label for bad in ("\\x00", "\\x1b", "\\ud800"))


@pytest.mark.parametrize(("service", "topic"), PAIRS, ids=[f"{s}:{t.name}" for s, t in PAIRS])
async def test_no_hostile_record_stops_a_consumer_or_reaches_a_handler_unchecked(
    service, topic, settings, clock, running
) -> None:
    built = importlib.import_module(f"{service}.app").build(settings, clock=clock)
    dead = dead_letters(built, topic.dead_letter)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    async with running(built) as broker:

        async def send(label: str, body: bytes, headers: dict[str, str]) -> None:
            before = len(dead)
            await broker.publish(body, topic.name, key=KEY.encode(), headers=headers)
            kinds = [h.get("dlq_kind") for _, h in dead[before:]]
            outcome = kinds[0] if kinds else "handled"
            outcomes[outcome] += 1
            if len(kinds) > 1:
                failures.append(f"{label}: dead-lettered {len(kinds)} times")
            if _forbidden(label) and outcome in ("handled", "handler_failed"):
                failures.append(f"{label}: reached a handler ({outcome})")

        for model in topic.messages:
            valid = valid_payload(model)
            headers = Envelope(type=model.TYPE, schema_version=1, producer="fuzz", subject=KEY).to_headers()
            for label, mutated in hostile.field_mutations(valid, VALUES):
                await send(f"{model.TYPE}.{label}", hostile.encode(mutated), headers)
            for whole in hostile.whole_bodies(valid):
                await send(f"{model.TYPE} body {whole.name}", whole.data, headers)
            for label, bad in envelope_attacks(model):
                await send(f"{model.TYPE} envelope {label}", hostile.encode(valid), bad)
    _write_figures(service, topic.name, outcomes, failures)
    assert sum(outcomes.values()) >= 20 * len(topic.messages)
    assert failures == []


def _write_figures(service: str, topic: str, outcomes: Counter[str], failures: list[str]) -> None:
    out = Path("var/fuzz")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"topics-{service}.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    figures[topic] = {"inputs": sum(outcomes.values()), "outcomes": dict(outcomes), "failures": failures[:30]}
    path.write_text(json.dumps(figures, indent=1))


async def test_no_hostile_request_is_answered_issued_without_the_ledger_recording_it(
    settings, clock, running, pg_server
) -> None:
    """Every "issued" answer the issuer gives to a hostile (mutated) request is recorded by the core: the
    issuer's outgoing carnets, replayed into a core of their own, are all in its ledger and none is dead-lettered."""
    from contracts.topics import ISSUANCE_EVENTS, ISSUANCE_REQUESTS
    from tests.service.conftest import outbox
    from tests.support import databases
    from tests.support.messages import sealed_request

    issuer = importlib.import_module("issuer.app").build(settings, clock=clock)
    valid = json.loads(sealed_request("REQ-X").model_dump_json())
    sent = 0
    async with running(issuer) as broker:
        for i, (label, mutated) in enumerate(hostile.field_mutations(valid, VALUES)):
            mutated = {**mutated, "request_id": mutated.get("request_id", "x") if "request_id" in label else f"R-{i}"}
            headers = Envelope(
                type=sealed_request("x").TYPE, schema_version=1, producer="fuzz", subject=f"R-{i}"
            ).to_headers()
            await broker.publish(
                hostile.encode(mutated), ISSUANCE_REQUESTS.name, key=f"R-{i}".encode(), headers=headers
            )
            sent += 1
        queued = await outbox(issuer)
        async with issuer.pool.acquire() as conn:
            events = await conn.fetch(
                "SELECT key, headers, payload FROM outbox WHERE topic = $1 ORDER BY id", ISSUANCE_EVENTS.name
            )
    answered = {
        m["payload"]["carnet_number"]
        for m in queued
        if m["type"] == "CarnetIssued" and m["topic"].startswith("ata.issuance.responses.")
    }

    core_url = await databases.fresh_database(pg_server)
    try:
        core = importlib.import_module("core.app").build(
            settings.model_copy(update={"database_url": core_url}), clock=clock
        )
        dead = dead_letters(core, ISSUANCE_EVENTS.dead_letter)
        async with running(core) as broker:
            for row in events:
                await broker.publish(
                    bytes(row["payload"]),
                    ISSUANCE_EVENTS.name,
                    key=bytes(row["key"]),
                    headers=json.loads(row["headers"]),
                )
            async with core.pool.acquire() as conn:
                recorded = {r["carnet_number"] for r in await conn.fetch("SELECT carnet_number FROM carnets")}
    finally:
        await databases.drop_database(pg_server, core_url)
    _write_figures(
        "issuer",
        "issued-vs-recorded",
        Counter(
            {
                "requests": sent,
                "issued": len(answered),
                "recorded": len(answered & recorded),
                "core_dead_letters": len(dead),
            }
        ),
        [],
    )
    assert answered, "the valid fields of the mutated requests must still issue some carnets"
    assert answered - recorded == set()
    assert dead == []
