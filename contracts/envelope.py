"""The envelope every message carries, as CloudEvents Kafka-binding headers (binary mode).

The payload travels as the record value (JSON); the envelope travels in `ce_*` headers so a
consumer can route, dedupe and trace a message before it parses the payload.

`ce_type` is reverse-DNS with the payload's version (`org.ata-carnets.CarnetIssued.v1`) and
`ce_dataschema` names that version's JSON Schema (contracts/schemas/types/, written by
`python -m contracts.registry --write`). Inside the services `Envelope.type` stays the payload's
`TYPE` ("CarnetIssued") and `schema_version` its version. Deprecated, still read until the next
major release: the short `ce_type` of earlier releases (its version then in `ce_schemaversion`, 1
when absent) and a missing `ce_specversion`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contracts.bounds import IDENTIFIER, LINE

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


#: Longest type, producer and subject an envelope carries.
TEXT_MAX = 100
#: `ce_type` is this prefix, the payload's TYPE and `.v<VERSION>` (CloudEvents: reverse-DNS type names).
TYPE_PREFIX = "org.ata-carnets."
_QUALIFIED = re.compile(r"org\.ata-carnets\.([A-Za-z][A-Za-z0-9]{0,79})\.v([1-9][0-9]{0,8})")
#: Where each payload version's JSON Schema is published; the path below it is the one under contracts/schemas/.
DATASCHEMA_BASE = "https://schemas.ata-carnets.org/"


def qualified_type(type_: str, version: int) -> str:
    """The `ce_type` of a payload type and version: `org.ata-carnets.CarnetIssued.v1`."""
    return f"{TYPE_PREFIX}{type_}.v{version}"


def schema_path(type_: str, version: int) -> str:
    """Where one payload version's JSON Schema lives, below DATASCHEMA_BASE and below contracts/schemas/."""
    return f"types/{type_}/v{version}.json"


def is_deprecated(headers: Mapping[str, Any]) -> bool:
    """Read, but in a form a later release will refuse: a short `ce_type`, or no `ce_specversion`."""
    ce_type = headers.get("ce_type", "")
    if isinstance(ce_type, bytes):
        ce_type = ce_type.decode("utf-8", "replace")
    return not ce_type.startswith(TYPE_PREFIX) or "ce_specversion" not in headers


def parse_type(ce_type: str, schema_version: str | None = None) -> tuple[str, int]:
    """`(TYPE, version)` from a `ce_type`, the qualified form or the deprecated short one."""
    if ce_type.startswith(TYPE_PREFIX):
        match = _QUALIFIED.fullmatch(ce_type)
        if match is None:
            raise EnvelopeError(f"ce_type {ce_type[:TEXT_MAX]!r} is not {TYPE_PREFIX}<Type>.v<version>")
        version = int(match[2])
        if schema_version is not None and schema_version != match[2]:
            raise EnvelopeError(f"ce_schemaversion {schema_version[:12]!r} contradicts ce_type {ce_type}")
        return match[1], version
    if schema_version is None:
        return ce_type, 1
    if not schema_version.isascii() or not schema_version.isdigit() or len(schema_version) > 9:
        raise EnvelopeError(f"invalid ce_schemaversion {schema_version[:12]!r}")
    return ce_type, int(schema_version)


class EnvelopeError(ValueError):
    """The headers do not form a valid envelope; the message goes to the dead-letter topic."""


