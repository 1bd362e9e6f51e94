"""The wire contract: envelope headers, the topic catalogue, and documented payload fields."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import BaseModel

from contracts import claims as claims_contract, messages as m
from contracts.catalogue import MESSAGE_TYPES
from contracts.envelope import REQUIRED_HEADERS, TEXT_MAX, Envelope, EnvelopeError
from contracts.messages import Payload
from contracts.topics import CUSTOMS_LEDGER, DLQ_SUFFIX, TOPICS, TRANSACTIONS, all_topic_partitions


def envelope(**kw) -> Envelope:
    fields = {"type": "CarnetIssued", "producer": "issuer", "occurred_at": datetime(2026, 11, 22, 9, 30, tzinfo=UTC)}
    fields.update(kw)
    return Envelope(**fields)


# --- envelope ---------------------------------------------------------------------------------


def test_envelope_round_trips_through_headers_with_every_field():
    env = envelope(causation_id=uuid4(), subject="FR2600000017", schema_version=2)
    headers = env.to_headers()
    assert headers["ce_id"] == str(env.message_id)
    assert headers["ce_type"] == "org.ata-carnets.CarnetIssued.v2"
    assert headers["ce_dataschema"] == "https://schemas.ata-carnets.org/types/CarnetIssued/v2.json"
    assert headers["ce_source"] == "issuer"
    assert headers["ce_specversion"] == "1.0"
    assert headers["content-type"] == "application/json"
    assert Envelope.from_headers(headers) == env


def test_envelope_round_trips_without_optional_fields_and_from_bytes_headers():
    env = envelope()
    headers = env.to_headers()
    assert "ce_causationid" not in headers and "ce_subject" not in headers
    as_bytes = {k: v.encode() for k, v in headers.items()}  # Kafka delivers header values as bytes
    assert Envelope.from_headers(as_bytes) == env


def test_caused_envelope_continues_the_conversation():
    first = envelope(subject="FR2600000017")
    second = first.caused("TransactionRecorded", "core")
    assert second.correlation_id == first.correlation_id
    assert second.causation_id == first.message_id
    assert second.subject == "FR2600000017"
    assert second.message_id != first.message_id


@pytest.mark.parametrize("missing", ["ce_id", "ce_type", "ce_source", "ce_time"])
def test_from_headers_without_a_required_header_raises(missing):
    headers = envelope().to_headers()
    del headers[missing]
    with pytest.raises(EnvelopeError, match=missing):
        Envelope.from_headers(headers)


@pytest.mark.parametrize(
    "change",
    [
        {"ce_id": "not-a-uuid"},
        {"ce_time": "yesterday"},
        {"ce_specversion": "0.3"},
        {"ce_schemaversion": "0"},
        {"ce_schemaversion": "2"},
        {"ce_type": "org.ata-carnets.CarnetIssued"},
        {"ce_type": "org.ata-carnets.CarnetIssued.v0"},
        {"ce_type": "org.ata-carnets..v1"},
        {"ce_type": "org.ata-carnets.Carnet-Issued.v1"},
        {"ce_type": "org.ata-carnets." + "A" * 5000 + ".v1"},
        {"ce_type": "org.ata-carnets.CarnetIssued.v1" + "9" * 5000},
        {"ce_type": "CarnetIssued", "ce_schemaversion": "1" * 5000},
        {"ce_type": "CarnetIssued", "ce_schemaversion": "\u0661"},
    ],
)
def test_from_headers_with_invalid_values_raises_envelope_error(change):
    headers = {**envelope().to_headers(), **change}
    with pytest.raises(EnvelopeError):
        Envelope.from_headers(headers)


def test_ce_type_is_reverse_dns_with_the_version_and_dataschema_names_the_versions_schema():
    """CloudEvents: `type` prefixed with a reverse-DNS name, one per payload version; `dataschema` a URI."""
    for (type_, version), model in MESSAGE_TYPES.items():
        headers = Envelope(type=type_, schema_version=version, producer="test").to_headers()
        assert headers["ce_type"] == f"org.ata-carnets.{model.TYPE}.v{model.VERSION}"
        assert headers["ce_dataschema"].endswith(f"/types/{model.TYPE}/v{model.VERSION}.json")
        assert len(headers["ce_type"]) <= TEXT_MAX
        assert Envelope.from_headers(headers).type == model.TYPE


@pytest.mark.parametrize("schemaversion", [None, "1", "2"])
def test_the_deprecated_short_ce_type_is_still_read(schemaversion):
    """Earlier releases sent `ce_type: CarnetIssued` with the version in ce_schemaversion (1 when absent)."""
    headers = {**envelope().to_headers(), "ce_type": "CarnetIssued"}
    del headers["ce_schemaversion"], headers["ce_dataschema"]
    if schemaversion is not None:
        headers["ce_schemaversion"] = schemaversion
    read = Envelope.from_headers(headers)
    assert (read.type, read.schema_version) == ("CarnetIssued", int(schemaversion or 1))


def test_a_missing_specversion_is_still_read_but_documented_as_required():
    env = envelope()
    headers = env.to_headers()
    del headers["ce_specversion"]
    assert Envelope.from_headers(headers) == env
    assert "ce_specversion" in REQUIRED_HEADERS


def test_the_qualified_type_wins_over_a_missing_schemaversion():
    headers = envelope(schema_version=3).to_headers()
    del headers["ce_schemaversion"]
    assert Envelope.from_headers(headers).schema_version == 3


# --- topics -------------------------------------------------------------------------------------


def test_every_consumed_topic_has_a_dead_letter_topic_to_create():
    partitions = all_topic_partitions()
    for topic in TOPICS:
        assert partitions[topic.name] == topic.partitions
        if topic.consumers:
            assert topic.dead_letter == topic.name + DLQ_SUFFIX
            assert topic.dead_letter in partitions, topic.name
    assert len(partitions) == len(TOPICS) + sum(1 for t in TOPICS if t.consumers)


def test_topic_names_are_unique():
    names = [t.name for t in TOPICS]
    assert len(set(names)) == len(names)


#: The ledger's few events a customs gateway acts on go on its own low-volume topic as well, so that it
#: consumes no per-crossing topic (docs/gateway-subscriptions.md); every other type has one topic.
ON_TWO_TOPICS = {
    model: {TRANSACTIONS.name, CUSTOMS_LEDGER.name}
    for model in (m.ItemLocationsChanged, m.TransactionCancelled, m.CancellationRefused)
}


def test_every_message_type_is_carried_by_exactly_one_topic_but_the_ledger_events_copied_for_the_gateways():
    for (type_, version), model in MESSAGE_TYPES.items():
        carriers = {t.name for t in TOPICS if model in t.messages}
        if model in ON_TWO_TOPICS:
            assert carriers == ON_TWO_TOPICS[model], (type_, version, carriers)
        else:
            assert len(carriers) == 1, (type_, version, carriers)
    carried = {model for t in TOPICS for model in t.messages}
    assert carried == set(MESSAGE_TYPES.values())


def test_message_registry_keys_match_the_models():
    for (type_, version), model in MESSAGE_TYPES.items():
        assert (model.TYPE, model.VERSION) == (type_, version)
        assert issubclass(model, Payload)


#: Modules that define payloads: contracts/claims.py registers its own (issue 7).
CONTRACT_MODULES = (m, claims_contract)


def _defined_in(c: type, mod: object) -> bool:
    """Defined in the module, or in one of the package's modules (contracts.messages is one module per group)."""
    return c.__module__ == mod.__name__ or c.__module__.startswith(mod.__name__ + ".")


