"""Every place the services reach past aiokafka's and FastStream's public API, in one module.

Both libraries are pinned in pyproject.toml for it (aiokafka 0.14, FastStream 0.7); the tests that fail when
these move are tests/unit/test_io_counters.py (the client's `send`) and the integration tests that assert
`broker_producer` finds the producer (tests/integration/test_runtime_on_real_servers.py,
test_outbox_parking_on_real_broker.py). The consumer loop (runtime/consume_loop.py) needs none of this: it
uses aiokafka's public consumer API only.

- `wrap_client_send`: aiokafka's consumers, producers and group coordinators all send through
  `AIOKafkaClient.send`; wrapped once per process to count requests by kind (runtime/io_counters.py).
- `broker_producer`: the connected AIOKafkaProducer inside a FastStream KafkaBroker, so the outbox relay
  sends record batches on the service's one producer connection (runtime/outbox.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer


def wrap_client_send(on_request: Callable[[Any], None]) -> bool:
    """Call `on_request(request)` before every request any aiokafka client of this process sends (wrapped once:
    later calls change nothing). False if aiokafka's client has no `send` we know (nothing wrapped)."""
    from aiokafka.client import AIOKafkaClient

    send = AIOKafkaClient.send
    if getattr(send, "_ata_counted", False):
        return True
    if not callable(send):
        return False

    @functools.wraps(send)
    def counted(self: Any, node_id: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        on_request(request)
        return send(self, node_id, request, *args, **kwargs)

    counted._ata_counted = True  # type: ignore[attr-defined]
    AIOKafkaClient.send = counted  # type: ignore[method-assign]
    return True


def broker_producer(broker: Any) -> AIOKafkaProducer | None:
    """The connected aiokafka producer inside a FastStream Kafka broker, or None (the test broker, a broker not
    started, or a FastStream whose internals moved: then the relay publishes through `broker.publish`, slower
    but the same records)."""
    state = getattr(getattr(getattr(broker, "config", None), "producer", None), "_producer", None)
    producer = getattr(state, "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None
