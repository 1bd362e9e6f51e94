"""Payload schemas as a schema registry holds them (contracts/schemas/): a subject per topic value, versions
that only grow, and every subject's current schema BACKWARD_TRANSITIVE compatible with each committed version."""

from __future__ import annotations

import copy
import json

import pytest

from contracts import registry
from contracts.catalogue import MESSAGE_TYPES
from contracts.envelope import DATASCHEMA_BASE, Envelope
from contracts.topics import ISSUANCE_REQUESTS, TRANSACTIONS

SUBJECTS = {registry.subject(t): t for t in registry.subject_topics()}


@pytest.mark.parametrize("name", sorted(SUBJECTS))
def test_the_current_schema_reads_every_committed_version_of_its_subject(name):
    committed = registry.versions(name)
    assert committed, f"{name} has no committed version: python -m contracts.registry --write"
    now = registry.value_schema(SUBJECTS[name])
    broken = [n for n, old in enumerate(committed, 1) if not registry.backward_compatible(old, now)]
    assert broken == [], f"{name}: the contracts no longer read versions {broken} (BACKWARD_TRANSITIVE)"


def test_the_committed_registry_is_what_the_contracts_generate():
    assert registry.problems() == []


def test_every_dataschema_names_a_committed_schema():
    for type_, version in MESSAGE_TYPES:
        uri = Envelope(type=type_, schema_version=version, producer="test").to_headers()["ce_dataschema"]
        path = registry.DIRECTORY / uri.removeprefix(DATASCHEMA_BASE)
        assert json.loads(path.read_text())["$id"] == uri


def _requests() -> dict:
    return copy.deepcopy(registry.value_schema(ISSUANCE_REQUESTS))


def _changed(schema: dict, change) -> dict:
    change(schema)
    return schema


def _sealed(schema: dict) -> dict:
    return schema["$defs"]["SealedIssuanceRequested"]


BREAKING = {
    "new required field": lambda s: (
        _sealed(s)["properties"].update(x={"type": "string"}),
        _sealed(s)["required"].append("x"),
    ),
    "removed message type": lambda s: s["anyOf"].pop(),
    "tighter maxLength": lambda s: _sealed(s)["properties"]["request_id"].update(maxLength=10),
    "removed enum value": lambda s: s["$defs"]["GoodsCategory"]["enum"].remove("exhibition"),
    "retyped field": lambda s: _sealed(s)["properties"]["request_id"].update(type="integer"),
}
ADDITIVE = {
    "new optional field": lambda s: _sealed(s)["properties"].update(x={"type": "string"}),
    "new message type": lambda s: s["anyOf"].append({"type": "object", "properties": {"y": {"type": "integer"}}}),
    "looser maxLength": lambda s: _sealed(s)["properties"]["request_id"].update(maxLength=1000),
    "new enum value": lambda s: s["$defs"]["GoodsCategory"]["enum"].append("livestock"),
}


@pytest.mark.parametrize("change", sorted(BREAKING))
def test_a_breaking_change_is_refused(change):
    assert not registry.backward_compatible(_requests(), _changed(_requests(), BREAKING[change]))


@pytest.mark.parametrize("change", sorted(ADDITIVE))
def test_an_additive_change_is_accepted(change):
    assert registry.backward_compatible(_requests(), _changed(_requests(), ADDITIVE[change]))


def test_write_registers_a_compatible_change_as_the_next_version_and_refuses_a_breaking_one(tmp_path, monkeypatch):
    assert registry.write(tmp_path) == []
    name = registry.subject(TRANSACTIONS)
    assert len(registry.versions(name, tmp_path)) == 1
    real = registry.value_schema
    monkeypatch.setattr(
        registry,
        "value_schema",
        lambda t: _changed(real(t), ADDITIVE["new message type"]) if t is TRANSACTIONS else real(t),
    )
    assert registry.write(tmp_path) == []
    assert len(registry.versions(name, tmp_path)) == 2
    monkeypatch.setattr(
        registry,
        "value_schema",
        lambda t: _changed(real(t), lambda s: s["anyOf"].pop(0)) if t is TRANSACTIONS else real(t),
    )
    assert registry.write(tmp_path) == [f"{name}: incompatible with version 1", f"{name}: incompatible with version 2"]
    assert len(registry.versions(name, tmp_path)) == 2
