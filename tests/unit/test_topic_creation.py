"""runtime.broker.ensure_topics on a cluster with ACLs: a service's principal has no Create right
(deploy/k8s/base/kafka-users.yaml), so "not authorized" is the operator's topic, not a failed start; any other
error still stops the service."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest

from runtime import broker


def fake_admin(codes: dict[str, int]) -> type:
    class Admin:
        def __init__(self, **_: Any) -> None:
            pass

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

        async def create_topics(self, new: list[Any]) -> Any:
            return SimpleNamespace(topic_errors=[(t.name, codes[t.name], None) for t in new])

    return Admin


async def test_topics_the_principal_may_not_create_are_left_to_the_operator(monkeypatch, caplog):
    codes = {"a": 0, "b": broker.TOPIC_ALREADY_EXISTS, "c": broker.TOPIC_AUTHORIZATION_FAILED}
    monkeypatch.setattr(broker, "AIOKafkaAdminClient", fake_admin(codes))
    caplog.set_level(logging.WARNING, logger="runtime.broker")
    assert await broker.ensure_topics("127.0.0.1:1", {"a": 1, "b": 1, "c": 1}) == ["a"]
    assert any("not authorized to create 1 topics (c" in r.getMessage() for r in caplog.records)


async def test_any_other_error_stops_the_start(monkeypatch):
    monkeypatch.setattr(broker, "AIOKafkaAdminClient", fake_admin({"a": 37}))  # INVALID_PARTITIONS
    with pytest.raises(RuntimeError, match="cannot create topic a: error 37"):
        await broker.ensure_topics("127.0.0.1:1", {"a": 1})
