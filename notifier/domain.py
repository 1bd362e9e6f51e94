"""Webhook signing (Standard Webhooks, through the `standardwebhooks` package) and the retry schedule.
Pure: no I/O imports."""

from __future__ import annotations

import base64
import random
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
#: The Standard Webhooks retry schedule after the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _webhook(secret: str) -> Webhook:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secrets start with whsec_")
    return Webhook(secret)


def headers(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers, each signature made by the `standardwebhooks` package; one signature per
    secret, space-separated as the specification allows, so a rotation can overlap."""
    at = datetime.fromtimestamp(timestamp, tz=UTC)
    text = body.decode()  # the library signs text; our bodies are UTF-8 JSON, so the bytes are the same
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(_webhook(s).sign(msg_id, at, text) for s in secrets_),
        "content-type": "application/json",
    }


def next_delay(attempts_made: int, rng: random.Random | None = None) -> timedelta | None:
    """Delay before the next attempt, with +-10% jitter; None once the schedule is exhausted."""
    if attempts_made < 1 or attempts_made > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts_made - 1]
    return base * (0.9 + 0.2 * (rng or random).random())


def outcome(status_code: int | None, channel: str = "webhook") -> str:
    """'delivered', 'gone' (disable the endpoint), 'rejected' (this message can never be taken) or 'retry'.

    Webhooks: 410 is the Standard Webhooks "stop sending"; anything else not 2xx is retried.
    Web Push (RFC 8030 8.3): 404 or 410 means the subscription expired or was removed; 413 the
    payload is too large, which no retry changes.
    """
    if status_code is not None and 200 <= status_code < 300:
        return "delivered"
    if status_code == 410 or (channel == "webpush" and status_code == 404):
        return "gone"
    if channel == "webpush" and status_code == 413:
        return "rejected"
    return "retry"


def signing_secrets(secret: str, previous: str | None, previous_until: datetime | None, at: datetime) -> list[str]:
    """The current secret, and the previous one while the rotation overlap lasts (both signatures sent)."""
    if previous and previous_until is not None and at < previous_until:
        return [secret, previous]
    return [secret]


def is_transaction(event_type: str) -> bool:
    """Confirmations of a customs decision (their latency from `recorded_at` is measured)."""
    return event_type.startswith("transaction.")