class Envelope(BaseModel):
    """Metadata of one message: identity, type, version, time, and its place in a conversation."""

    model_config = ConfigDict(frozen=True)

    message_id: UUID = Field(
        default_factory=uuid4,
        description="Unique id of this message; consumers dedupe on it (inbox).",
        examples=["0b9f3c1e-4d55-4c8e-9a57-2f1f0c6a7e11"],
    )
    type: str = Field(
        description=(
            "Message type: `org.ata-carnets.<the payload model's name>.v<version>` on the wire "
            "(the short name alone is deprecated, still read)."
        ),
        examples=["CarnetIssued"],
        min_length=1,
        max_length=TEXT_MAX,
        pattern=IDENTIFIER,
    )
    schema_version: int = Field(
        default=1, ge=1, le=999, description="Version of the payload schema for this type.", examples=[1]
    )
    occurred_at: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When the fact happened, RFC 3339 with offset.",
        examples=["2026-11-22T09:30:00+00:00"],
    )
    correlation_id: UUID = Field(
        default_factory=uuid4,
        description="Id shared by every message of one business conversation (e.g. one issuance).",
        examples=["5d2a7c0e-1b6f-4a8e-8f3a-0c9d8e7f6a5b"],
    )
    causation_id: UUID | None = Field(
        default=None,
        description="Id of the message that caused this one; empty for a conversation's first message.",
        examples=["0b9f3c1e-4d55-4c8e-9a57-2f1f0c6a7e11"],
    )
    producer: str = Field(
        description="Service or system that produced the message (CloudEvents `source`).",
        examples=["issuer"],
        min_length=1,
        max_length=TEXT_MAX,
        pattern=IDENTIFIER,
    )
    subject: str | None = Field(
        default=None,
        description="What the message is about: the carnet number when carnet-scoped (also the Kafka key).",
        examples=["FR2600000017"],
        max_length=TEXT_MAX,
        pattern=LINE,
    )

    def caused(self, type_: str, producer: str, subject: str | None = None, **kw: Any) -> Envelope:
        """Envelope for a message caused by this one: same correlation, causation = this id."""
        return Envelope(
            type=type_,
            producer=producer,
            subject=subject if subject is not None else self.subject,
            correlation_id=self.correlation_id,
            causation_id=self.message_id,
            **kw,
        )

    def to_headers(self) -> dict[str, str]:
        headers = {
            "ce_specversion": SPEC_VERSION,
            "ce_id": str(self.message_id),
            "ce_type": qualified_type(self.type, self.schema_version),
            "ce_source": self.producer,
            "ce_time": self.occurred_at.isoformat(),
            "ce_dataschema": DATASCHEMA_BASE + schema_path(self.type, self.schema_version),
            "ce_schemaversion": str(self.schema_version),
            "ce_correlationid": str(self.correlation_id),
            "content-type": CONTENT_TYPE,
        }
        if self.causation_id is not None:
            headers["ce_causationid"] = str(self.causation_id)
        if self.subject is not None:
            headers["ce_subject"] = self.subject
        return headers

    @classmethod
    def from_headers(cls, headers: Mapping[str, Any]) -> Envelope:
        # The consumer hands over text already (runtime.consumer.Record): no second decoding pass then.
        h = (
            headers
            if all(type(v) is str for v in headers.values())
            else {k: (v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)) for k, v in headers.items()}
        )
        if not ("ce_id" in h and "ce_type" in h and "ce_source" in h and "ce_time" in h):
            missing = [k for k in ("ce_id", "ce_type", "ce_source", "ce_time") if k not in h]
            raise EnvelopeError(f"missing envelope headers: {', '.join(missing)}")
        if h.get("ce_specversion", SPEC_VERSION) != SPEC_VERSION:  # required; a missing one is deprecated, read as 1.0
            raise EnvelopeError(f"unsupported CloudEvents specversion {h['ce_specversion'][:12]!r}")
        type_, version = parse_type(h["ce_type"], h.get("ce_schemaversion"))
        try:
            return cls(
                message_id=h["ce_id"],
                type=type_,
                producer=h["ce_source"],
                occurred_at=h["ce_time"],
                schema_version=version,
                correlation_id=h.get("ce_correlationid", h["ce_id"]),
                causation_id=h.get("ce_causationid"),
                subject=h.get("ce_subject"),
            )
        except ValidationError as exc:
            raise EnvelopeError(f"invalid envelope: {_short(exc)}") from exc


#: Each envelope field and the header it travels in.
HEADER_OF = {
    "message_id": "ce_id",
    "type": "ce_type",
    "producer": "ce_source",
    "occurred_at": "ce_time",
    "subject": "ce_subject",
    "schema_version": "ce_schemaversion",
    "correlation_id": "ce_correlationid",
    "causation_id": "ce_causationid",
}
#: CloudEvents' required attributes. A message without ce_specversion is still read (deprecated, module docstring).
REQUIRED_HEADERS = ("ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time")


def headers_schema(types: list[str]) -> dict[str, Any]:
    """JSON Schema of the `ce_*` headers a message with one of `types` (`ce_type` values) carries (every Kafka
    header is text).

    Descriptions and bounds come from the Envelope's fields, so a change there shows in the AsyncAPI documents.
    """
    fields = Envelope.model_json_schema()["properties"]
    props: dict[str, Any] = {
        "ce_specversion": {"type": "string", "const": SPEC_VERSION, "description": "CloudEvents specification version."}
    }
    for name, header in HEADER_OF.items():
        field = fields[name]
        schema = next((s for s in field.get("anyOf", [field]) if s.get("type") != "null"), field)
        text: dict[str, Any] = {"type": "string", "description": field["description"]}
        text |= {k: v for k, v in schema.items() if k in ("format", "minLength", "maxLength")}
        if schema.get("type") == "integer":
            text["pattern"] = "^[1-9][0-9]{0,8}$"
        props[header] = text
    props["ce_type"]["enum"] = sorted(types)
    props["ce_dataschema"] = {
        "type": "string",
        "format": "uri",
        "description": (f"The payload version's JSON Schema: {DATASCHEMA_BASE}types/<Type>/v<version>.json."),
    }
    props["content-type"] = {"type": "string", "const": CONTENT_TYPE, "description": "Media type of the record value."}
    return {"type": "object", "required": list(REQUIRED_HEADERS), "properties": props}


def _short(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
