"""What the notifier's channel tests share: the webhook library's clock pinned to the test's, reading a metric."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.peers import clocked_standardwebhooks


@pytest.fixture
def hooks_clock(monkeypatch, clock):
    clocked_standardwebhooks(monkeypatch, clock)
    return clock


def sample(service: Any, name: str, **labels: str) -> float:
    return service.registry.get_sample_value(name, labels) or 0.0
