"""Webhook signing (Standard Webhooks), the retry schedule and attempt outcomes. Pure: no I/O."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from deploy.local.webhook_receiver import verified
from notifier.domain import (
    RETRY_SCHEDULE,
    headers,
    new_secret,
    next_delay,
    outcome,
)
from tests.support.peers import clocked_standardwebhooks

# The published test vector of the Standard Webhooks specification.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.fixture
def at(monkeypatch):
    """Moves the receiver's clock (the `standardwebhooks` package reads `datetime.now`) to TIMESTAMP + offset."""

    def move(offset_s: int) -> None:
        now = datetime.fromtimestamp(TIMESTAMP + offset_s, tz=UTC)
        clocked_standardwebhooks(monkeypatch, lambda: now)

    move(0)
    return move


def test_headers_carry_id_timestamp_and_the_standard_webhooks_test_vector():
    h = headers([SECRET], MSG_ID, TIMESTAMP, BODY)
    assert h == {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": SIGNATURE,
        "content-type": "application/json",
    }


@pytest.mark.parametrize("offset", [0, 300, -300])
def test_the_reference_verifier_accepts_our_headers_within_its_tolerance(at, offset):
    at(offset)
    assert verified(SECRET, headers([SECRET], MSG_ID, TIMESTAMP, BODY), BODY)


@pytest.mark.parametrize("offset", [301, -301])
def test_the_reference_verifier_refuses_outside_its_tolerance(at, offset):
    at(offset)
    assert not verified(SECRET, headers([SECRET], MSG_ID, TIMESTAMP, BODY), BODY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b'{"test": 2432232315}'),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(TIMESTAMP + 1)}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,AAAA" + SIGNATURE[7:]}, b),
        lambda h, b: ({**h, "webhook-signature": "g0hM9SsE"}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,not base64!"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b),
        lambda h, b: ({**h, "webhook-timestamp": "soon"}, b),
    ],
)
def test_tampering_does_not_verify(at, tamper):
    h, b = tamper(headers([SECRET], MSG_ID, TIMESTAMP, BODY), BODY)
    assert not verified(SECRET, h, b)


def test_another_secret_does_not_verify(at):
    assert not verified(new_secret(), headers([SECRET], MSG_ID, TIMESTAMP, BODY), BODY)


def test_two_signatures_during_rotation_verify_with_either_secret(at):
    old, new = SECRET, new_secret()
    h = headers([old, new], MSG_ID, TIMESTAMP, BODY)
    assert len(h["webhook-signature"].split(" ")) == 2
    assert h["webhook-signature"].split(" ")[0] == SIGNATURE
    assert verified(old, h, BODY)
    assert verified(new, h, BODY)
    assert not verified(new_secret(), h, BODY)


def test_new_secret_is_prefixed_and_usable(at):
    s = new_secret()
    assert s.startswith("whsec_") and s != new_secret()
    assert verified(s, headers([s], "msg_1", TIMESTAMP, b"{}"), b"{}")


def test_a_secret_without_prefix_is_refused():
    with pytest.raises(ValueError):
        headers(["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], MSG_ID, TIMESTAMP, BODY)


class _Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_retry_schedule_is_the_standard_webhooks_one():
    assert RETRY_SCHEDULE == (
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    )


@pytest.mark.parametrize("attempts", range(1, 8))
def test_next_delay_follows_the_schedule_with_ten_percent_jitter(attempts):
    base = RETRY_SCHEDULE[attempts - 1]
    assert next_delay(attempts, _Fixed(0.0)) == base * 0.9
    assert next_delay(attempts, _Fixed(0.5)) == base
    assert next_delay(attempts, _Fixed(0.999999)) < base * 1.1
    rng = random.Random(attempts)
    for _ in range(200):
        delay = next_delay(attempts, rng)
        assert base * 0.9 <= delay <= base * 1.1


def test_next_delay_jitter_actually_varies():
    rng = random.Random(7)
    assert len({next_delay(1, rng) for _ in range(20)}) > 1


@pytest.mark.parametrize("attempts", [0, -1, 8, 9, 100])
def test_next_delay_is_none_outside_the_schedule(attempts):
    assert next_delay(attempts) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (299, "delivered"),
        (410, "gone"),
        (500, "retry"),
        (None, "retry"),
        (301, "retry"),
        (401, "retry"),
        (404, "retry"),
        (429, "retry"),
        (199, "retry"),
    ],
)
def test_outcome(status, expected):
    assert outcome(status) == expected
