"""What every use case of the core shares: its metrics, clock, token lifetime, country policy and signing key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from core.domain import PolicyBook
from runtime.clock import Clock
from tokens.cose import SigningKey

PolicySource = Callable[[], PolicyBook]

PRODUCER = "core"
#: Seconds: a minute at the desk up to the token's 72 hours at the border.
DECISION_BUCKETS = (10, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 24 * 3600, 48 * 3600, 72 * 3600)


class CoreMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.carnets = Counter(
            "ata_core_carnets_recorded_total", "Issued carnets taken into the ledger.", registry=registry
        )
        self.declarations = Counter(
            "ata_declarations_total",
            "Declarations by kind, country and outcome.",
            ["kind", "country", "outcome"],
            registry=registry,
        ).labels
        self.transactions = Counter(
            "ata_transactions_recorded_total",
            "Customs decisions recorded, by kind, country and decision.",
            ["kind", "country", "decision"],
            registry=registry,
        ).labels
        self.number_collisions = Counter(
            "ata_carnet_number_collisions_total",
            "Issued carnets whose number was already used by another request (R1).",
            registry=registry,
        )
        self.ignored_commits = Counter(
            "ata_commits_ignored_total", "Commits for declarations already decided.", registry=registry
        )
        self.signing_key_retired = Gauge(
            "ata_core_signing_key_retired",
            "1 while this instance signs with a key another instance retired.",
            registry=registry,
        )
        self.cancellations = Counter(
            "ata_cancellations_total",
            "Cancellations of committed transactions, by outcome (cancelled or the refusal code).",
            ["outcome"],
            registry=registry,
        ).labels
        # From the holder's declaration (token issued) to the customs decision recorded in the ledger: how long
        # goods wait between declaring and crossing; hours are normal (the token lives ATA_TOKEN_TTL_HOURS).
        self.declaration_to_decision = Histogram(
            "ata_declaration_to_decision_seconds",
            "Time from a declaration's submission to the customs decision recorded.",
            ["kind", "decision"],
            buckets=DECISION_BUCKETS,
            registry=registry,
        ).labels
        # R6: an NGA's replacement whose times the ledger's clock contradicts (an NGA clock or a replay): alerted on.
        self.r6_timestamps_refused = Counter(
            "ata_r6_timestamps_refused_total",
            "Replacements refused because their times contradict the ledger's clock.",
            ["code"],
            registry=registry,
        ).labels
        self.lifecycle = Counter(
            "ata_carnet_lifecycle_total",
            "Duplicates, replacements, duty receipts and closures, by outcome.",
            ["event", "outcome"],
            registry=registry,
        ).labels


@dataclass
class Ledger:
    """The dependencies of the core's use cases. `signing_key` is the key tokens are signed with now
    (None until start-up published one); keys.py changes it when the key rotates."""

    metrics: CoreMetrics
    clock: Clock
    token_ttl: timedelta
    policy: PolicySource
    anchor: Callable[[], SigningKey]
    signing_key: SigningKey | None = None
