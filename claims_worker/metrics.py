"""The claims worker's metrics: the watch list, claims by state and rule, deadlines and R27 fee flags."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class ClaimsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.transactions = Counter(
            "ata_claims_transactions_seen_total",
            "Transactions taken into the watch list.",
            ["decision"],
            registry=registry,
        ).labels
        self.watch_changes = Counter(
            "ata_claims_watch_changes_total",
            "Items added to or released from the watch list.",
            ["change"],
            registry=registry,
        ).labels
        self.transitions = Counter(
            "ata_claims_transitions_total",
            "Claim transitions, by state reached and rule.",
            ["to_state", "rule"],
            registry=registry,
        ).labels
        self.by_state = Gauge(
            "ata_claims_by_state", "Claims in each state (refreshed by the scheduler).", ["state"], registry=registry
        ).labels
        self.refused = Counter(
            "ata_claims_inputs_refused_total",
            "Customs or association inputs the rules refused.",
            ["action", "rule"],
            registry=registry,
        ).labels
        self.deadlines_acted = Counter(
            "ata_claims_deadlines_acted_total",
            "Deadlines acted on, by kind and outcome.",
            ["kind", "outcome"],
            registry=registry,
        ).labels
        self.deadlines_failed = Counter(
            "ata_claims_deadline_failures_total", "Failed attempts to act on a deadline.", ["kind"], registry=registry
        ).labels
        self.deadlines_due = Gauge("ata_claims_deadlines_due", "Deadlines due and not yet acted on.", registry=registry)
        # Alerted on (deploy/prometheus): a deadline close with nobody having acted yet is the last chance to act.
        self.deadlines_soon = Gauge(
            "ata_claims_deadlines_within_7d",
            "Pending deadlines (final re-export date, evidence, payment, refund window) lapsing "
            "within 7 days, by kind.",
            ["kind"],
            registry=registry,
        ).labels
        self.fee_flags = Counter(
            "ata_claims_regularization_fee_flags_total",
            "R27 regularization fees flagged, by what showed the departure was not validated.",
            ["source"],
            registry=registry,
        ).labels
        self.lag = Gauge(
            "ata_claims_scheduler_lag_seconds", "Age of the oldest due deadline not yet acted on.", registry=registry
        )
