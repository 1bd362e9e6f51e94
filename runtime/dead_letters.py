"""Dead letters that always reach `<topic>.dlq`: the whole record when it fits, a reference when it cannot.

The whole record (its body, its headers and the `dlq_*` headers saying why) goes when its size leaves
REFERENCE_MARGIN under the record-size limit (ATA_KAFKA_MAX_MESSAGE_BYTES). When it does not, or the
producer or the broker refuses it for good (REFUSED_RECORD), a reference goes instead: a small JSON body
with the reason, the source topic, partition and offset, the size, the SHA-256 of the body and its first
bytes, never the payload; the record itself stays on its topic until retention removes it. Either way a
record is dead-lettered within two publish attempts and the partition moves on; only a failure of the
surroundings (broker away) is raised, so the batch is retried.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from runtime.broker import REFUSED_RECORD

log = logging.getLogger(__name__)

#: Room kept under the limit for what the broker adds to a record batch and for the dlq_* headers.
REFERENCE_MARGIN = 16 * 1024
#: How much of a too-large body a reference shows (base64), to tell one poison from another at a glance.
HEAD_BYTES = 64
#: Longest header value, key or reason a reference carries (characters).
TEXT_LIMIT = 256
REASON_LIMIT = 2000
#: The envelope headers a reference keeps (cut to TEXT_LIMIT): enough to find the message elsewhere.
KEPT = ("ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "ce_correlationid")


@dataclass(frozen=True)
class Origin:
    """Where the dead record was read: its topic, partition and offset (None outside a real consumer)."""

    topic: str
    partition: int | None
    offset: int | None
    where: str


class Publisher(Protocol):
    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str]) -> Any: ...


def _text(value: Any, limit: int | None = None) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return text if limit is None else text[:limit]


def _printable(value: Any) -> str:
    """For a log line: control characters shown escaped, so a header cannot forge log lines."""
    return _text(value, TEXT_LIMIT).encode("unicode_escape").decode("ascii")


def record_size(key: bytes | None, body: bytes, headers: dict[str, str]) -> int:
    """The producer's own upper bound for the record (what it compares with max_request_size)."""
    return DefaultRecordBatchBuilder.estimate_size_in_bytes(key, body, [(k, v.encode()) for k, v in headers.items()])


def reference(
    origin: Origin,
    body: bytes,
    headers: dict[str, Any],
    key: bytes | None,
    *,
    kind: str,
    reason: str,
    consumer: str,
    why: str,
) -> tuple[bytes, dict[str, str], bytes | None]:
    """(body, headers, key) of the reference dead letter for a record that cannot be carried whole."""
    header_bytes = sum(len(str(k)) + len(_text(v)) for k, v in headers.items())
    document = {
        "dead_letter": "reference",
        "reason": reason[:REASON_LIMIT],
        "kind": kind,
        "payload_omitted_because": why[:REASON_LIMIT],
        "topic": origin.topic,
        "partition": origin.partition,
        "offset": origin.offset,
        "size": len(body),
        "headers": len(headers),
        "headers_size": header_bytes,
        "key": _text(key, TEXT_LIMIT) if key is not None else None,
        "key_size": len(key) if key is not None else 0,
        "sha256": hashlib.sha256(body).hexdigest(),
        "head": base64.b64encode(body[:HEAD_BYTES]).decode("ascii"),
        "consumer": consumer,
    }
    out = {k: _text(headers[k], TEXT_LIMIT) for k in KEPT if k in headers}
    out.update(
        dlq_reason=reason[:REASON_LIMIT],
        dlq_kind=kind,
        dlq_source=origin.where[:TEXT_LIMIT],
        dlq_consumer=consumer,
        dlq_payload="omitted",
    )
    return json.dumps(document).encode(), out, key if key is not None and len(key) <= TEXT_LIMIT else None


async def dead_letter(
    broker: Publisher,
    dead_topic: str,
    origin: Origin,
    body: bytes,
    headers: dict[str, Any],
    key: bytes | None,
    *,
    kind: str,
    reason: str,
    consumer: str,
    limit: int,
) -> str:
    """Publish the dead letter of one record: "whole", "reference", or "refused" when Kafka refused even the
    reference (then only this log line and the metric tell, and the record stays on its topic)."""
    log.error(
        "%s: dead-lettering message from %s (%s, message id %s, carnet %s): %s",
        consumer,
        origin.where,
        kind,
        _printable(headers.get("ce_id")),
        _printable(key or b""),
        _printable(reason),
    )
    whole = {k: _text(v) for k, v in headers.items()}
    whole.update(dlq_reason=reason[:REASON_LIMIT], dlq_kind=kind, dlq_source=origin.where, dlq_consumer=consumer)
    size = record_size(key, body, whole)
    if size <= limit - REFERENCE_MARGIN:
        try:
            await broker.publish(body, dead_topic, key=key, headers=whole)
            return "whole"
        except REFUSED_RECORD as exc:
            why = f"refused by Kafka: {type(exc).__name__}: {exc}"
    else:
        why = f"a dead letter of {size} bytes is over the {limit - REFERENCE_MARGIN}-byte room under the record limit"
    log.error(
        "%s: dead letter of message id %s (carnet %s) from %s sent as a reference: %s",
        consumer,
        _printable(headers.get("ce_id")),
        _printable(key or b""),
        origin.where,
        why,
    )
    ref_body, ref_headers, ref_key = reference(
        origin, body, headers, key, kind=kind, reason=reason, consumer=consumer, why=why
    )
    try:
        await broker.publish(ref_body, dead_topic, key=ref_key, headers=ref_headers)
    except REFUSED_RECORD as exc:
        log.critical(
            "%s: Kafka refused even the reference dead letter of message id %s (carnet %s) from %s: %s; "
            "the record stays on its topic, the partition moves on",
            consumer,
            _printable(headers.get("ce_id")),
            _printable(key or b""),
            origin.where,
            exc,
        )
        return "refused"
    return "reference"
