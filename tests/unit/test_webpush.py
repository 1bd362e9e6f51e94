"""Web Push message building (notifier/webpush.py) checked by the tests' own RFC 8291 decryption and RFC 8292
VAPID verification (tests/support/peers.py), which are first checked against the RFC's published example."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from notifier import webpush
from notifier.domain import outcome, signing_secrets
from tests.support.peers import Subscription, check_vapid, decrypt, unb64u

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)

# RFC 8291 Appendix A.
RFC_UA_PRIVATE = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"
RFC_AUTH = "BTBZMqHH6r4Tts7J_aSIgg"
RFC_BODY = (
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqK"
    "K6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
)


@pytest.fixture
def vapid(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "vapid.pem"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return webpush.Vapid.load(path, "mailto:ops@ata.example")


def test_the_test_decryptor_opens_the_rfc_8291_example():
    ua = ec.derive_private_key(int.from_bytes(unb64u(RFC_UA_PRIVATE), "big"), ec.SECP256R1())
    assert decrypt(unb64u(RFC_BODY), ua, unb64u(RFC_AUTH)) == b"When I grow up, I want to be a watermelon"


def test_a_built_message_decrypts_with_the_subscription_key_and_carries_the_rfc_8030_headers(vapid):
    sub = Subscription("/wpush/x")
    keys = sub.keys()
    payload = json.dumps({"type": "transaction.committed", "data": {"carnet_number": "FR2600000010"}}).encode()
    headers, body = webpush.build_request(
        vapid,
        "https://push.example.net:8443/wpush/x",
        keys["p256dh"],
        keys["auth"],
        payload,
        now=NOW,
        ttl_s=3600,
        urgency="high",
        topic=webpush.topic_for("c1"),
    )
    assert decrypt(body, sub.private, sub.auth) == payload
    assert (headers["Content-Encoding"], headers["TTL"], headers["Urgency"]) == ("aes128gcm", "3600", "high")
    claims = check_vapid(headers["Authorization"], "https://push.example.net:8443", NOW)
    assert claims["exp"] == int((NOW + timedelta(hours=12)).timestamp())
    assert claims["sub"] == "mailto:ops@ata.example" and claims["k"] == vapid.application_server_key
    # Each message has its own ephemeral key and salt (RFC 8291 section 3.4).
    assert (
        webpush.build_request(
            vapid,
            "https://push.example.net:8443/wpush/x",
            keys["p256dh"],
            keys["auth"],
            payload,
            now=NOW,
            ttl_s=3600,
            urgency="high",
            topic="t",
        )[1]
        != body
    )


def test_vapid_jwt_for_another_origin_or_expired_is_refused_by_the_push_service(vapid):
    header = vapid.authorization("https://push.example.net/wpush/x", NOW)
    with pytest.raises(ValueError, match="aud"):
        check_vapid(header, "https://other.example", NOW)
    with pytest.raises(ValueError, match="exp"):
        check_vapid(header, "https://push.example.net", NOW + timedelta(hours=13))


@pytest.mark.parametrize(
    ("endpoint", "origin"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com"),
        ("https://push.example.net:443/a", "https://push.example.net"),
        ("http://127.0.0.1:8080/wpush/a?x=1", "http://127.0.0.1:8080"),
    ],
)
def test_audience_is_the_push_resource_origin(endpoint, origin):
    assert webpush.origin(endpoint) == origin


def test_topic_is_at_most_32_base64url_characters_and_stable():
    topic = webpush.topic_for("6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic)
    assert topic == webpush.topic_for("6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d") != webpush.topic_for("other")


def test_a_payload_that_cannot_fit_one_push_message_is_refused(vapid):
    keys = Subscription("/x").keys()
    with pytest.raises(webpush.PayloadTooLarge):
        webpush.build_request(
            vapid,
            "https://p.example/x",
            keys["p256dh"],
            keys["auth"],
            b"x" * 4000,
            now=NOW,
            ttl_s=60,
            urgency="normal",
            topic="t",
        )
    _, body = webpush.build_request(
        vapid,
        "https://p.example/x",
        keys["p256dh"],
        keys["auth"],
        b"x" * webpush.MAX_PLAINTEXT,
        now=NOW,
        ttl_s=60,
        urgency="normal",
        topic="t",
    )
    assert len(body) <= 4096


@pytest.mark.parametrize(
    ("p256dh", "auth"),
    [
        ("BAAA", "BTBZMqHH6r4Tts7J_aSIgg"),  # too short
        ("B" + "A" * 86, "BTBZMqHH6r4Tts7J_aSIgg"),  # 65 bytes but not on the curve
        (Subscription("/x").keys()["p256dh"], "AAAA"),  # auth not 16 bytes
    ],
)
def test_subscription_keys_are_checked(p256dh, auth):
    with pytest.raises(webpush.SubscriptionKeyError):
        webpush.check_subscription_keys(p256dh, auth)


def test_a_vapid_key_that_is_not_p256_is_refused(tmp_path):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "bad.pem"
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(webpush.VapidConfigError):
        webpush.Vapid.load(path, "mailto:ops@ata.example")
    with pytest.raises(webpush.VapidConfigError):
        webpush.Vapid.load(tmp_path / "missing.pem", "mailto:ops@ata.example")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (201, "delivered"),
        (404, "gone"),
        (410, "gone"),
        (413, "rejected"),
        (429, "retry"),
        (500, "retry"),
        (None, "retry"),
    ],
)
def test_push_service_answers(status, expected):
    assert outcome(status, "webpush") == expected


def test_the_previous_secret_signs_only_during_the_overlap():
    until = NOW + timedelta(hours=24)
    assert signing_secrets("whsec_new", "whsec_old", until, NOW) == ["whsec_new", "whsec_old"]
    assert signing_secrets("whsec_new", "whsec_old", until, until) == ["whsec_new"]
    assert signing_secrets("whsec_new", None, None, NOW) == ["whsec_new"]