def test_every_payload_class_is_registered():
    payloads = {
        c
        for mod in CONTRACT_MODULES
        for _, c in inspect.getmembers(mod, inspect.isclass)
        if issubclass(c, Payload) and c is not Payload and _defined_in(c, mod)
    }
    assert payloads == set(MESSAGE_TYPES.values())


# --- documented fields ------------------------------------------------------------------------


def _contract_models() -> list[type[BaseModel]]:
    """Every payload and every model nested in one (Holder, GoodsItem, Reason, ...)."""
    return sorted(
        {
            c
            for mod in CONTRACT_MODULES
            for _, c in inspect.getmembers(mod, inspect.isclass)
            if issubclass(c, BaseModel) and c is not Payload and _defined_in(c, mod)
        },
        key=lambda c: c.__name__,
    )


@pytest.mark.parametrize("model", _contract_models(), ids=lambda c: c.__name__)
def test_every_field_has_a_description_and_an_example(model):
    assert model.model_fields, model.__name__
    for name, info in model.model_fields.items():
        assert info.description and info.description.strip(), f"{model.__name__}.{name} has no description"
        assert info.examples and len(info.examples) >= 1, f"{model.__name__}.{name} has no example"


def test_envelope_fields_are_documented_too():
    for name, info in Envelope.model_fields.items():
        assert info.description and info.examples, name


def test_the_registry_names_each_payload_once_and_no_contract_module_fills_it_from_another() -> None:
    """contracts/catalogue.py holds MESSAGE_TYPES; contracts.messages no longer imports claims.py at its bottom to fill it."""
    import subprocess
    import sys

    from contracts.claims import CLAIMS_MESSAGES
    from contracts.messages import MESSAGES

    assert len(MESSAGE_TYPES) == len(MESSAGES) + len(CLAIMS_MESSAGES)  # no (type, version) names two models
    alone = subprocess.run(
        [sys.executable, "-c", "import sys, contracts.messages; print('contracts.claims' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert alone.stdout.strip() == "False"
