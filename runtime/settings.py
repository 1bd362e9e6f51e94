"""Settings from environment variables (pydantic-settings); one class for every service."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

#: HTTP port of each service on the embedded stack; ATA_HTTP_PORT overrides for one process.
DEFAULT_PORTS = {
    "issuer": 8101,
    "core": 8102,
    "customs_gateway": 8103,
    "claims_worker": 8104,
    "notifier": 8105,
}
EMBEDDED_KAFKA = "127.0.0.1:29092"
EMBEDDED_DATABASE = "postgresql://postgres@127.0.0.1:55432/ata"
#: The default of ATA_KAFKA_MAX_MESSAGE_BYTES (1 MiB, about Apache Kafka's default max.message.bytes).
MAX_MESSAGE_BYTES = 1_048_576


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ATA_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        EMBEDDED_KAFKA,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "ATA_KAFKA_BOOTSTRAP_SERVERS"),
        description="Kafka bootstrap servers, comma-separated.",
    )
    database_url: str = Field(
        EMBEDDED_DATABASE,
        validation_alias=AliasChoices("DATABASE_URL", "ATA_DATABASE_URL"),
        description="PostgreSQL DSN; each service uses its own schema in this database.",
    )
    broker: Literal["embedded", "kafka", "kafka-cluster"] = Field(
        "kafka",
        description=(
            "Which broker the Kafka clients talk to (runtime/broker_kind.py): `kafka` (Apache Kafka; production, the "
            "default) and `kafka-cluster` (three or more nodes: topics replicated 3 ways, min.insync.replicas 2) get "
            "idempotent producers and per-topic limits; `embedded` (tansu, the local stack's default) gets the "
            "workarounds its quirks need. The local stack, the tests and the benchmark start the broker it names."
        ),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How every Kafka client connects: PLAINTEXT (embedded stack), SSL (TLS, mTLS with a "
        "client certificate), SASL_SSL (SASL over TLS), SASL_PLAINTEXT (tests only).",
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism, for the SASL_* protocols."
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user, for the SASL_* protocols.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password, for the SASL_* protocols.")
    kafka_ssl_cafile: Path | None = Field(
        None, description="PEM CA bundle the brokers' certificates chain to (default: the system's trust store)."
    )
    kafka_ssl_certfile: Path | None = Field(None, description="PEM client certificate, for mTLS.")
    kafka_ssl_keyfile: Path | None = Field(None, description="PEM private key of the client certificate, for mTLS.")
    kafka_fetch_max_wait_ms: int = Field(
        50,
        ge=1,
        le=5000,
        description=(
            "Longest a consumer's fetch waits for data. The embedded broker answers only when the wait runs out, so "
            "this bounds each hop's latency; Apache Kafka answers as data arrives, so a larger value costs nothing there."
        ),
    )
    kafka_fetch_idle_wait_ms: int = Field(
        250,
        ge=1,
        le=5000,
        description=(
            "Fetch wait of a consumer that has nothing to read (runtime/consume_loop.py): after "
            "ATA_KAFKA_FETCH_IDLE_AFTER empty fetches in a row it waits this long, and goes back to "
            "ATA_KAFKA_FETCH_MAX_WAIT_MS on its first record. Saves the idle fetches' CPU; the first message after an "
            "idle spell may wait this long at each idle hop. At or below ATA_KAFKA_FETCH_MAX_WAIT_MS: off."
        ),
    )
    kafka_fetch_idle_after: int = Field(
        20,
        ge=1,
        description=(
            "Empty fetches in a row after which a consumer counts as idle (20 x 50 ms: one second without a record)."
        ),
    )
    kafka_max_message_bytes: int = Field(
        MAX_MESSAGE_BYTES,
        ge=65_536,
        le=16_777_216,
        description=(
            "Largest record a producer sends and a consumer must be able to fetch, in bytes; equal to the "
            "max.message.bytes deploy/ gives Apache Kafka's topics. Contract bounds are tested to fit under it."
        ),
    )
    kafka_create_topics: bool = Field(
        True,
        description=(
            "Create missing topics at start (replication factor 1, all the embedded broker has). false where "
            "topics are managed outside (Strimzi KafkaTopic resources): then the services need no admin rights."
        ),
    )
    http_host: str = Field("127.0.0.1", description="Address the service's HTTP server binds.")
    http_port: int | None = Field(None, description="HTTP port; default per service (8101-8105).")
    db_pool_min: int = Field(1, ge=1, description="Minimum PostgreSQL connections per service.")
    db_pool_max: int = Field(8, ge=1, description="Maximum PostgreSQL connections per service.")
    outbox_batch: int = Field(500, ge=1, description="Outbox rows the relay publishes per transaction.")
    outbox_poll_s: float = Field(1.0, gt=0, description="Relay poll interval when no NOTIFY arrives.")
    data_dir: Path = Field(Path("var"), description="Directory for keys and local state.")
    log_level: str = Field("INFO", description="Python log level.")
    signing_key_check_s: float = Field(
        15.0,
        gt=0,
        description=("Core: how often an instance checks whether another instance rotated the shared signing key."),
    )
    signing_key_path: Path | None = Field(
        None,
        description="Core: PEM file of the token signing key (created if missing); default <data_dir>/keys/core-signing.pem.",
    )
    token_ttl_hours: int = Field(72, ge=1, description="Core: how long a declaration token may be scanned.")
    trust_anchor_key_path: Path | None = Field(
        None,
        description="Core: PEM file of the trust anchor's private key, which signs the trust list; "
        "default <data_dir>/keys/trust-anchor.pem (created if missing, public half beside it).",
    )
    trust_anchor_public_key_path: Path | None = Field(
        None,
        description="Gateway: PEM file of the trust anchor's public key; only lists it signed are trusted. "
        "The gateway refuses to start without it.",
    )
    wallet_issuer_public_key_path: Path | None = Field(
        None,
        description="Core and notifier: PEM file of the wallet identity provider's P-256 public key, which signs "
        "the holders' bearer tokens (ES256 JWT); both refuse to start without it.",
    )
    wallet_audience: str = Field(
        "ata-core", min_length=1, description="Core: the `aud` the holders' bearer tokens must carry."
    )
    gateway_admin_token: SecretStr | None = Field(
        None,
        description="Gateway: bearer token of the administration API (offices, officer accounts, audit log); "
        "unset, the administration endpoints answer 503.",
    )
    core_customs_token: SecretStr | None = Field(
        None,
        description="Core and gateway: the bearer token a customs gateway presents when it asks the core for "
        "the declaration an officer typed the transaction code of; unset, typed codes answer 503.",
    )
    gateway_core_url: str | None = Field(
        None,
        max_length=500,
        pattern=r"^https?://[^\s<>\"']+$",
        description=(
            "Gateway: the core's base URL, asked for a declaration when an officer types its transaction code "
            "(the rare fallback of a scan); unset, typed codes answer 503."
        ),
    )
    gateway_cache_refresh_s: float = Field(
        15.0,
        gt=0,
        description=(
            "Gateway: how often each instance reloads trust keys, blocked carnets and replaced items from its tables."
        ),
    )
    nga_registry_path: Path | None = Field(
        None,
        description="Issuer: JSON seed file of the NGAs, their issuing associations, status and API key hashes "
        "(read at start); default the bundled issuer/registry.json.",
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Notifier: timeout of one webhook attempt.")
    delivery_max_attempts: int = Field(8, ge=1, description="Notifier: attempts before a delivery is dead-lettered.")
    notifier_audience: str = Field(
        "ata-notifier",
        min_length=1,
        description=("Notifier: the `aud` the wallet bearer tokens of its recipient API must carry."),
    )
    notifier_admin_token: SecretStr | None = Field(
        None,
        description=(
            "Notifier: bearer token of the operator API (every delivery log, dead letters); unset, it answers 403."
        ),
    )
    vapid_private_key_path: Path | None = Field(
        None,
        description=(
            "Notifier: PEM file of the VAPID P-256 private key Web Push requests are signed with (RFC 8292); "
            "unset, Web Push is off (subscriptions answer 503)."
        ),
    )
    vapid_subject: str = Field(
        "mailto:operations@ata-carnets.example",
        pattern=r"^(mailto:|https:)",
        description=("Notifier: the VAPID `sub` claim, a contact for push services."),
    )
    webpush_ttl_s: int = Field(
        86400,
        ge=0,
        le=2419200,
        description=("Notifier: TTL header of push messages, how long a push service keeps one for an offline device."),
    )
    notifier_allow_loopback_http: bool = Field(
        False,
        description=(
            "Notifier, development only: accept plain http endpoints and loopback addresses (the embedded stack's local "
            "receiver). Off, endpoints must be https and resolve only to public addresses (notifier/egress.py)."
        ),
    )
    notifier_max_endpoints: int = Field(
        10,
        ge=1,
        le=100,
        description=("Notifier: active webhooks and push subscriptions one recipient may have at a time."),
    )
    webhook_secret_overlap_h: float = Field(
        24.0, ge=0, description=("Notifier: hours the previous webhook secret keeps signing after a rotation.")
    )
    claims_poll_s: float = Field(
        30.0, gt=0, description="Claims worker: seconds between two passes of the deadline scheduler."
    )
    wallet_sign_in_url: str | None = Field(
        None,
        max_length=500,
        pattern=r"^https?://[^\s<>\"']+$",
        description=(
            "Core: where the holder's wallet page sends the holder to sign in (the wallet identity provider's authorize "
            "URL; it redirects back to /wallet/ with the bearer token in the fragment). Unset, the page cannot sign in."
        ),
    )
    wallet_notifier_url: str | None = Field(
        None,
        max_length=500,
        pattern=r"^https?://[^\s<>\"'/]+$",
        description=(
            "Core: the notifier's public origin, which the wallet page subscribes to Web Push with; unset, no push."
        ),
    )
    wallet_origins: str = Field(
        "",
        max_length=2000,
        description=(
            "Notifier: comma-separated origins of wallet pages allowed to call the recipient API from a browser (CORS); "
            "empty, none."
        ),
    )

    def anchor_key_path(self) -> Path:
        return self.trust_anchor_key_path or self.data_dir / "keys" / "trust-anchor.pem"

    def port_for(self, service: str) -> int:
        return self.http_port or DEFAULT_PORTS[service]
