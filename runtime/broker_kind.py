"""What the Kafka clients do differently on the embedded broker (tansu) and on Apache Kafka (ATA_BROKER).

Production runs Apache Kafka: idempotent producers with acks=all (a retried produce is written once), topics
created with the replication and the per-topic limits deploy/ gives them, and fetches that wait as long as
they like because the broker answers the moment data arrives.

The embedded broker needs three workarounds, applied only there: it refuses InitProducerId (no idempotent
producer); it ignores topic configs (none are sent); and it answers a fetch only when the fetch's wait runs out,
so consumers wait `kafka_fetch_max_wait_ms` (50 ms, each hop's latency) and back off while idle
(runtime/consume_loop.py). Consumers start new groups from `earliest` on both: on tansu because its end offsets
are wrong, on Apache Kafka because a group that joins after a record was published must still read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from runtime.settings import Settings

#: Retention on Apache Kafka. The durable records are PostgreSQL's (outbox, inbox); a topic only has to hold what a
#: consumer that is down has not read yet, so a week covers a long weekend and a slow fix. Dead letters wait for
#: someone to decide about them: a month (docs/operations.md, "Kafka topics").
RETENTION_MS = 7 * 24 * 3600 * 1000
DEAD_LETTER_RETENTION_MS = 30 * 24 * 3600 * 1000


def topic_configs(name: str, max_message_bytes: int, min_insync_replicas: int) -> dict[str, str]:
    """One topic's configs on Apache Kafka, as the services and deploy.topics create it."""
    retention = DEAD_LETTER_RETENTION_MS if name.endswith(".dlq") else RETENTION_MS
    return {
        "max.message.bytes": str(max_message_bytes),
        "retention.ms": str(retention),
        "min.insync.replicas": str(min_insync_replicas),
    }


#: A fetch's wait on Apache Kafka, which answers as soon as data arrives: the wait bounds only idle fetches.
KAFKA_FETCH_WAIT_MS = 500


@dataclass(frozen=True)
class BrokerKind:
    embedded: bool
    replication_factor: int
    min_insync_replicas: int

    @classmethod
    def of(cls, settings: Settings) -> BrokerKind:
        if settings.broker == "embedded":
            return cls(True, 1, 1)
        if settings.broker == "kafka-cluster":
            return cls(False, 3, 2)
        return cls(False, 1, 1)

    @property
    def idempotent(self) -> bool:
        return not self.embedded

    def topic_configs(self, settings: Settings) -> Callable[[str], dict[str, str]]:
        """Configs by topic name; the record size limit is the one producers and consumers are sized to."""
        if self.embedded:
            return lambda name: {}
        return lambda name: topic_configs(name, settings.kafka_max_message_bytes, self.min_insync_replicas)

    def fetch_waits(self, settings: Settings) -> tuple[int, int]:
        """(busy, idle) fetch wait in ms; equal: the adaptive wait is off."""
        if self.embedded:
            return settings.kafka_fetch_max_wait_ms, settings.kafka_fetch_idle_wait_ms
        wait = max(settings.kafka_fetch_max_wait_ms, KAFKA_FETCH_WAIT_MS)
        return wait, wait
