"""The injected clock: every service, handler and use case asks it for "now" (tests move it by hand)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: Answers the current time, timezone-aware.
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)
