"""The customs gateway's metrics: one registry per service, built with it."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from runtime.metrics import LATENCY_BUCKETS


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.verifications = Counter(
            "ata_token_verifications_total", "Token verifications by outcome.", ["outcome"], registry=registry
        ).labels
        self.commits = Counter(
            "ata_customs_commits_total",
            "Customs decisions posted, by kind, country and decision.",
            ["kind", "country", "decision"],
            registry=registry,
        ).labels
        self.trust_lists = Counter(
            "ata_trust_lists_total", "Trust lists received, by outcome.", ["outcome"], registry=registry
        ).labels
        self.logins = Counter(
            "ata_officer_logins", "Officer logins, by outcome.", ["outcome"], registry=registry
        ).labels
        self.purged = Counter(
            "ata_gateway_purged_rows_total",
            "Rows the gateway's periodic purge deleted: expired "
            "sessions, forgotten login counts, old code lookups and addresses.",
            ["table"],
            registry=registry,
        ).labels
        self.login_throttled = Counter(
            "ata_officer_login_throttled_total",
            "Officer logins answered 429 without "
            "checking the password, by the key that waits: pair (officer and address), "
            "address, account.",
            ["key"],
            registry=registry,
        ).labels
        self.code_lookups = Counter(
            "ata_code_lookups_total", "Typed transaction-code lookups, by outcome.", ["outcome"], registry=registry
        ).labels
        self.bulk_items = Counter(
            "ata_bulk_commit_items_total",
            "Items of bulk commits (POST /v1/commits/batch), by "
            "outcome: accepted, or the single route's refusal reason (replayed, wrong_country, "
            "...); 'error' is an item the database refused.",
            ["outcome"],
            registry=registry,
        ).labels
        self.cancellations = Counter(
            "ata_cancellations_asked_total",
            "Cancellations asked by officers, by outcome at the gateway and then at the core.",
            ["outcome"],
            registry=registry,
        ).labels
        self.cache = Counter(
            "ata_gateway_cache_lookups_total",
            "Lookups in the gateway's in-memory caches of immutable or short-lived rows, by cache and outcome.",
            ["cache", "outcome"],
            registry=registry,
        ).labels
        self.verify_seconds = Histogram(
            "ata_token_verify_seconds", "Time to verify one token.", buckets=LATENCY_BUCKETS, registry=registry
        )
        self.qr_images = Counter(
            "ata_qr_images_total",
            "Photos of QR codes sent by officers, by what read them: "
            "'0' the photo as sent, '1'-'7' a fallback pass, 'none' no code found, 'unreadable' "
            "not a PNG or JPEG.",
            ["read_by"],
            registry=registry,
        ).labels
        self.qr_seconds = Histogram(
            "ata_qr_image_read_seconds",
            "Time to read the QR code of one uploaded photo (image decoding and every pass it took).",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
