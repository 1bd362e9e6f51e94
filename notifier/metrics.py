"""The notifier's business metrics (deliveries, attempts, failures, latency, refused registrations)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from runtime.metrics import LATENCY_BUCKETS


class NotifierMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "ata_deliveries_total",
            "Deliveries ended, by channel and outcome (delivered, gone, rejected, exhausted).",
            ["channel", "outcome"],
            registry=registry,
        ).labels
        self.attempts = Counter(
            "ata_delivery_attempts_total",
            "Delivery attempts by channel and outcome.",
            ["channel", "outcome"],
            registry=registry,
        ).labels
        self.unreachable = Counter(
            "ata_confirmations_without_endpoint_total",
            "Confirmations for recipients with no registered endpoint.",
            registry=registry,
        )
        self.latency = Histogram(
            "ata_confirmation_latency_seconds",
            "Time from transaction recorded to confirmation delivered.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ).labels
        self.replayed = Counter(
            "ata_dead_letters_replayed_total",
            "Dead deliveries put back in the queue by an operator.",
            registry=registry,
        )
        self.failures = Counter(
            "ata_delivery_failures_total",
            "Failed delivery attempts by channel and category (timeout, refused, tls, dns, http_<status>, "
            "blocked_address, blocked_scheme, ...).",
            ["channel", "category"],
            registry=registry,
        ).labels
        self.endpoints_refused = Counter(
            "ata_endpoints_refused_total",
            "Webhook and push registrations refused, by category (blocked_scheme, blocked_url, "
            "blocked_address, dns, too_many_endpoints).",
            ["category"],
            registry=registry,
        ).labels
