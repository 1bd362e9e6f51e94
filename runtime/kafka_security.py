"""Kafka TLS and SASL from settings, for the FastStream broker and every aiokafka client a service opens.

The embedded stack speaks PLAINTEXT; a production cluster wants TLS (`SSL`, with a client
certificate for mTLS) or SASL over TLS (`SASL_SSL` with SCRAM). One function turns the settings
into FastStream's security object, and FastStream's own `parse_security` turns that into the
keyword arguments aiokafka clients take, so the broker, the topic admin and the lag probe can
never disagree on how they connect.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from faststream.security import BaseSecurity

    from runtime.settings import Settings


class KafkaSecurityError(ValueError):
    """The settings ask for something that cannot connect (SASL without credentials, a TLS file missing)."""


def _ssl_context(settings: Settings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise KafkaSecurityError(f"Kafka TLS files cannot be loaded: {exc}") from exc
    return context


def security(settings: Settings) -> BaseSecurity | None:
    from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = _ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=context, use_ssl=True)
    if not settings.kafka_sasl_username or settings.kafka_sasl_password is None:
        raise KafkaSecurityError(f"{protocol} needs ATA_KAFKA_SASL_USERNAME and ATA_KAFKA_SASL_PASSWORD")
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
    return kind[settings.kafka_sasl_mechanism](
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def client_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaConsumer / AIOKafkaProducer / AIOKafkaAdminClient."""
    from faststream.kafka.security import parse_security

    return parse_security(security(settings))
