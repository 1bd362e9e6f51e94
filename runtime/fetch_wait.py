"""A consumer's fetch wait that grows while it has nothing to read, and shrinks on its first record.

Embedded broker only: on Apache Kafka, which answers a fetch as soon as data arrives, the services use one
long wait and this stays off (runtime/broker_kind.py). `poll_without_sleep` below is about FastStream and
applies on both.

tansu (the embedded broker) answers a fetch only when its wait runs out, never when data arrives,
so every consumer costs the broker and itself a fetch every `kafka_fetch_max_wait_ms` (50 ms) even
with nothing to read: ~1.2 ms of broker CPU and ~1 ms of the service's per fetch, 0.54 cores for an
idle stack of five services (bench/README.md, rounds 3 and 4). During bulk issuance the notifier and
the claims worker have nothing to consume and still fetch 20 times a second.

After `idle_after` consecutive fetches return no record, the consumer's fetches wait `idle_ms`
instead (250 ms by default); the first fetch that returns records puts the wait back to `busy_ms`. The cost: the first
message after an idle spell waits up to `idle_ms` at each idle hop; a stream of messages (every
fetch returns records) never sees it.

aiokafka 0.14 has no public knob for this: its Fetcher builds every FetchRequest from
`_fetch_max_wait_ms` and learns from `_proc_fetch_request` (True when records were added) whether
a fetch brought anything. `install` wraps that method on one consumer's Fetcher; if those internals
are not there (another aiokafka, a consumer not started) it changes nothing and the wait stays
fixed. tests/unit/test_fetch_wait.py fails loudly if they move.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any

from prometheus_client import Counter

log = logging.getLogger(__name__)


class AdaptiveFetchWait:
    """Counts one consumer's empty fetches and sets its Fetcher's wait accordingly."""

    def __init__(self, busy_ms: int, idle_ms: int, idle_after: int, switches: Counter | None = None) -> None:
        self.busy_ms = busy_ms
        self.idle_ms = idle_ms
        self.idle_after = idle_after
        self.empty = 0
        self.idle = False
        self._switches = switches
        self._fetcher: Any = None

    @property
    def enabled(self) -> bool:
        return self.idle_ms > self.busy_ms and self.idle_after > 0

    def install(self, consumer: Any) -> bool:
        """Wrap `consumer`'s Fetcher (a started AIOKafkaConsumer); False (nothing changed) if it has none we know."""
        if not self.enabled:
            return False
        fetcher = getattr(consumer, "_fetcher", None)
        proc: Callable[..., Awaitable[bool]] | None = getattr(fetcher, "_proc_fetch_request", None)
        if proc is None or not isinstance(getattr(fetcher, "_fetch_max_wait_ms", None), int):
            log.warning("aiokafka's Fetcher internals moved: the fetch wait stays fixed at %d ms", self.busy_ms)
            return False

        async def proc_fetch_request(*args: Any, **kwargs: Any) -> bool:
            added = await proc(*args, **kwargs)
            self.fetched(bool(added))
            return added

        fetcher._proc_fetch_request = proc_fetch_request
        fetcher._fetch_max_wait_ms = self.busy_ms
        self._fetcher = fetcher
        return True

    def fetched(self, added: bool) -> None:
        """One fetch came back, with records (`added`) or without."""
        if added:
            self.empty = 0
            if self.idle:
                self._set(idle=False)
            return
        self.empty += 1
        if not self.idle and self.empty >= self.idle_after:
            self._set(idle=True)

    def _set(self, *, idle: bool) -> None:
        self.idle = idle
        if self._fetcher is not None:
            # Read when the Fetcher builds its next FetchRequest (one per broker node per round).
            self._fetcher._fetch_max_wait_ms = self.idle_ms if idle else self.busy_ms
        if self._switches is not None:
            self._switches.labels("idle" if idle else "busy").inc()


#: How long one poll of a consumer's buffer may block: getmany returns as soon as records are there,
#: so this only sets how often an idle consumer's loop wakes up.
POLL_BLOCK_MS = 1000


def poll_without_sleep(subscriber: Any) -> bool:
    """Make a started FastStream batch subscriber wait for records inside aiokafka's getmany instead of
    polling: its loop calls getmany for `batch_timeout_ms` (10 ms) and, when that comes back empty,
    sleeps as long again, 50 wake-ups a second per idle service, measured 0.019 cores each (bench/README.md,
    round 4). getmany returns as soon as the Fetcher buffers records, so blocking in it for up to
    POLL_BLOCK_MS delays nothing, and not sleeping after an empty poll removes the up-to-10 ms wait a
    lone message had. Answers False (nothing changed) if the subscriber is not the one we know
    (FastStream's BatchSubscriber.get_msg, the test broker); tests/unit/test_fetch_wait.py checks it."""
    consumer = getattr(subscriber, "consumer", None)
    if consumer is None or not hasattr(consumer, "getmany") or not isinstance(getattr(subscriber, "max_records", None), int):
        return False

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        batches = await consumer.getmany(timeout_ms=POLL_BLOCK_MS, max_records=subscriber.max_records)
        return tuple(chain(*batches.values()))  # empty: FastStream's loop just polls again

    subscriber.get_msg = get_msg
    return True
