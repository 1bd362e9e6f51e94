"""Metrics every service exposes, on the service's own registry (no global state)."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter as Counter_
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class RuntimeMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        labels = {"service": service}
        self.handled = Counter(
            "ata_messages_handled_total",
            "Messages handled by consumers, by topic, type and outcome.",
            ["topic", "type", "outcome"],
            registry=registry,
        ).labels
        self.handle_seconds = Histogram(
            "ata_message_handle_seconds",
            "Time to handle one message, transaction included.",
            ["topic"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ).labels
        self.batch_size = Histogram(
            "ata_consume_batch_size",
            "Messages handled together in one database transaction.",
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
            registry=registry,
        )
        self.consume_lag = Histogram(
            "ata_consume_lag_seconds",
            "From a record's Kafka timestamp (produced) to its handling here.",
            ["topic"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ).labels
        self.outbox_delay = Histogram(
            "ata_outbox_delay_seconds",
            "From the transaction that queued an outbox row to its publication acknowledged.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.dead_letters = Counter(
            "ata_dead_letters_total",
            "Messages sent to a dead-letter topic, by source topic and reason kind.",
            ["topic", "reason"],
            registry=registry,
        ).labels
        self.deprecated_envelopes = Counter(
            "ata_deprecated_envelopes_total",
            "Messages read in a deprecated envelope form (a short ce_type, no "
            "ce_specversion), by topic: at zero everywhere, the deprecation can end.",
            ["topic"],
            registry=registry,
        ).labels
        self.dead_letter_references = Counter(
            "ata_dead_letter_references_total",
            "Dead letters sent as a reference (no payload: too large for a whole "
            "dead letter, or refused by Kafka; outcome=reference), or refused even so (outcome=refused), by source topic.",
            ["topic", "outcome"],
            registry=registry,
        ).labels
        self.outbox_published = Counter(
            "ata_outbox_published_total",
            "Outbox rows published to Kafka.",
            ["topic"],
            registry=registry,
        ).labels
        self.outbox_direct = Counter(
            "ata_outbox_direct_total",
            "Outbox rows published straight after their transaction committed (outcome=published), or left to the "
            "relay's take because that publish failed (outcome=left).",
            ["outcome"],
            registry=registry,
        ).labels
        self.outbox_parked = Counter(
            "ata_outbox_parked",
            "Outbox rows Kafka refused for good (too large, invalid topic), moved to "
            "outbox_parked with the reason instead of published.",
            ["topic"],
            registry=registry,
        ).labels
        self.outbox_parked_rows = Gauge(
            "ata_outbox_parked_rows",
            "Rows in outbox_parked: refused messages an operator must decide about.",
            registry=registry,
        )
        self.outbox_backlog = Gauge(
            "ata_outbox_backlog",
            "Outbox rows not yet published.",
            registry=registry,
        )
        self.outbox_oldest_age = Gauge(
            "ata_outbox_oldest_age_seconds",
            "Age of the oldest unpublished outbox row.",
            registry=registry,
        )
        self.fetch_wait_switches = Counter(
            "ata_consumer_fetch_wait_switches_total",
            "Times the consumer's fetch wait went to idle or back to busy (runtime/consume_loop.py).",
            ["to"],
            registry=registry,
        )
        self.info = Gauge(
            "ata_service_info", "Always 1; labels say which service this is.", list(labels), registry=registry
        )
        self.info.labels(**labels).set(1)


def observe_many(histogram: Histogram, values: Iterable[float]) -> None:
    """`histogram.observe(v)` for every v, with one increment per bucket instead of one per value.

    A batch of 250 records made ~1,000 single observations in the issuer (lag, handling time,
    outbox delay), each a lock and a bucket walk: ~4 % of its CPU under bulk issuance
    (bench/README.md, round 3). Same samples as observing one by one (test); falls back to that
    if prometheus_client's histogram internals ever change shape."""
    bounds, buckets, total = (getattr(histogram, a, None) for a in ("_upper_bounds", "_buckets", "_sum"))
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for v in values:
            histogram.observe(v)
        return
    counts: Counter_[int] = Counter_()
    amount = 0.0
    for v in values:
        amount += v
        if v == v:  # NaN falls in no bucket in observe(), only in the sum
            counts[bisect_left(bounds, v)] += 1  # the first bucket whose bound is >= v, as observe() picks
    if not counts and amount == 0:
        return
    total.inc(amount)
    for i, n in counts.items():
        buckets[i].inc(n)
