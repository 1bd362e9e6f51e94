"""The holder API's metrics: bearer tokens refused, shares and revocations, and requests answered 404."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from tokens.wallet_auth import REASONS


class HolderMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        failures = Counter(
            "ata_holder_auth_failures_total",
            "Holder API requests refused for their bearer token, by reason.",
            ["reason"],
            registry=registry,
        )
        for reason in REASONS:
            failures.labels(reason)  # every series exists from the start, so rate() sees the first failure
        self.auth_failures = failures.labels
        self.shares = Counter(
            "ata_holder_shares_total",
            "Share and revoke requests by action and outcome.",
            ["action", "outcome"],
            registry=registry,
        ).labels
        self.not_found = Counter(
            "ata_holder_not_found_total",
            "Authenticated requests answered 404: unknown, or not the caller's carnet.",
            ["route"],
            registry=registry,
        ).labels
