"""The outbox's cheap paths for bulk issuance (bench/README.md, round 3) give exactly what the
validated paths gave: envelopes built without re-validation, bodies serialised once by the
caller, one metric child per topic per relay batch. Idempotency depends on these envelopes
(the message id the inboxes dedupe on) and "nothing lost on a crash" on these rows."""

from __future__ import annotations

import base64
import random
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from contracts.envelope import Envelope
from contracts.messages import CarnetIssued, IssuanceRejected, Reason
from runtime.outbox import OutboxRelay, add_many, envelope_for
from runtime.service import Service
from tests.support.outbox import service  # noqa: F401 (fixture: a schema with the runtime's tables)

REJECTED = IssuanceRejected(request_id="REQ-1", nga="FR", reasons=[Reason(rule="R4", message="alcohol is excluded")])


class Sink:
    """Stands in for the broker: what the relay published, in order."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes | None, bytes, dict[str, str]]] = []

    async def publish(self, body: bytes, topic: str, *, key: bytes | None, headers: dict[str, str], **_: Any) -> None:
        self.published.append((topic, key, body, headers))


def test_r5_envelope_for_a_caused_message_is_what_caused_validates():
    """R5 (answered once): the fast envelope keeps the conversation (correlation, causation) and
    passes the same validation a consumer applies to its headers."""
    cause = Envelope(type="SealedIssuanceRequested", producer="nga-FR", subject="REQ-1")
    fast = envelope_for(REJECTED, key="REQ-1", producer="issuer", cause=cause)
    slow = cause.caused(REJECTED.TYPE, "issuer", subject="REQ-1", schema_version=REJECTED.VERSION)
    same = {"type", "schema_version", "correlation_id", "causation_id", "producer", "subject"}
    assert fast.model_dump(include=same) == slow.model_dump(include=same)
    assert fast.causation_id == cause.message_id and fast.correlation_id == cause.correlation_id
    assert isinstance(fast.message_id, UUID) and fast.message_id != slow.message_id
    assert fast.occurred_at.tzinfo is not None
    assert Envelope.from_headers(fast.to_headers()) == fast
    assert Envelope.model_validate(fast.model_dump()) == fast
    # no key and no subject: the cause's subject, as `caused` does
    assert envelope_for(REJECTED, key=None, producer="issuer", cause=cause).subject == "REQ-1"


def test_envelope_for_out_of_bounds_still_fails_as_validation_did():
    cause = Envelope(type="SealedIssuanceRequested", producer="nga-FR")
    with pytest.raises(ValidationError):
        envelope_for(REJECTED, key="K" * 101, producer="issuer", cause=cause)
    with pytest.raises(ValidationError):
        envelope_for(REJECTED, key="REQ-1", producer="", cause=cause)


async def test_r5_add_many_stores_the_callers_bodies_and_the_relay_publishes_them_in_order(service: Service):
    """A body serialised by the caller is stored as given; a missing one is serialised here; the
    relay publishes every row once, in order, and counts them per topic."""
    cause = Envelope(type="SealedIssuanceRequested", producer="nga-FR")
    rows = [
        ("t.answers", "REQ-1", envelope_for(REJECTED, key="REQ-1", producer="issuer", cause=cause), REJECTED),
        ("t.events", "REQ-2", envelope_for(REJECTED, key="REQ-2", producer="issuer", cause=cause), REJECTED),
        ("t.answers", "REQ-3", envelope_for(REJECTED, key="REQ-3", producer="issuer", cause=cause), REJECTED),
    ]
    given = REJECTED.model_dump_json().encode()
    async with service.pool.acquire() as conn, conn.transaction():
        await add_many(conn, rows, [given, None, given])
    sink = Sink()
    relay = OutboxRelay(service.pool, sink, service.schema, service.metrics)
    assert await relay.flush_once() == 3
    assert [(t, k) for t, k, _, _ in sink.published] == [
        ("t.answers", b"REQ-1"),
        ("t.events", b"REQ-2"),
        ("t.answers", b"REQ-3"),
    ]
    assert all(IssuanceRejected.model_validate_json(body) == REJECTED for _, _, body, _ in sink.published)
    assert [h["ce_id"] for _, _, _, h in sink.published] == [str(e.message_id) for _, _, e, _ in rows]
    value = service.registry.get_sample_value
    assert value("ata_outbox_published_total", {"topic": "t.answers"}) == 2
    assert value("ata_outbox_published_total", {"topic": "t.events"}) == 1
    assert await relay.flush_once() == 0  # deleted once published: nothing goes out twice


async def test_add_many_refuses_bodies_that_do_not_line_up(service: Service):
    env = Envelope(type=REJECTED.TYPE, producer="issuer")
    async with service.pool.acquire() as conn:
        with pytest.raises(ValueError, match="1 bodies for 2 rows"):
            await add_many(conn, [("t", "k", env, REJECTED), ("t", "k", env, REJECTED)], [b"{}"])
        with pytest.raises(ValueError, match="does not match"):
            await add_many(conn, [("t", "k", env, CarnetIssued.model_construct())])
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_an_issued_carnets_outbox_row_stays_inline_and_a_huge_one_still_fits(service: Service):
    """An issued carnet's event (~2.3 KB with its sealed document) is stored in the heap page, not
    compressed and moved to TOAST chunks (runtime/migrations/0002); a row far larger than a page
    is still stored, out of line, and read back whole."""
    env = Envelope(type=REJECTED.TYPE, producer="issuer")
    # random base64, as a sealed document's ciphertext is: nothing for PostgreSQL to compress
    body = b'{"x": "' + base64.urlsafe_b64encode(random.Random(1).randbytes(1700)) + b'"}'
    huge = b'{"x": "' + base64.urlsafe_b64encode(random.Random(2).randbytes(400_000)) + b'"}'
    async with service.pool.acquire() as conn:
        toast = await conn.fetchval("SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'outbox'::regclass")
        async with conn.transaction():
            await add_many(conn, [("t", "a", env, REJECTED)], [body])
        assert await conn.fetchval(f"SELECT count(*) FROM {toast}") == 0
        async with conn.transaction():
            await add_many(conn, [("t", "b", Envelope(type=REJECTED.TYPE, producer="issuer"), REJECTED)], [huge])
        assert await conn.fetchval(f"SELECT count(*) FROM {toast}") > 0
        stored = await conn.fetch("SELECT payload FROM outbox ORDER BY id")
    assert [bytes(r["payload"]) for r in stored] == [body, huge]
