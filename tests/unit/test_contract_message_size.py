"""Bounds agree with transport: the largest valid message of every type fits one Kafka record.

For every registered message type, the largest instance its bounds admit (tests/support/bounds.py:
strings at maximum length in the widest UTF-8 character their pattern allows, lists and maps full,
numbers at their upper bound, optional fields present) is serialised as the outbox sends it
(`model_dump_json`), wrapped in its CloudEvents headers and key, and must stay at least 10 % under
`Settings().kafka_max_message_bytes`: the margin leaves room for a dead-letter record's own headers.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from contracts.catalogue import MESSAGE_TYPES
from contracts.envelope import TEXT_MAX, Envelope
from contracts.messages import Payload
from runtime.settings import Settings
from tests.support.bounds import FILLERS, WIDEST_INSTANT, largest

MARGIN = 0.10
#: Kafka's record-batch header (61 bytes) and a record's own varints and attributes, rounded up.
RECORD_OVERHEAD = 512


def record_bytes(model: type[Payload]) -> tuple[int, int]:
    """(whole record, payload) in bytes for the largest `model` message as it is sent."""
    payload = model.model_validate(largest(model))
    body = payload.model_dump_json().encode()
    envelope = Envelope(
        type=model.TYPE,
        schema_version=model.VERSION,
        producer="Z" * TEXT_MAX,
        subject=FILLERS[0] * TEXT_MAX,
        occurred_at=WIDEST_INSTANT,
        causation_id=UUID(int=2**128 - 1),
    )
    headers = sum(len(k.encode()) + len(v.encode()) for k, v in envelope.to_headers().items())
    key = len((FILLERS[0] * TEXT_MAX).encode())  # keys are carnet numbers or request ids, at most a subject
    return body.__len__() + headers + key + RECORD_OVERHEAD, len(body)


@pytest.mark.parametrize("model", sorted(MESSAGE_TYPES.values(), key=lambda m: m.TYPE), ids=lambda m: m.TYPE)
def test_the_largest_valid_message_fits_one_record_with_margin(model: type[Payload]) -> None:
    limit = Settings().kafka_max_message_bytes
    total, body = record_bytes(model)
    assert total <= limit * (1 - MARGIN), (
        f"the largest {model.TYPE} is {total} bytes ({body} of payload), over {1 - MARGIN:.0%} of the "
        f"{limit}-byte record limit: lower its bounds in contracts/bounds.py"
    )


def test_the_largest_instance_is_really_the_largest() -> None:
    """The builder fills what the bounds allow: one more list element or character would be refused."""
    from pydantic import ValidationError

    from contracts.messages import SealedIssuanceRequested

    value = largest(SealedIssuanceRequested)
    SealedIssuanceRequested.model_validate(value)
    over = dict(value, items=value["items"] + value["items"][:1])
    with pytest.raises(ValidationError):
        SealedIssuanceRequested.model_validate(over)
    over = dict(value, request_id=value["request_id"] + "Z")
    with pytest.raises(ValidationError):
        SealedIssuanceRequested.model_validate(over)


def test_the_check_fails_for_a_bound_that_does_not_fit() -> None:
    """The test can fail: with 9,999 general-list lines (the bound before) a sealed request no longer fits."""
    from pydantic import Field

    from contracts import messages as m

    class Wider(m.SealedIssuanceRequested):
        items: list[m.SealedItem] = Field(min_length=1, max_length=9999)

    total, _ = record_bytes(Wider)
    assert total > Settings().kafka_max_message_bytes * (1 - MARGIN)
