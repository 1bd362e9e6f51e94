"""Issue 10 item 6: Kafka TLS and SASL come from the settings, and every Kafka client of a service uses them."""

from __future__ import annotations

import ssl

import pytest

from runtime.kafka_security import KafkaSecurityError, client_options, security
from runtime.settings import Settings
from tests.support.tls import make_ca_and_server


def settings(**kw):
    return Settings(kafka_bootstrap_servers="kafka-1:9093", **kw)


def test_plaintext_is_the_default_and_adds_nothing():
    assert security(settings()) is None
    assert client_options(settings()) == {}


def test_tls_verifies_the_brokers_against_the_given_ca_and_presents_a_client_certificate(tmp_path):
    files = make_ca_and_server(tmp_path)
    options = client_options(
        settings(
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=files["ca"],
            kafka_ssl_certfile=files["cert"],
            kafka_ssl_keyfile=files["key"],
        )
    )
    context = options["ssl_context"]
    assert options["security_protocol"] == "SSL"
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "ata test CA"),),)]


def test_sasl_scram_over_tls_carries_the_credentials():
    options = client_options(
        settings(
            kafka_security_protocol="SASL_SSL",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_username="core",
            kafka_sasl_password="s3cret-from-a-mounted-file",
        )
    )
    assert (
        options["security_protocol"],
        options["sasl_mechanism"],
        options["sasl_plain_username"],
        options["sasl_plain_password"],
    ) == ("SASL_SSL", "SCRAM-SHA-512", "core", "s3cret-from-a-mounted-file")
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sasl_without_credentials_and_missing_tls_files_refuse_to_start(tmp_path):
    with pytest.raises(KafkaSecurityError, match="SASL_PASSWORD"):
        security(settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="core"))
    with pytest.raises(KafkaSecurityError, match="cannot be loaded"):
        security(settings(kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "missing.pem"))


def test_the_password_is_a_secret_that_does_not_print():
    s = settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="core", kafka_sasl_password="hunter2-x")
    assert "hunter2-x" not in repr(s) and "hunter2-x" not in str(s.model_dump())


def test_every_kafka_client_of_a_service_gets_the_same_options(tmp_path):
    from customs_gateway.app import build
    from deploy.local.identity import ensure_wallet_issuer
    from tokens import trustlist

    anchor = tmp_path / "anchor.pem"
    trustlist.ensure_anchor(anchor)
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="gateway",
        kafka_sasl_password="pw-1",
        data_dir=tmp_path,
        trust_anchor_public_key_path=trustlist.public_path(anchor),
        wallet_issuer_public_key_path=ensure_wallet_issuer(tmp_path),
    )
    service = build(s)
    broker = service.broker._connection_kwargs  # what FastStream hands aiokafka when it connects
    assert service.kafka_options["sasl_plain_username"] == "gateway"
    assert service.observability.kafka_options is service.kafka_options
    assert (broker["security_protocol"], broker["sasl_mechanism"], broker["sasl_plain_username"]) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
        "gateway",
    )
