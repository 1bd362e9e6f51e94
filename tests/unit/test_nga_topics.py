"""Per-NGA request topics: the topic names the sender, and a body naming another NGA is refused (rule 'sender')."""

from __future__ import annotations

import pytest

from contracts.topics import (
    ISSUANCE_REQUESTS,
    all_topic_partitions,
    issuance_requests,
    issuance_responses,
    nga_of_request_topic,
    nga_topics,
)
from issuer.domain import sender_reason


def test_each_nga_has_its_own_request_topic_named_like_its_response_topic():
    assert issuance_requests("FR").name == "ata.issuance.requests.fr.v1"
    assert issuance_responses("FR").name == "ata.issuance.responses.fr.v1"
    assert issuance_requests("FR").consumers == ("issuer",) and issuance_requests("FR").producers == ("nga",)
    assert issuance_requests("FR").messages == ISSUANCE_REQUESTS.messages


def test_the_topic_names_its_nga_back():
    for nga in ("FR", "BE", "GB"):
        assert nga_of_request_topic(issuance_requests(nga).name) == nga


@pytest.mark.parametrize(
    "name",
    [
        ISSUANCE_REQUESTS.name,
        "ata.issuance.requests.FR.v1",
        "ata.issuance.requests.fra.v1",
        "ata.issuance.requests.f1.v1",
        "ata.issuance.requests.fr.v2",
        "ata.issuance.requests.fr.v1.dlq",
        "ata.issuance.responses.fr.v1",
        "ata.issuance.requests.\u0131\u0131.v1",
        "ata.issuance.requests..v1",
        "",
        "x" * 10_000,
    ],
)
def test_anything_else_names_no_nga(name):
    assert nga_of_request_topic(name) is None


def test_topic_creation_includes_each_ngas_topics_and_the_request_topics_dead_letters():
    topics = all_topic_partitions(["FR", "BE"])
    for nga in ("FR", "BE"):
        assert topics[issuance_requests(nga).name] == 6 and topics[issuance_responses(nga).name] == 6
        assert topics[issuance_requests(nga).dead_letter] == 1
    assert issuance_responses("FR").dead_letter not in topics  # nobody here consumes the answers
    assert ISSUANCE_REQUESTS.name in topics  # the deprecated shared topic is still read
    assert set(all_topic_partitions()) < set(topics)
    assert [t.name for t in nga_topics(["BE"])] == ["ata.issuance.requests.be.v1", "ata.issuance.responses.be.v1"]


def test_a_body_naming_another_nga_than_its_topic_is_refused_with_rule_sender():
    reason = sender_reason("FR", "BE")
    assert reason is not None
    assert (reason.rule, reason.code, reason.field) == ("sender", "nga_mismatch", "nga")
    assert "FR" in reason.message and "BE" in reason.message


def test_the_own_nga_and_the_shared_topic_are_not_refused_by_the_sender_rule():
    assert sender_reason("FR", "FR") is None
    assert sender_reason(None, "BE") is None  # the shared topic binds nothing: deprecated, counted elsewhere
